"""The temporal-mixer contract: (B, C, F, H, W) in and out, image samples passed through untouched."""

from __future__ import annotations

import torch
from torch import nn


class TemporalMixer(nn.Module):
    """Mixes information across frames. Subclasses implement `mix`; `forward` adds the image bypass.

    `image_mask` (B,) bool marks samples that are F independent images (VDM §3: joint image-video training);
    their output equals their input exactly.
    """

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, image_mask: torch.Tensor | None = None) -> torch.Tensor:
        out = self.mix(x)  # (B, C, F, H, W)
        if image_mask is None:
            return out
        keep = image_mask.to(device=x.device, dtype=torch.bool).view(-1, 1, 1, 1, 1)
        return torch.where(keep, x, out)
