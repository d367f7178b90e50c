"""temporal_sr config: raise fps by `factor`, by learned masked frame interpolation or linear blending."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cascade.diffusion_stage import DiffusionStageConfig
from cascade.types import TextSpec, VideoSpec


class TemporalSRConfig(DiffusionStageConfig):
    type: Literal["temporal_sr"] = "temporal_sr"
    mode: Literal["learned", "blend"] = "learned"  # blend: the training-free baseline
    factor: int = Field(default=2, ge=2)
    frames: int = Field(default=8, gt=0)  # input frames
    fps: float = Field(default=4.0, gt=0)  # input fps
    height: int = 32
    width: int = 32
    channels: int = 3
    space: Literal["pixel", "latent"] = "pixel"

    @property
    def has_weights(self) -> bool:
        return self.mode == "learned"

    def input_video_spec(self) -> VideoSpec:
        return VideoSpec(frames=self.frames, height=self.height, width=self.width, channels=self.channels,
                         fps=self.fps, space=self.space)

    def input_specs(self):
        specs = {"video": self.input_video_spec()}
        if self.mode == "learned" and self.text is not None:
            specs["text"] = self.text
        return specs

    def output_spec(self) -> VideoSpec:
        return self.input_video_spec().model_copy(update={"frames": self.frames * self.factor,
                                                          "fps": self.fps * self.factor})
