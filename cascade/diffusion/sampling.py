"""Sampling: a diffusers scheduler driven by a Denoiser, with guidance and thresholding applied on x0.

Each step: (1) paste the known frames, re-noised to the current level; (2) one network call, cond (and a
second reading of it, when composed) and uncond batched together; (3) x0 from the output, CFG, reconstruction
guidance, dynamic thresholding, known frames; (4) x0 converted back to the scheduler's parametrisation;
(5) scheduler.step.

Timestep spacing (measured in tests/test_diffusion.py's toy problems): v and x0 prediction use "trailing"
(Lin et al. 2023, Table 2): the first step is t = T-1, whose cosine SNR (2.4e-9) matches the pure-noise
start; DPM-Solver++ at 25 steps on a Gaussian oracle errs 5e-4 with it against 1.5e-2 with "leading".
epsilon prediction uses "leading" (first step t = 960 of 1000): at t = T-1, x0 = (x - sigma*eps) / alpha
divides by alpha = 5e-5, and a trained toy net then ends 10 off its target unless x0 is thresholded.
Both spacings give integer timesteps, which NoiseSchedule indexes exactly. Betas are not rescaled to
zero-terminal SNR: cosine already ends there in effect.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import logging
from typing import Any

import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler
from tqdm.auto import tqdm

from cascade.diffusion.denoiser import Denoiser, expand
from cascade.diffusion.guidance import cfg, dynamic_threshold, oscillating_scale, oscillation_warmup

log = logging.getLogger(__name__)

SAMPLERS: dict[str, type] = {
    "ddim": DDIMScheduler,  # Song et al. 2021, eta = 0 (deterministic)
    "dpmsolver++": DPMSolverMultistepScheduler,  # Lu et al. 2022, 2nd-order multistep on x0
    "euler": EulerDiscreteScheduler,  # Karras et al. 2022 (EDM), sigma space: needs scale_model_input
}


def make_sampler(name: str, denoiser: Denoiser):
    """A fresh diffusers scheduler `name`, built from the denoiser's schedule config and parametrisation."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler '{name}'; choose one of {', '.join(SAMPLERS)}")
    cls = SAMPLERS[name]
    accepted = inspect.signature(cls.__init__).parameters
    config = {k: v for k, v in denoiser.schedule.config.items() if k in accepted}  # no "ignored key" warnings
    spacing = "leading" if denoiser.prediction == "epsilon" else "trailing"  # see the module docstring
    config.update(prediction_type=denoiser.prediction_type, timestep_spacing=spacing)
    if name == "dpmsolver++":
        config.update(algorithm_type="dpmsolver++", solver_order=2)
    return cls.from_config(config)


def sample(denoiser: Denoiser, shape: tuple[int, ...], cond: dict, *, uncond: dict | None = None,
           sampler: str = "dpmsolver++", steps: int = 25, guidance: float = 1.0, oscillating: bool = False,
           dynamic_thresholding: bool = False, generator: torch.Generator | None = None, progress: bool = False,
           x_init: torch.Tensor | None = None, known: torch.Tensor | None = None,
           known_mask: torch.Tensor | None = None, reconstruction_guidance: float = 0.0,
           alt: dict | None = None, alt_weight: float = 0.0) -> torch.Tensor:
    """Draw x0 (B, C, F, H, W), float32, from the denoiser.

    cond / uncond: network kwargs; guidance != 1 needs uncond (classifier-free guidance, guidance = 1 + w).
    alt, alt_weight: a second reading of the condition (network kwargs), composed with cond as in Composable
    Diffusion (Liu et al. 2022): x0 = u + guidance * ((1 - w) (c - u) + w (a - u)), w = alt_weight; cond, alt and
    uncond run as one batched network call. alt_weight 0 ignores alt.
    x_init: the initial unit-variance noise (default: torch.randn(shape, generator=generator)).
    known, known_mask (B, C, F, H, W): frames to keep; they are pasted in at every step (replacement
    method) and, when reconstruction_guidance > 0, the rest of x0 is pulled toward them (VDM §3.1).
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if guidance != 1.0 and uncond is None:
        raise ValueError("classifier-free guidance (guidance != 1) needs `uncond` network kwargs")
    if (known is None) != (known_mask is None):
        raise ValueError("pass `known` and `known_mask` together")
    if reconstruction_guidance > 0 and known is None:
        raise ValueError("reconstruction guidance needs `known` and `known_mask`")
    if not 0.0 <= alt_weight <= 1.0:
        raise ValueError(f"alt_weight must lie in [0, 1], got {alt_weight}")
    if alt_weight > 0 and alt is None:
        raise ValueError("alt_weight > 0 needs `alt` network kwargs")
    device, dtype = _device_dtype(denoiser)
    b = shape[0]
    gen_device = generator.device if generator is not None else device

    # 1. scheduler and initial noise
    scheduler = make_sampler(sampler, denoiser)
    scheduler.set_timesteps(steps, device=device)
    if x_init is None:
        x_init = torch.randn(shape, generator=generator, device=gen_device)
    x = x_init.to(device, torch.float32) * scheduler.init_noise_sigma  # (B, C, F, H, W) in scheduler space
    mask = None
    if known is not None:
        known = known.to(device, torch.float32)
        mask = _as_bool(known_mask).to(device).expand_as(x)
    readings = [cond] + ([alt] if alt_weight > 0 else [])  # the conditional network kwargs, composed below
    weights = [1.0 - alt_weight, alt_weight][:len(readings)]
    conds = _batch_cond(readings, b)
    with_uncond = _batch_cond(readings + [uncond], b) if uncond is not None and guidance != 1.0 else None
    warmup = oscillation_warmup(steps)
    log.debug("sampling %s with %s, %d steps, guidance %g", tuple(shape), sampler, steps, guidance)

    # 2. denoising loop
    for i, t in enumerate(tqdm(scheduler.timesteps, desc=f"{sampler} sampling", disable=not progress, leave=False)):
        tb = t.expand(b)  # (B,)
        scale = oscillating_scale(i, guidance, warmup_steps=warmup) if oscillating else guidance
        if known is not None:
            # VDM §3.1 replacement method: known frames re-noised to this step's level
            eps = torch.randn(shape, generator=generator, device=gen_device).to(device)
            c = _input_scale(scheduler, t, device)  # scheduler space -> variance-preserving z_t
            x = torch.where(mask, denoiser.q_sample(known, tb, eps) / c, x)
        x_in = scheduler.scale_model_input(x, t)  # (B, C, F, H, W) z_t = alpha*x0 + sigma*eps
        guide = functools.partial(_guided_x0, denoiser, t=tb, conds=conds, with_uncond=with_uncond,
                                  weights=weights, scale=scale, dtype=dtype)
        if reconstruction_guidance > 0:
            x0 = _reconstruction_guided(guide, denoiser, x_in, tb, known, mask, reconstruction_guidance)
        else:
            x0 = guide(x_in)
        if dynamic_thresholding:
            x0 = dynamic_threshold(x0)  # Imagen §2.3
        if known is not None:
            x0 = torch.where(mask, known, x0)
        out = denoiser.output_from_x0(x_in, tb, x0)  # back to the scheduler's parametrisation
        x = scheduler.step(out, t, x).prev_sample

    # 3. the last x0 (known frames exact): DPM-Solver++ and Euler end at sigma 0, where x == x0, but DDIM's
    # trailing steps end at t = 0 (sigma 0.006) when steps does not divide T, so x itself is not returned
    return x0


def _guided_x0(denoiser: Denoiser, x_in: torch.Tensor, t: torch.Tensor, conds: dict, with_uncond: dict | None,
               weights: list[float], scale: float, dtype: torch.dtype) -> torch.Tensor:
    """x0 after classifier-free guidance in ONE network call. `conds`: the network kwargs of each conditional
    reading concatenated along the batch; `with_uncond`: the same followed by the unconditional kwargs (None when
    unguided). The readings' x0 are mixed with `weights`; mixing is linear, so with guidance this is Composable
    Diffusion's u + scale * sum_i w_i (c_i - u)."""
    guided = with_uncond is not None and scale != 1.0  # an oscillating weight of 1 skips the uncond half
    batched, k = (with_uncond, len(weights) + 1) if guided else (conds, len(weights))
    with torch.set_grad_enabled(x_in.requires_grad):  # only reconstruction guidance needs a graph
        xk, tk = torch.cat([x_in] * k), torch.cat([t] * k)  # (kB, C, F, H, W)
        out = denoiser(xk.to(dtype), tk, **batched).float()
        x0s = denoiser.predict_x0(xk, tk, out).chunk(k)
        x0_cond = x0s[0] if len(weights) == 1 else sum(w * x for w, x in zip(weights, x0s))  # (B, C, F, H, W)
        return cfg(x0_cond, x0s[-1], scale) if guided else x0_cond  # Ho & Salimans 2022, on x0


def _reconstruction_guided(guide, denoiser: Denoiser, x_in: torch.Tensor, t: torch.Tensor, known: torch.Tensor,
                           mask: torch.Tensor, weight: float) -> torch.Tensor:
    """VDM §3.1: x0_b -= (w_r * alpha_t / 2) * grad_{z_t} ||known_a - x0_a||², on the unknown part b."""
    with torch.enable_grad():
        z = x_in.detach().requires_grad_(True)
        x0 = guide(z)
        err = ((x0 - known) ** 2 * mask).sum()
        (grad,) = torch.autograd.grad(err, z)
    alpha, _ = denoiser.schedule.alpha_sigma(t)
    return x0.detach() - (weight / 2) * expand(alpha, x0) * torch.where(mask, torch.zeros_like(grad), grad)


def _batch_cond(readings: list[dict], b: int) -> dict[str, Any]:
    """Network kwargs of several readings (cond first, uncond last) concatenated along the batch; a missing bool
    flag is False."""
    out = {}
    for k in dict.fromkeys(itertools.chain.from_iterable(readings)):
        vals = [r.get(k) for r in readings]
        if all(v is None for v in vals):
            out[k] = None
            continue
        if any(v is None for v in vals):
            present = next(v for v in vals if v is not None)
            if not (torch.is_tensor(present) and present.dtype == torch.bool):
                raise ValueError(f"network kwarg '{k}' is given for only some of cond, alt and uncond")
            vals = [v if v is not None else torch.zeros_like(present) for v in vals]  # text_drop absent: not dropped
        if all(torch.is_tensor(v) and v.ndim > 0 and v.shape[0] == b for v in vals):
            out[k] = torch.cat(vals)
        elif all(v is vals[0] or (not torch.is_tensor(v) and v == vals[0]) for v in vals):
            out[k] = vals[0]  # shared, not per-sample
        else:
            raise ValueError(f"network kwarg '{k}' must have batch size {b} in every reading to be batched")
    return out


def _input_scale(scheduler, t: torch.Tensor, device: torch.device) -> float:
    """c with scale_model_input(x) = c * x: 1 for DDIM / DPM-Solver, 1/sqrt(sigma²+1) for Euler."""
    return float(scheduler.scale_model_input(torch.ones(1, device=device), t))


def _as_bool(mask: torch.Tensor) -> torch.Tensor:
    return mask if mask.dtype == torch.bool else mask > 0.5


def _device_dtype(module: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where the network lives and the floating dtype it computes in (CPU float32 if it has no tensors)."""
    for p in itertools.chain(module.parameters(), module.buffers()):
        if p.is_floating_point():
            return p.device, p.dtype
    return torch.device("cpu"), torch.float32
