"""spatial_sr stage: raises resolution with a diffusion model conditioned on the upsampled video and a
noise-augmentation level (Imagen Video §2.5, §2.6), or by bicubic resizing (baseline, mode="bicubic")."""

from __future__ import annotations

from cascade.stage import BaseStage
from cascade.types import Video
from cascade.video_ops import resize_frames
from stages.spatial_sr.config import SpatialSRConfig


class SpatialSRStage(BaseStage):
    config_class = SpatialSRConfig

    def __init__(self, config: SpatialSRConfig):
        super().__init__(config)
        if config.mode == "learned":
            from stages.spatial_sr.network import build_network

            self.network = build_network(config)

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        cfg: SpatialSRConfig = self.config
        x = inputs["video"].tensor.to(self.device, self.dtype)  # (B, C, F, h, w)
        out_spec = self.output_spec
        if cfg.mode == "bicubic":
            out = resize_frames(x, out_spec.height, out_spec.width, mode="bicubic")
        else:
            from stages.spatial_sr.network import sample_ssr

            out = sample_ssr(self, x, inputs.get("text"), generator=generator, steps=steps,
                             guidance=guidance, progress=progress)
        return Video(tensor=out.clamp(-1, 1), spec=out_spec)
