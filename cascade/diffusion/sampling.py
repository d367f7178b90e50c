"""Sampling: a diffusers scheduler stepped with the x0 of a guided model (cascade.diffusion.guidance wrappers).

Each step: (1) z_t in variance-preserving form (scale_model_input); (2) x0 = model(z_t, t, step), where the
wrappers do guidance, thresholding and known frames; (3) x0 converted back to the scheduler's parametrisation;
(4) scheduler.step. Every scheduler step is elementwise, so a wrapper that replaces part of z_t (known frames)
leaves the rest of the trajectory exactly as if the loop had replaced it.

Timestep spacing (measured in tests/test_diffusion.py's toy problems): v and x0 prediction use "trailing"
(Lin et al. 2023, Table 2): the first step is t = T-1, whose cosine SNR (2.4e-9) matches the pure-noise
start; DPM-Solver++ at 25 steps on a Gaussian oracle errs 5e-4 with it against 1.5e-2 with "leading".
epsilon prediction uses "leading" (first step t = 960 of 1000): at t = T-1, x0 = (x - sigma*eps) / alpha
divides by alpha = 5e-5, and a trained toy net then ends 10 off its target unless x0 is thresholded.
Both spacings give integer timesteps, which NoiseSchedule indexes exactly. Betas are not rescaled to
zero-terminal SNR: cosine already ends there in effect.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from typing import Callable

import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler
from tqdm.auto import tqdm

from cascade.diffusion.denoiser import Denoiser

log = logging.getLogger(__name__)

SAMPLERS: dict[str, type] = {
    "ddim": DDIMScheduler,  # Song et al. 2021, eta = 0 (deterministic)
    "dpmsolver++": DPMSolverMultistepScheduler,  # Lu et al. 2022, 2nd-order multistep on x0
    "euler": EulerDiscreteScheduler,  # Karras et al. 2022 (EDM), sigma space: needs scale_model_input
}

Model = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]  # (z_t, t, step) -> x0


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


def sample(model: Model, denoiser: Denoiser, shape: tuple[int, ...], *, sampler: str = "dpmsolver++",
           steps: int = 25, generator: torch.Generator | None = None, progress: bool = False,
           device: torch.device | str | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Draw x0 (B, C, F, H, W), float32: start from unit noise (`noise`, else drawn from `generator`), step `sampler` `steps` times
    with the x0 that `model` (a denoiser wrapped in guidance) predicts. `denoiser` converts x0 to the scheduler's
    parametrisation."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    b = shape[0]
    device = device if device is not None else network_device_dtype(denoiser)[0]
    gen_device = generator.device if generator is not None else device

    # 1. scheduler and initial noise
    scheduler = make_sampler(sampler, denoiser)
    scheduler.set_timesteps(steps, device=device)
    if noise is None:
        noise = torch.randn(shape, generator=generator, device=gen_device)
    x = noise.to(device, torch.float32)
    x = x * scheduler.init_noise_sigma  # (B, C, F, H, W) in scheduler space
    log.debug("sampling %s with %s, %d steps", tuple(shape), sampler, steps)

    # 2. denoising loop
    x0 = x
    for i, t in enumerate(tqdm(scheduler.timesteps, desc=f"{sampler} sampling", disable=not progress, leave=False)):
        tb = t.expand(b)  # (B,)
        x_in = scheduler.scale_model_input(x, t)  # (B, C, F, H, W) z_t = alpha*x0 + sigma*eps
        x0 = model(x_in, tb, i)
        out = denoiser.output_from_x0(x_in, tb, x0)  # back to the scheduler's parametrisation
        x = scheduler.step(out, t, x).prev_sample

    # 3. the last x0 (known frames exact): DPM-Solver++ and Euler end at sigma 0, where x == x0, but DDIM's
    # trailing steps end at t = 0 (sigma 0.006) when steps does not divide T, so x itself is not returned
    return x0


def network_device_dtype(module: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where a network lives and the floating dtype it computes in (CPU float32 if it has no tensors)."""
    for p in itertools.chain(module.parameters(), module.buffers()):
        if p.is_floating_point():
            return p.device, p.dtype
    return torch.device("cpu"), torch.float32
