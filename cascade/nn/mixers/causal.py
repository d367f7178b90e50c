"""`causal` (MagicVideo): directed temporal attention, frame t attends only to frames <= t."""

from __future__ import annotations

import torch

from cascade.nn.attention import TemporalAttention
from cascade.nn.mixers import register_mixer
from cascade.nn.mixers.base import TemporalMixer


@register_mixer("causal")
class CausalMixer(TemporalMixer):
    """MagicVideo §3.2: x + DirectedTemporalAttn(x) with a causal mask and a relative frame-position bias."""

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 64, backend: str = "sdpa"):
        super().__init__()
        self.attn = TemporalAttention(channels, heads, max_frames, causal=True, backend=backend)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x)  # (B, C, F, H, W)
