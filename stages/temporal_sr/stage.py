"""temporal_sr stage: raises fps by masked frame interpolation (Make-A-Video §3.3, Imagen Video TSR),
or by linear blending (the training-free baseline, mode="blend")."""

from __future__ import annotations

import torch

from cascade.diffusion_stage import SuperResolutionStage
from cascade.video_ops import interpolate_frames, known_frame_mask, subsample_frames
from stages.temporal_sr.config import TemporalSRConfig


class TemporalSRStage(SuperResolutionStage):
    config_class = TemporalSRConfig

    def __init__(self, config: TemporalSRConfig):
        self.cond_channels = config.channels + 1  # upsampled video + known-frame mask channel
        super().__init__(config)

    def _condition(self, low: torch.Tensor, level: torch.Tensor | None, generator, *,
                   jitter: float = 0.0) -> tuple[dict, dict]:
        from cascade.diffusion import frame_jitter, noise_augment

        k = self.config.factor
        b, c, f, h, w = low.shape  # (B, C, F, H, W) at the input fps
        low = frame_jitter(low, jitter, generator)  # training only: the flicker a base stage leaves
        if level is not None:
            low = noise_augment(low, level, generator)  # Imagen Video §2.6: noise conditioning augmentation
        up = interpolate_frames(low, k)  # Imagen Video: channel-concatenate the upsampled lower-stage video
        mask = known_frame_mask(f, k, device=low.device).to(low.dtype).view(1, 1, f * k, 1, 1)
        mask = mask.expand(b, 1, f * k, h, w)  # Make-A-Video §3.3: mask channel marks the given frames
        cond = {"cond": torch.cat([up, mask], dim=1)}
        if level is not None:
            cond["aug_level"] = level
        if self.config.cleans_input:
            return cond, {}  # the given frames are re-drawn too, cleaned of what the degradation taught
        known = torch.zeros_like(up)
        known[:, :, ::k] = low
        return cond, {"known": known, "known_mask": mask.expand_as(up) > 0.5}

    def input_from_truth(self, video):
        return subsample_frames(video, self.config.factor)  # frames dropped from real clips

    def condition_from_truth(self, video, generator):
        level = self.training_aug_level(video, generator)
        return self._condition(self.input_from_truth(video), level, generator, jitter=self.config.frame_jitter)[0]

    def condition_from_inputs(self, inputs, generator=None):
        low = inputs["video"].tensor.to(self.device, self.dtype)
        return self._condition(low, self.sampling_aug_level(low.shape[0]), generator)

    def estimate_from_truth(self, video):
        return interpolate_frames(self.input_from_truth(video), self.config.factor)

    def estimate_from_inputs(self, inputs):
        return interpolate_frames(inputs["video"].tensor.to(self.device, self.dtype), self.config.factor)
