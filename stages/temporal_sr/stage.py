"""temporal_sr stage: raises fps by masked frame interpolation (Make-A-Video §3.3, Imagen Video TSR),
or by linear blending (the training-free baseline, mode="blend")."""

from __future__ import annotations

import torch

from cascade.diffusion_stage import DiffusionStage
from cascade.stage import BaseStage
from cascade.types import Video
from cascade.video_ops import interpolate_frames, known_frame_mask, subsample_frames
from stages.temporal_sr.config import TemporalSRConfig


class TemporalSRStage(DiffusionStage):
    config_class = TemporalSRConfig

    def __init__(self, config: TemporalSRConfig):
        if config.mode == "blend":
            BaseStage.__init__(self, config)
            return
        self.cond_channels = config.channels + 1  # upsampled video + known-frame mask channel
        super().__init__(config)

    def _condition(self, low: torch.Tensor) -> tuple[dict, dict]:
        k = self.config.factor
        b, c, f, h, w = low.shape  # (B, C, F, H, W) at the input fps
        up = interpolate_frames(low, k)  # Imagen Video: channel-concatenate the upsampled lower-stage video
        mask = known_frame_mask(f, k, device=low.device).to(low.dtype).view(1, 1, f * k, 1, 1)
        mask = mask.expand(b, 1, f * k, h, w)  # Make-A-Video §3.3: mask channel marks the given frames
        known = torch.zeros_like(up)
        known[:, :, ::k] = low
        return {"cond": torch.cat([up, mask], dim=1)}, {"known": known, "known_mask": mask.expand_as(up) > 0.5}

    def input_from_truth(self, video):
        return subsample_frames(video, self.config.factor)  # frames dropped from real clips

    def condition_from_truth(self, video, generator):
        return self._condition(self.input_from_truth(video))[0]

    def condition_from_inputs(self, inputs, generator=None):
        return self._condition(inputs["video"].tensor.to(self.device, self.dtype))

    def estimate_from_truth(self, video):
        return interpolate_frames(self.input_from_truth(video), self.config.factor)

    def estimate_from_inputs(self, inputs):
        return interpolate_frames(inputs["video"].tensor.to(self.device, self.dtype), self.config.factor)

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        if self.config.mode == "blend":
            return Video(tensor=self.estimate_from_inputs(inputs).clamp(-1, 1), spec=self.output_spec)
        return super().__call__(inputs, generator=generator, steps=steps, guidance=guidance, progress=progress)
