"""`pseudo3d` (Make-A-Video): identity-initialised temporal conv plus zero-output temporal attention."""

from __future__ import annotations

import torch

from cascade.nn.attention import TemporalAttention
from cascade.nn.layers import TemporalConv
from cascade.nn.mixers import register_mixer
from cascade.nn.mixers.base import TemporalMixer


@register_mixer("pseudo3d")
class Pseudo3DMixer(TemporalMixer):
    """Make-A-Video §3.2: Conv1D over frames (identity init) after the spatial convs, then temporal attention
    whose output projection is zero-initialised; at init the whole block is exactly the identity."""

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 64, backend: str = "sdpa"):
        super().__init__()
        self.conv = TemporalConv(channels, identity_init=True)
        self.attn = TemporalAttention(channels, heads, max_frames, zero_out=True, backend=backend)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.conv(x))  # (B, C, F, H, W)
