"""`shift` (Latent-Shift): parameter-free temporal shift of two channel slices."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cascade.nn.mixers import register_mixer
from cascade.nn.mixers.base import TemporalMixer


@register_mixer("shift")
class ShiftMixer(TemporalMixer):
    """Latent-Shift §3.2: `fraction` of the channels move one frame forward (frame t gets t-1), as many one
    frame back (frame t gets t+1), zero padded at the clip ends; the rest stay. No parameters."""

    def __init__(self, channels: int, fraction: float = 1 / 8):
        super().__init__()
        self.n = max(1, int(channels * fraction))
        if not 0 < fraction <= 0.5 or 2 * self.n > channels:
            raise ValueError(f"shift fraction {fraction} of {channels} channels must leave two slices of at "
                             f"least one channel each; pick a fraction in (0, 0.5]")

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        n = self.n  # x: (B, C, F, H, W)
        forward = F.pad(x[:, :n, :-1], (0, 0, 0, 0, 1, 0))  # frame t <- frame t-1
        backward = F.pad(x[:, n:2 * n, 1:], (0, 0, 0, 0, 0, 1))  # frame t <- frame t+1
        return torch.cat([forward, backward, x[:, 2 * n:]], dim=1)
