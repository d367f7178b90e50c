"""Sampling-time guidance on x0: classifier-free guidance, oscillating weights, dynamic thresholding."""

from __future__ import annotations

import math

import torch

OSCILLATION_WARMUP = 0.1  # fraction of steps held at the high weight before oscillating (our choice; unstated in the paper)


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
    """How many initial steps hold the high weight when `sample(..., oscillating=True)`."""
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
