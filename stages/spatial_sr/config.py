"""spatial_sr config: raise resolution by `factor`, by a learned SR diffusion model or bicubic resizing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cascade.diffusion_stage import SuperResolutionConfig
from cascade.types import VideoSpec


class SpatialSRConfig(SuperResolutionConfig):
    type: Literal["spatial_sr"] = "spatial_sr"
    mode: Literal["learned", "bicubic"] = "learned"  # bicubic: the training-free baseline
    max_aug_level: float = Field(default=0.3, ge=0, le=1)  # noise conditioning (SuperResolutionConfig), on by default
    sample_aug_level: float = Field(default=0.1, ge=0, le=1)
    # Residual mode: add the network's output to the bicubic upsampling of the noise-augmented input (the same
    # video the network is conditioned on), so it learns to remove that noise and, at sampling, the base stage's
    # artefacts; "bicubic" adds it to the clean input's upsampling, which passes those artefacts straight through.
    residual_base: Literal["augmented", "bicubic"] = "augmented"

    @property
    def residual_on_condition(self) -> bool:
        return self.residual_base == "augmented"

    def output_spec(self) -> VideoSpec:
        return self.input_video_spec().model_copy(update={"height": self.height * self.factor,
                                                          "width": self.width * self.factor})
