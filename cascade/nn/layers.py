"""Small layers shared by the U-Net and the mixers: GroupNorm sizing, frame folding, the temporal conv."""

from __future__ import annotations

import torch
from torch import nn


def group_norm(channels: int, max_groups: int = 32) -> nn.GroupNorm:
    """GroupNorm with the most groups (<= 32) that divide `channels`."""
    groups = next(g for g in range(min(max_groups, channels), 0, -1) if channels % g == 0)
    return nn.GroupNorm(groups, channels, eps=1e-5)


def fold_frames(x: torch.Tensor) -> torch.Tensor:
    """(B, C, F, H, W) -> (B*F, C, H, W): frames into the batch for per-frame 2D ops."""
    b, c, f, h, w = x.shape
    return x.transpose(1, 2).reshape(b * f, c, h, w)


def unfold_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """(B*F, C, H, W) -> (B, C, F, H, W) (a view)."""
    bf, c, h, w = x.shape
    return x.view(bf // frames, frames, c, h, w).transpose(1, 2)


class TemporalConv(nn.Module):
    """1D convolution over frames at each pixel (a 3x1x1 3D conv), zero padded at the clip ends.

    `identity_init`: centre tap = identity, other taps and bias 0 (Make-A-Video §3.2), so it starts as a no-op.
    """

    def __init__(self, channels: int, kernel: int = 3, identity_init: bool = False):
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, (kernel, 1, 1), padding=(kernel // 2, 0, 0))
        if identity_init:
            nn.init.zeros_(self.conv.weight), nn.init.zeros_(self.conv.bias)
            with torch.no_grad():
                self.conv.weight[:, :, kernel // 2, 0, 0] = torch.eye(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # (B, C, F, H, W)
