"""temporal_sr stage: raises fps by masked frame interpolation (Make-A-Video §3.3, Imagen Video TSR),
or by linear blending (the training-free baseline, mode="blend")."""

from __future__ import annotations

import torch

from cascade.types import Video
from cascade.video_ops import interpolate_frames
from stages.temporal_sr.config import TemporalSRConfig
from cascade.stage import BaseStage


class TemporalSRStage(BaseStage):
    config_class = TemporalSRConfig

    def __init__(self, config: TemporalSRConfig):
        super().__init__(config)
        if config.mode == "learned":
            from stages.temporal_sr.network import build_network

            self.network = build_network(config)

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        cfg: TemporalSRConfig = self.config
        video: Video = inputs["video"]
        x = video.tensor.to(self.device, self.dtype)  # (B, C, F, H, W)
        if cfg.mode == "blend":
            out = interpolate_frames(x, cfg.factor)
        else:
            from stages.temporal_sr.network import sample_tsr

            out = sample_tsr(self, x, inputs.get("text"), generator=generator, steps=steps,
                             guidance=guidance, progress=progress)
        return Video(tensor=out.clamp(-1, 1), spec=self.output_spec)
