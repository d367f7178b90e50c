"""Pixel metrics on (B, C, F, H, W) videos in [-1, 1]: PSNR, SSIM, temporal change, flicker, background noise."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cascade.video_ops import psnr  # noqa: F401  (part of this module's metrics)
from cascade.video_ops import unit_range as _unit


def ssim(x: torch.Tensor, ref: torch.Tensor, *, mask: torch.Tensor | None = None) -> float:
    """Mean SSIM over frames (Wang et al. 2004; 7x7 uniform window, on the [0, 1] scale)."""
    x, ref = _unit(x), _unit(ref)
    if mask is not None:
        x, ref = x[:, :, mask], ref[:, :, mask]
    b, c, f, h, w = x.shape
    x = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)  # (B*F, C, H, W)
    ref = ref.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
    k = min(7, h, w)
    mu_x, mu_y = F.avg_pool2d(x, k, 1), F.avg_pool2d(ref, k, 1)
    sxx = F.avg_pool2d(x * x, k, 1) - mu_x ** 2
    syy = F.avg_pool2d(ref * ref, k, 1) - mu_y ** 2
    sxy = F.avg_pool2d(x * ref, k, 1) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (sxx + syy + c2))
    return float(s.mean())


def temporal_change(x: torch.Tensor) -> float:
    """Mean absolute frame-to-frame change on the [0, 1] scale."""
    x = _unit(x)
    return float((x[:, :, 1:] - x[:, :, :-1]).abs().mean())


def flicker(x: torch.Tensor) -> float:
    """Mean |second temporal difference| of the per-frame mean brightness: global flashing between frames,
    which smooth object motion barely changes."""
    m = _unit(x).mean(dim=(1, 3, 4))  # (B, F)
    if m.shape[1] < 3:
        return 0.0
    return float((m[:, 2:] - 2 * m[:, 1:-1] + m[:, :-2]).abs().mean())


def background_noise(x: torch.Tensor, *, tol: int = 60) -> float:
    """Mean |pixel - the clip's background colour| on the 0-255 scale, over the pixels within `tol` (summed over
    RGB) of that colour, taken as the clip's per-channel median (the object covers a minority of pixels): the
    grain a sampler leaves on a flat background, 0 for a clean one; objects are excluded."""
    x = _unit(x) * 255
    ref = x.flatten(2).median(dim=2).values[:, :, None, None, None]  # (B, 3, 1, 1, 1)
    err = (x - ref).abs()  # (B, 3, F, H, W)
    near = err.sum(1) < tol  # (B, F, H, W)
    return float(err.mean(1)[near].mean()) if near.any() else float("nan")


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(Ca + Cb - 2 (Ca Cb)^1/2) between Gaussian fits of two feature sets (N, D)."""
    if min(len(a), len(b)) < 2:
        raise ValueError(f"a Fréchet distance needs at least 2 samples a side, got {len(a)} and {len(b)}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # (Ca Cb)^1/2 through the symmetric form Ca^1/2 Cb Ca^1/2, whose eigenvalues are real and >= 0
    w, v = np.linalg.eigh(ca)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sqrt_a @ cb @ sqrt_a
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr_sqrt)
