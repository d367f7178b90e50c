"""Sampling-time guidance on x0: classifier-free guidance, oscillating weights, dynamic thresholding, known frames
and reconstruction guidance, each a wrapper around the denoiser."""

from __future__ import annotations

import math

import torch

OSCILLATION_WARMUP = 0.1  # fraction of steps held at the high weight before oscillating (the paper does not state one)


def cfg(cond_out: torch.Tensor, uncond_out: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022): uncond + scale * (cond - uncond); scale 1 returns cond."""
    return cond_out + (scale - 1.0) * (cond_out - uncond_out)


def oscillating_scale(step: int, scale: float, low: float = 1.0, *, warmup_steps: int = 0) -> float:
    """Imagen Video §2.6.2 oscillating guidance: the guidance weight at sampling step `step` (0 = noisiest).

    Steps [0, warmup_steps) use the constant high weight `scale`; from then on the weight alternates,
    starting high: scale, low, scale, low, ... (the paper alternates e.g. 15 and 1).
    """
    if step < warmup_steps:
        return scale
    return scale if (step - warmup_steps) % 2 == 0 else low


def oscillation_warmup(steps: int) -> int:
    """How many initial steps hold the high weight before oscillating guidance alternates."""
    return math.ceil(OSCILLATION_WARMUP * steps)


def dynamic_threshold(x0: torch.Tensor, percentile: float = 0.995) -> torch.Tensor:
    """Imagen §2.3 dynamic thresholding: s = max(1, quantile(|x0|, p)) per sample; clamp to [-s, s], divide by s.

    The quantile is the "higher" order statistic (as torch.quantile(..., interpolation="higher")), taken
    with kthvalue so it works on tensors of any size.
    """
    if not 0.0 < percentile <= 1.0:
        raise ValueError(f"percentile must be in (0, 1], got {percentile}")
    flat = x0.detach().abs().flatten(1).float()  # (B, N)
    n = flat.shape[1]
    k = min(n, math.ceil(percentile * (n - 1)) + 1)
    s = flat.kthvalue(k, dim=1).values.clamp(min=1.0)  # (B,)
    s = s.to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
    return torch.maximum(torch.minimum(x0, s), -s) / s


# -- guidance as wrappers around the denoiser (k-diffusion style) ---------------------------------------------
# Each is a callable model(x, t, step) -> x0 for variance-preserving z_t = alpha*x0 + sigma*eps (B, C, F, H, W),
# t (B,), and the sampling step index; the sampler only steps the scheduler between calls.


class Conditioned:
    """x0 from one conditioned network call, or classifier-free guidance with cond and uncond batched in one call
    (Ho & Salimans 2022, on x0). `scale` is the guidance weight (1: no guidance); `oscillate_after` >= 0 turns on
    Imagen Video's oscillating weights after that many steps at the high weight (§2.6.2)."""

    def __init__(self, denoiser, cond: dict, uncond: dict | None = None, *, scale: float = 1.0,
                 oscillate_after: int | None = None, dtype: torch.dtype = torch.float32):
        if scale != 1.0 and uncond is None:
            raise ValueError("classifier-free guidance (scale != 1) needs `uncond` network kwargs")
        self.denoiser, self.scale, self.oscillate_after, self.dtype = denoiser, scale, oscillate_after, dtype
        self.cond, self.uncond = cond, (uncond if scale != 1.0 else None)
        self.both: dict | None = None  # cond and uncond kwargs batched, made at the first call

    def __call__(self, x: torch.Tensor, t: torch.Tensor, step: int) -> torch.Tensor:
        scale = self.scale
        if self.oscillate_after is not None:
            scale = oscillating_scale(step, scale, warmup_steps=self.oscillate_after)
        guided = self.uncond is not None and scale != 1.0  # an oscillating weight of 1 skips the uncond half
        if guided and self.both is None:
            self.both = batch_kwargs([self.cond, self.uncond], x.shape[0])
        k, kwargs = (2, self.both) if guided else (1, self.cond)
        with torch.set_grad_enabled(x.requires_grad):  # only reconstruction guidance needs a graph
            xk, tk = torch.cat([x] * k), torch.cat([t] * k)  # (kB, C, F, H, W)
            out = self.denoiser(xk.to(self.dtype), tk, **kwargs).float()
            x0s = self.denoiser.predict_x0(xk, tk, out).chunk(k)
            return cfg(x0s[0], x0s[1], scale) if guided else x0s[0]


class Thresholded:
    """Imagen §2.3 dynamic thresholding of the inner model's x0."""

    def __init__(self, inner, percentile: float = 0.995):
        self.inner, self.percentile = inner, percentile

    def __call__(self, x, t, step):
        return dynamic_threshold(self.inner(x, t, step), self.percentile)


class KnownFrames:
    """VDM §3.1 replacement method: the known part of z_t is the known frames re-noised to this step's level
    (fresh noise from `generator` every step), and x0 keeps them exactly (Make-A-Video masked interpolation)."""

    def __init__(self, inner, denoiser, known: torch.Tensor, known_mask: torch.Tensor,
                 generator: torch.Generator | None = None):
        self.inner, self.denoiser, self.generator = inner, denoiser, generator
        self.known, self.mask = known.float(), bool_mask(known_mask, known)

    def __call__(self, x, t, step):
        gen_device = self.generator.device if self.generator is not None else x.device
        eps = torch.randn(x.shape, generator=self.generator, device=gen_device).to(x.device)
        known, mask = self.known.to(x.device), self.mask.to(x.device)
        x = torch.where(mask, self.denoiser.q_sample(known, t, eps), x)
        return torch.where(mask, known, self.inner(x, t, step))


class ReconstructionGuided:
    """VDM §3.1 reconstruction guidance: x0_b -= (w_r * alpha_t / 2) * grad_{z_t} ||known_a - x0_a||² on the
    unknown part b, pulling the new frames toward agreement with the known ones. Wrap it in KnownFrames."""

    def __init__(self, inner, denoiser, known: torch.Tensor, known_mask: torch.Tensor, weight: float):
        if weight <= 0:
            raise ValueError(f"the reconstruction guidance weight must be positive, got {weight}")
        self.inner, self.denoiser, self.weight = inner, denoiser, weight
        self.known, self.mask = known.float(), bool_mask(known_mask, known)

    def __call__(self, x, t, step):
        known, mask = self.known.to(x.device), self.mask.to(x.device)
        with torch.enable_grad():
            z = x.detach().requires_grad_(True)
            x0 = self.inner(z, t, step)
            (grad,) = torch.autograd.grad(((x0 - known) ** 2 * mask).sum(), z)
        alpha, _ = self.denoiser.schedule.alpha_sigma(t)
        alpha = alpha.to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
        return x0.detach() - (self.weight / 2) * alpha * torch.where(mask, torch.zeros_like(grad), grad)


def bool_mask(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A known-frame mask as bool, broadcast to `like` (B, C, F, H, W)."""
    return (mask if mask.dtype == torch.bool else mask > 0.5).expand_as(like)


def batch_kwargs(readings: list[dict], b: int) -> dict:
    """Network kwargs of several readings (cond first, uncond last) concatenated along the batch; a bool flag that
    only some readings set (text_drop) is False in the others; a value shared by all is passed once."""
    out = {}
    for k in dict.fromkeys(key for r in readings for key in r):
        vals = [r.get(k) for r in readings]
        if all(v is None for v in vals):
            out[k] = None
            continue
        if any(v is None for v in vals):
            present = next(v for v in vals if v is not None)
            if not (torch.is_tensor(present) and present.dtype == torch.bool):
                raise ValueError(f"network kwarg '{k}' is given for only some of the readings")
            vals = [v if v is not None else torch.zeros_like(present) for v in vals]  # text_drop absent: kept
        if all(torch.is_tensor(v) and v.ndim > 0 and v.shape[0] == b for v in vals):
            out[k] = torch.cat(vals)
        elif all(v is vals[0] or (not torch.is_tensor(v) and v == vals[0]) for v in vals):
            out[k] = vals[0]  # shared, not per-sample
        else:
            raise ValueError(f"network kwarg '{k}' must have batch size {b} in every reading to be batched")
    return out
