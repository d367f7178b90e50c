"""Tensor operations on (B, C, F, H, W) videos shared by stages: resampling in time and space."""

from __future__ import annotations

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
