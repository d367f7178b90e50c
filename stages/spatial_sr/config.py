"""spatial_sr configs: raise resolution by `factor`, by a learned SR diffusion model or by bicubic resizing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cascade.diffusion_stage import ResamplingConfig, SuperResolutionConfig
from cascade.types import VideoSpec


class SpatialGeometry(ResamplingConfig):
    """The input video (16 frames at 8 fps, 32x32 by default) and the output: `factor` times the height and width."""

    def resampled(self, spec: VideoSpec) -> VideoSpec:
        return spec.model_copy(update={"height": spec.height * self.factor, "width": spec.width * self.factor})


class SpatialBicubicConfig(SpatialGeometry):
    """The training-free baseline: bicubic upsampling of every frame."""

    type: Literal["spatial_bicubic"] = "spatial_bicubic"

    @property
    def has_weights(self) -> bool:
        return False


class SpatialSRConfig(SpatialGeometry, SuperResolutionConfig):
    type: Literal["spatial_sr"] = "spatial_sr"
    max_aug_level: float = Field(default=0.3, ge=0, le=1)  # noise conditioning (SuperResolutionConfig), on by default
    sample_aug_level: float = Field(default=0.1, ge=0, le=1)
    # Residual mode: add the network's output to the bicubic upsampling of the noise-augmented input (the same
    # video the network is conditioned on), so it learns to remove that noise and, at sampling, the base stage's
    # artefacts; "bicubic" adds it to the clean input's upsampling, which passes those artefacts straight through.
    residual_base: Literal["augmented", "bicubic"] = "augmented"
