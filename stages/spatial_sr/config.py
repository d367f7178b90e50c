"""spatial_sr config: raise resolution by `factor`, by a learned SR diffusion model or bicubic resizing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cascade.diffusion_stage import DiffusionStageConfig
from cascade.types import VideoSpec


class SpatialSRConfig(DiffusionStageConfig):
    type: Literal["spatial_sr"] = "spatial_sr"
    mode: Literal["learned", "bicubic"] = "learned"  # bicubic: the training-free baseline
    factor: int = Field(default=2, ge=2)
    frames: int = Field(default=16, gt=0)
    fps: float = Field(default=8.0, gt=0)
    height: int = 32  # input height
    width: int = 32  # input width
    channels: int = 3
    space: Literal["pixel", "latent"] = "pixel"
    max_aug_level: float = Field(default=0.3, ge=0, le=1)  # Imagen Video noise conditioning, training range
    sample_aug_level: float = Field(default=0.1, ge=0, le=1)  # fixed level at sampling

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
        return self.input_video_spec().model_copy(update={"height": self.height * self.factor,
                                                          "width": self.width * self.factor})
