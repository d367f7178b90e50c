"""Tensor operations on (B, C, F, H, W) videos shared by stages: resampling in time and space, PSNR."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def interpolate_frames(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Linear frame interpolation: F frames -> F*factor frames; the last known frame is held at the end.

    Known frame i lands at output index i*factor (the convention every temporal_sr mode shares).
    """
    b, c, f, h, w = x.shape  # (B, C, F, H, W)
    pos = torch.arange(f * factor, device=x.device, dtype=torch.float32) / factor  # position in input frames
    lo = pos.floor().long().clamp(max=f - 1)
    hi = (lo + 1).clamp(max=f - 1)
    frac = (pos - lo.float()).to(x.dtype).view(1, 1, -1, 1, 1)
    return x[:, :, lo] * (1 - frac) + x[:, :, hi] * frac


def known_frame_mask(frames_in: int, factor: int, *, device=None) -> torch.Tensor:
    """(F*factor,) bool: True where an output frame is a copy of an input frame."""
    mask = torch.zeros(frames_in * factor, dtype=torch.bool, device=device)
    mask[::factor] = True
    return mask


def resize_frames(x: torch.Tensor, height: int, width: int, mode: str = "bicubic") -> torch.Tensor:
    """Resize every frame of (B, C, F, H, W); antialiased when shrinking."""
    b, c, f, h, w = x.shape
    frames = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)  # (B*F, C, H, W)
    shrink = height < h or width < w
    kw = {"antialias": True} if shrink and mode in ("bilinear", "bicubic") else {}
    if mode in ("bilinear", "bicubic"):
        kw["align_corners"] = False
    out = F.interpolate(frames, size=(height, width), mode=mode, **kw)
    return out.reshape(b, f, c, height, width).permute(0, 2, 1, 3, 4)


def subsample_frames(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Keep every `factor`-th frame: the inverse of the known-frame convention above."""
    return x[:, :, ::factor]


def psnr(x: torch.Tensor, ref: torch.Tensor, *, mask: torch.Tensor | None = None) -> float:
    """PSNR in dB on the [0, 1] scale; `mask` (F,) bool restricts it to some frames."""
    x, ref = unit_range(x), unit_range(ref)
    if mask is not None:
        x, ref = x[:, :, mask], ref[:, :, mask]
    mse = ((x - ref) ** 2).flatten(1).mean(1).clamp(min=1e-10)  # per clip
    return float((10 * torch.log10(1.0 / mse)).mean())


def unit_range(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], detached float, clamped."""
    return ((x.detach().float() + 1) / 2).clamp(0, 1)


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> float32 (3, F, H, W) in [-1, 1]; a batch (B, F, H, W, 3) -> (B, 3, F, H, W)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).movedim(-1, -4)  # channels before frames
    return x.float() / 127.5 - 1.0
