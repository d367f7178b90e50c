"""temporal_blend stage: raises fps by linear blending between the given frames (the training-free baseline)."""

from __future__ import annotations

import torch

from cascade.stage import BaseStage
from cascade.types import Video
from cascade.video_ops import interpolate_frames, known_frame_mask, subsample_frames
from stages.temporal_sr.config import TemporalBlendConfig


class TemporalBlendStage(BaseStage):
    config_class = TemporalBlendConfig

    def degrade(self, truth: torch.Tensor) -> torch.Tensor:
        """Every `factor`-th frame of a real clip (B, C, F*k, H, W) -> (B, C, F, H, W)."""
        return subsample_frames(truth, self.config.factor)

    def baseline(self, low: torch.Tensor) -> torch.Tensor:
        return interpolate_frames(low, self.config.factor)

    def scored_frames(self) -> torch.Tensor:
        """The dropped frames between two given ones (every mode holds the last given frame at the end)."""
        f, k = self.config.frames, self.config.factor
        missing = ~known_frame_mask(f, k)
        missing[(f - 1) * k:] = False
        return missing

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        low = inputs["video"].tensor.to(self.device, self.dtype)
        return self.output_video(self.baseline(low))
