"""base_video stage: text embedding -> clip by v-prediction diffusion with classifier-free guidance."""

from __future__ import annotations

from cascade.diffusion_stage import DiffusionStage
from stages.base_video.config import BaseVideoConfig


class BaseVideoStage(DiffusionStage):
    config_class = BaseVideoConfig  # conditioned on text alone: the shared hooks' defaults suffice
