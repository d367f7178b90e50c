"""temporal_sr config: raise fps by `factor`, by learned masked frame interpolation or linear blending."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cascade.diffusion_stage import SuperResolutionConfig
from cascade.types import VideoSpec


class TemporalSRConfig(SuperResolutionConfig):
    type: Literal["temporal_sr"] = "temporal_sr"
    mode: Literal["learned", "blend"] = "learned"  # blend: the training-free baseline
    frames: int = Field(default=8, gt=0)  # input frames
    fps: float = Field(default=4.0, gt=0)  # input fps
    # Training-time per-frame colour wobble of the input (cascade.diffusion.frame_jitter), the flicker a base
    # stage leaves. With it or noise augmentation (max_aug_level > 0) the stage learns to clean its input and
    # re-draws every output frame; with neither, the input frames are pasted in exactly (known frames).
    frame_jitter: float = Field(default=0.0, ge=0, le=0.5)

    @property
    def cleans_input(self) -> bool:
        return self.max_aug_level > 0 or self.frame_jitter > 0

    @property
    def residual_on_condition(self) -> bool:
        return self.cleans_input  # the residual is taken against the blend of the degraded input

    def output_spec(self) -> VideoSpec:
        return self.input_video_spec().model_copy(update={"frames": self.frames * self.factor,
                                                          "fps": self.fps * self.factor})
