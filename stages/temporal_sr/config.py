"""temporal_sr configs: raise fps by `factor`, by learned masked frame interpolation or by linear blending."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cascade.diffusion_stage import ResamplingConfig, SuperResolutionConfig
from cascade.types import VideoSpec


class TemporalGeometry(ResamplingConfig):
    """The input video (8 frames at 4 fps by default) and the output: `factor` times the frames and the fps."""

    frames: int = Field(default=8, gt=0)
    fps: float = Field(default=4.0, gt=0)

    def resampled(self, spec: VideoSpec) -> VideoSpec:
        return spec.model_copy(update={"frames": spec.frames * self.factor, "fps": spec.fps * self.factor})


class TemporalBlendConfig(TemporalGeometry):
    """The training-free baseline: linear blending between the given frames."""

    type: Literal["temporal_blend"] = "temporal_blend"

    @property
    def has_weights(self) -> bool:
        return False


class TemporalSRConfig(TemporalGeometry, SuperResolutionConfig):
    type: Literal["temporal_sr"] = "temporal_sr"
    # Training-time per-frame colour wobble of the input (cascade.diffusion.frame_jitter), the flicker a base
    # stage leaves. With it or noise augmentation (max_aug_level > 0) the stage learns to clean its input and
    # re-draws every output frame; with neither, the input frames are pasted in exactly (known frames).
    frame_jitter: float = Field(default=0.0, ge=0, le=0.5)

    @property
    def cleans_input(self) -> bool:
        return self.max_aug_level > 0 or self.frame_jitter > 0
