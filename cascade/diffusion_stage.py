"""Config shared by every diffusion stage: network shape, noise schedule, parametrisation, sampling."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cascade.stage import StageConfig
from cascade.types import TextSpec


class NetworkConfig(BaseModel):
    """SpaceTimeUNet hyper-parameters (validated here so a typo names the field before any tensor is made)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_channels: int = Field(default=32, gt=0)
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = Field(default=1, ge=1)
    attention_levels: tuple[bool, ...] = (False, True, True)
    heads: int = Field(default=4, gt=0)
    temporal_mixer: str = "pseudo3d"
    temporal_levels: tuple[int, ...] | None = None
    alpha_wrap: bool = False
    freeze_spatial: bool = False
    max_frames: int = 64
    dropout: float = Field(default=0.0, ge=0, lt=1)
    gradient_checkpointing: bool = False
    attention_backend: Literal["sdpa", "xformers"] = "sdpa"


class SamplingConfig(BaseModel):
    """Sampling defaults stored beside the weights (chosen by measurement with `cascade eval`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sampler: Literal["ddim", "dpmsolver++", "euler"] = "dpmsolver++"
    steps: int = Field(default=25, gt=0)
    guidance: float = Field(default=1.0, ge=0)
    oscillating: bool = False  # Imagen Video oscillating guidance
    dynamic_thresholding: bool = True  # Imagen dynamic thresholding (pixel space only)


class DiffusionStageConfig(StageConfig):
    text: TextSpec | None = None  # text conditioning (None: the stage ignores text)
    network: NetworkConfig = NetworkConfig()
    schedule: Literal["cosine", "linear"] = "cosine"
    prediction: Literal["v", "epsilon", "sample"] = "v"
    num_train_timesteps: int = 1000
    sampling: SamplingConfig = SamplingConfig()
