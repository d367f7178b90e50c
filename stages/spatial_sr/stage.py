"""spatial_sr stage: raises resolution with a diffusion model conditioned on the upsampled video and a
noise-augmentation level (Imagen Video §2.5, §2.6), or by bicubic resizing (baseline, mode="bicubic")."""

from __future__ import annotations

import torch

from cascade.diffusion_stage import SuperResolutionStage
from cascade.video_ops import resize_frames
from stages.spatial_sr.config import SpatialSRConfig


class SpatialSRStage(SuperResolutionStage):
    config_class = SpatialSRConfig

    def __init__(self, config: SpatialSRConfig):
        self.cond_channels = config.channels  # the bicubic-upsampled, noise-augmented low-res video
        super().__init__(config)

    def _condition(self, low: torch.Tensor, level: torch.Tensor | None, generator) -> dict:
        from cascade.diffusion import noise_augment

        out = self.output_spec
        if level is None:  # max_aug_level 0: no augmentation
            return {"cond": resize_frames(low, out.height, out.width, mode="bicubic")}
        low = noise_augment(low, level, generator)  # Imagen Video §2.6: noise conditioning augmentation
        return {"cond": resize_frames(low, out.height, out.width, mode="bicubic"), "aug_level": level}

    def condition_from_truth(self, video, generator):
        return self._condition(self.input_from_truth(video), self.training_aug_level(video, generator), generator)

    def condition_from_inputs(self, inputs, generator=None):
        low = inputs["video"].tensor.to(self.device, self.dtype)
        return self._condition(low, self.sampling_aug_level(low.shape[0]), generator), {}

    def input_from_truth(self, video):
        """Real clips area-downsampled to the input size."""
        return resize_frames(video, self.config.height, self.config.width, mode="area")

    def estimate_from_truth(self, video):
        out = self.output_spec
        return resize_frames(self.input_from_truth(video), out.height, out.width, mode="bicubic")

    def estimate_from_inputs(self, inputs):
        out = self.output_spec
        return resize_frames(inputs["video"].tensor.to(self.device, self.dtype), out.height, out.width, mode="bicubic")
