"""`attention` (Video Diffusion Models): temporal self-attention over frames with relative position bias."""

from __future__ import annotations

import torch

from cascade.nn.attention import TemporalAttention
from cascade.nn.mixers import register_mixer
from cascade.nn.mixers.base import TemporalMixer


@register_mixer("attention")
class AttentionMixer(TemporalMixer):
    """VDM §3: x + TemporalAttn(x), each pixel attending over the frames, with a learned relative bias."""

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 64, backend: str = "sdpa"):
        super().__init__()
        self.attn = TemporalAttention(channels, heads, max_frames, backend=backend)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x)  # (B, C, F, H, W)
