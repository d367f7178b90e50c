"""spatial_bicubic stage: raises resolution by bicubic upsampling of every frame (the training-free baseline)."""

from __future__ import annotations

import torch

from cascade.stage import BaseStage
from cascade.types import Video
from cascade.video_ops import resize_frames
from stages.spatial_sr.config import SpatialBicubicConfig


class SpatialBicubicStage(BaseStage):
    config_class = SpatialBicubicConfig

    def degrade(self, truth: torch.Tensor) -> torch.Tensor:
        """Real clips area-downsampled to the input size."""
        return resize_frames(truth, self.config.height, self.config.width, mode="area")

    def baseline(self, low: torch.Tensor) -> torch.Tensor:
        out = self.output_spec
        return resize_frames(low, out.height, out.width, mode="bicubic")

    def scored_frames(self) -> None:
        return None  # every output frame

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        low = inputs["video"].tensor.to(self.device, self.dtype)
        return self.output_video(self.baseline(low))
