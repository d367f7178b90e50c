"""Noise-conditioning augmentation of an SR stage's low-resolution input (Imagen Video §2.5; Ho et al. 2021 CDM)."""

from __future__ import annotations

import functools

import torch

from cascade.diffusion.denoiser import expand
from cascade.diffusion.schedule import NoiseSchedule, make_scheduler_config


@functools.lru_cache(maxsize=1)
def default_augment_schedule() -> NoiseSchedule:
    """The cosine, T=1000 schedule augmentation levels refer to unless a stage passes its own."""
    return NoiseSchedule(make_scheduler_config("cosine", 1000, "v"))


def noise_augment(x: torch.Tensor, level: float | torch.Tensor, generator: torch.Generator | None = None,
                  *, schedule: NoiseSchedule | None = None) -> torch.Tensor:
    """x_aug = alpha_t * x + sigma_t * eps at t = round(level * (T-1)); level 0 returns x unchanged.

    x: (B, ...); level: a float or (B,) in [0, 1]. The same level is given to the network as `aug_level`,
    fixed at sampling time (Imagen Video §2.5).
    """
    schedule = schedule or default_augment_schedule()
    level = torch.as_tensor(level, dtype=torch.float32, device=x.device).expand(x.shape[0])  # (B,)
    if (level < 0).any() or (level > 1).any():
        raise ValueError("noise augmentation levels must lie in [0, 1]")
    gen_device = generator.device if generator is not None else x.device
    eps = torch.randn(x.shape, generator=generator, device=gen_device, dtype=x.dtype).to(x.device)
    t = (level * (schedule.num_train_timesteps - 1)).round().long()
    alpha, sigma = schedule.alpha_sigma(t)
    noisy = expand(alpha, x) * x + expand(sigma, x) * eps
    return torch.where(expand(level, x) > 0, noisy, x)  # level 0: the clean conditioning, exactly


def sample_aug_level(batch: int, max_level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training levels (B,) uniform in [0, max_level] (Imagen Video §2.5), on the generator's device."""
    if not 0.0 <= max_level <= 1.0:
        raise ValueError(f"max_level must be in [0, 1], got {max_level}")
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(batch, generator=generator, device=device) * max_level


def frame_jitter(x: torch.Tensor, max_std: float, generator: torch.Generator | None = None, *,
                 grid: int = 4) -> torch.Tensor:
    """Independent low-frequency colour wobble per frame: the flicker a base stage leaves between frames.

    x: (B, C, F, H, W). Each frame and channel gets a constant offset plus a smooth field (a `grid` x `grid`
    Gaussian field, bilinearly upsampled), both with standard deviation s, s uniform in [0, max_std] per
    sample. A temporal stage trained to map jittered inputs to the real clip learns to remove such flicker
    (the aim of Video LDM's temporally fine-tuned decoder); max_std 0 returns x unchanged.
    """
    if max_std < 0:
        raise ValueError(f"max_std must be >= 0, got {max_std}")
    if max_std == 0:
        return x
    b, c, f, h, w = x.shape
    device = generator.device if generator is not None else x.device
    std = torch.rand(b, generator=generator, device=device) * max_std  # (B,)
    offset = torch.randn(b, c, f, 1, 1, generator=generator, device=device)
    field = torch.randn(b * f, c, grid, grid, generator=generator, device=device)
    field = torch.nn.functional.interpolate(field, size=(h, w), mode="bilinear", align_corners=False)
    field = field.view(b, f, c, h, w).transpose(1, 2)  # (B, C, F, H, W)
    jitter = (offset + field) * std.view(b, 1, 1, 1, 1)
    return x + jitter.to(x.device, x.dtype)
