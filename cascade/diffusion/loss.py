"""The training loss: per-sample MSE in the denoiser's parametrisation, with min-SNR-γ weighting."""

from __future__ import annotations

import torch

from cascade.diffusion.denoiser import Denoiser


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over every non-batch dim, (B, ...) -> (B,); with a mask, over the True/weighted elements only."""
    dims = tuple(range(1, x.ndim))
    if mask is None:
        return x.mean(dim=dims)
    mask = mask.to(x.dtype).expand_as(x)
    return (x * mask).sum(dim=dims) / mask.sum(dim=dims).clamp_min(1e-8)


def min_snr_weight(snr: torch.Tensor, gamma: float, prediction: str) -> torch.Tensor:
    """Min-SNR-γ loss weight (Hang et al. 2023): min(snr, γ) as an x0-loss weight, in the output's units.

    v: min(snr, γ) / (snr + 1); eps: min(snr, γ) / snr = min(1, γ / snr); x0: min(snr, γ).
    All finite for snr in [0, inf).
    """
    snr = snr.double()
    if prediction == "v":
        w = snr.clamp(max=gamma) / (snr + 1)
    elif prediction == "epsilon":
        w = (gamma / snr).clamp(max=1.0)  # gamma / 0 = inf -> 1
    elif prediction == "sample":
        w = snr.clamp(max=gamma)
    else:
        raise ValueError(f"unknown prediction '{prediction}'")
    return w.float()


def diffusion_loss(denoiser: Denoiser, x0: torch.Tensor, cond: dict, *, generator: torch.Generator,
                   min_snr_gamma: float | None = 5.0, t: torch.Tensor | None = None,
                   noise: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample loss (B,) for clean x0 (B, C, F, H, W); t and noise drawn from `generator` unless given."""
    b = x0.shape[0]
    gen_device = generator.device if generator is not None else x0.device
    if t is None:
        t = torch.randint(0, denoiser.num_train_timesteps, (b,), generator=generator, device=gen_device)
    t = t.to(x0.device)  # (B,) uniform over the training timesteps
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, device=gen_device, dtype=x0.dtype)
    noise = noise.to(x0.device, x0.dtype)  # (B, C, F, H, W)
    x_t = denoiser.q_sample(x0, t, noise)
    out = denoiser(x_t, t, **cond)  # (B, C, F, H, W)
    target = denoiser.target(x0, noise, t)
    loss = masked_mean((out.float() - target.float()) ** 2)  # (B,)
    if min_snr_gamma is not None:
        loss = loss * min_snr_weight(denoiser.schedule.snr(t), min_snr_gamma, denoiser.prediction)
    return loss
