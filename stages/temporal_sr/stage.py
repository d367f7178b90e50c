"""temporal_sr stage: raises fps by masked frame interpolation (Make-A-Video §3.3, Imagen Video TSR)."""

from __future__ import annotations

import torch

from cascade.conditioning import Conditioning
from cascade.diffusion_stage import SuperResolutionStage
from cascade.video_ops import interpolate_frames, known_frame_mask
from stages.temporal_sr.baseline import TemporalBlendStage
from stages.temporal_sr.config import TemporalSRConfig


class TemporalSRStage(SuperResolutionStage):
    config_class = TemporalSRConfig
    baseline_class = TemporalBlendStage

    def __init__(self, config: TemporalSRConfig):
        self.cond_channels = config.input_video_spec().channels + 1  # upsampled video + known-frame mask channel
        super().__init__(config)

    def condition(self, low: torch.Tensor, *, generator=None, training: bool = False) -> Conditioning:
        from cascade.diffusion import frame_jitter, noise_augment

        cfg: TemporalSRConfig = self.config
        k = cfg.factor
        b, c, f, h, w = low.shape  # (B, C, F, H, W) at the input fps
        level = self.aug_level(low, generator, training=training)
        if training:
            low = frame_jitter(low, cfg.frame_jitter, generator)  # the flicker a base stage leaves
        if level is not None:
            low = noise_augment(low, level, generator)  # Imagen Video §2.6: noise conditioning augmentation
        up = interpolate_frames(low, k)  # Imagen Video: channel-concatenate the upsampled lower-stage video
        mask = known_frame_mask(f, k, device=low.device).to(low.dtype).view(1, 1, f * k, 1, 1)
        mask = mask.expand(b, 1, f * k, h, w)  # Make-A-Video §3.3: mask channel marks the given frames
        network = {"cond": torch.cat([up, mask], dim=1)}
        if level is not None:
            network["aug_level"] = level
        if cfg.cleans_input:  # every frame is re-drawn, cleaned of what the degradation taught
            return Conditioning(network=network, residual_base=up)
        known = torch.zeros_like(up)  # otherwise the given frames are kept exactly
        known[:, :, ::k] = low
        return Conditioning(network=network, known=known, known_mask=mask.expand_as(up) > 0.5, residual_base=up)
