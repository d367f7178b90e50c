"""base_video config: text -> low-resolution, low-fps clip (Imagen Video base model)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cascade.diffusion_stage import DiffusionStageConfig, SamplingConfig
from cascade.types import TextSpec, VideoSpec


class BaseVideoConfig(DiffusionStageConfig):
    type: Literal["base_video"] = "base_video"
    text: TextSpec = TextSpec(length=16, dim=384)
    frames: int = Field(default=8, gt=0)
    height: int = 32
    width: int = 32
    channels: int = 3
    fps: float = Field(default=4.0, gt=0)
    space: Literal["pixel", "latent"] = "pixel"
    sampling: SamplingConfig = SamplingConfig(guidance=5.0)

    def input_specs(self):
        return {"text": self.text}

    def output_spec(self) -> VideoSpec:
        return VideoSpec(frames=self.frames, height=self.height, width=self.width, channels=self.channels,
                         fps=self.fps, space=self.space)
