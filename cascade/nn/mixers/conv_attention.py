"""`conv_attention` (ModelScope T2V): a residual temporal conv, then residual temporal attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cascade.nn.attention import TemporalAttention
from cascade.nn.layers import TemporalConv, group_norm
from cascade.nn.mixers import register_mixer
from cascade.nn.mixers.base import TemporalMixer


@register_mixer("conv_attention")
class ConvAttentionMixer(TemporalMixer):
    """ModelScope T2V §3: x + Conv1D(SiLU(GN(x))) over frames, then x + TemporalAttn(x)."""

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 64, backend: str = "sdpa"):
        super().__init__()
        self.norm = group_norm(channels)
        self.conv = TemporalConv(channels)
        self.attn = TemporalAttention(channels, heads, max_frames, backend=backend)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.conv(F.silu(self.norm(x)))  # (B, C, F, H, W)
        return self.attn(x)
