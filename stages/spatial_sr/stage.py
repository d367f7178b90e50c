"""spatial_sr stage: raises resolution with a diffusion model conditioned on the upsampled video and a
noise-augmentation level (Imagen Video §2.5, §2.6), or by bicubic resizing (baseline, mode="bicubic")."""

from __future__ import annotations

import torch

from cascade.diffusion_stage import DiffusionStage
from cascade.stage import BaseStage
from cascade.types import Video
from cascade.video_ops import resize_frames
from stages.spatial_sr.config import SpatialSRConfig


class SpatialSRStage(DiffusionStage):
    config_class = SpatialSRConfig
    uses_aug_level = True

    def __init__(self, config: SpatialSRConfig):
        if config.mode == "bicubic":
            BaseStage.__init__(self, config)
            return
        self.cond_channels = config.channels  # the bicubic-upsampled, noise-augmented low-res video
        super().__init__(config)

    def _condition(self, low: torch.Tensor, level: torch.Tensor, generator) -> dict:
        from cascade.diffusion import noise_augment

        out = self.output_spec
        low = noise_augment(low, level, generator)  # Imagen Video §2.6: noise conditioning augmentation
        up = resize_frames(low, out.height, out.width, mode="bicubic")  # (B, C, F, H, W) at output size
        return {"cond": up, "aug_level": level}

    def condition_from_truth(self, video, generator):
        from cascade.diffusion import sample_aug_level

        cfg: SpatialSRConfig = self.config
        low = self.input_from_truth(video)
        level = sample_aug_level(video.shape[0], cfg.max_aug_level, generator).to(video.device, video.dtype)
        return self._condition(low, level, generator)

    def condition_from_inputs(self, inputs, generator=None):
        low = inputs["video"].tensor.to(self.device, self.dtype)
        level = torch.full((low.shape[0],), self.config.sample_aug_level, device=self.device, dtype=self.dtype)
        return self._condition(low, level, generator), {}

    def input_from_truth(self, video):
        """Real clips area-downsampled to the input size."""
        return resize_frames(video, self.config.height, self.config.width, mode="area")

    def estimate_from_truth(self, video):
        out = self.output_spec
        return resize_frames(self.input_from_truth(video), out.height, out.width, mode="bicubic")

    def residual_base_from_truth(self, video, cond):
        return cond["cond"] if self.config.residual_base == "augmented" else self.estimate_from_truth(video)

    def residual_base_from_inputs(self, inputs, cond):
        return cond["cond"] if self.config.residual_base == "augmented" else self.estimate_from_inputs(inputs)

    def estimate_from_inputs(self, inputs):
        out = self.output_spec
        return resize_frames(inputs["video"].tensor.to(self.device, self.dtype), out.height, out.width, mode="bicubic")

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        if self.config.mode == "bicubic":
            return Video(tensor=self.estimate_from_inputs(inputs).clamp(-1, 1), spec=self.output_spec)
        return super().__call__(inputs, generator=generator, steps=steps, guidance=guidance, progress=progress)
