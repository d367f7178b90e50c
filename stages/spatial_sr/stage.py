"""spatial_sr stage: raises resolution with a diffusion model conditioned on the upsampled video and a
noise-augmentation level (Imagen Video §2.5, §2.6)."""

from __future__ import annotations

import torch

from cascade.conditioning import Conditioning
from cascade.diffusion_stage import SuperResolutionStage
from stages.spatial_sr.baseline import SpatialBicubicStage
from stages.spatial_sr.config import SpatialSRConfig


class SpatialSRStage(SuperResolutionStage):
    config_class = SpatialSRConfig
    baseline_class = SpatialBicubicStage

    def __init__(self, config: SpatialSRConfig):
        self.cond_channels = config.input_video_spec().channels  # the bicubic-upsampled, noise-augmented low-res video
        super().__init__(config)

    def condition(self, low: torch.Tensor, *, generator=None, training: bool = False) -> Conditioning:
        from cascade.diffusion import noise_augment

        level = self.aug_level(low, generator, training=training)
        if level is None:  # max_aug_level 0: no augmentation
            up = self.baseline(low)
            return Conditioning(network={"cond": up}, residual_base=up)
        up = self.baseline(noise_augment(low, level, generator))  # Imagen Video §2.6: noise conditioning augmentation
        base = up if self.config.residual_base == "augmented" else self.baseline(low)
        return Conditioning(network={"cond": up, "aug_level": level}, residual_base=base)
