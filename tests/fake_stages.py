"""Test-only stages: a hash-based text encoder and a tiny learned text->video stage with real weights."""

from __future__ import annotations

import zlib
from typing import Literal

import torch

from cascade.registry import register_stage
from cascade.stage import BaseStage, StageConfig
from cascade.types import PromptSpec, TextEmbedding, TextSpec, Video, VideoSpec


class FakeTextConfig(StageConfig):
    type: Literal["test_text"] = "test_text"
    length: int = 4
    dim: int = 8

    @property
    def has_weights(self) -> bool:
        return False

    def input_specs(self):
        return {"prompt": PromptSpec()}

    def output_spec(self):
        return TextSpec(length=self.length, dim=self.dim)


@register_stage("test_text")
class FakeTextStage(BaseStage):
    config_class = FakeTextConfig

    def __call__(self, inputs, **kw):
        cfg = self.config
        rows = []
        for p in inputs["prompt"]:
            g = torch.Generator().manual_seed(zlib.crc32(p.encode()))
            rows.append(torch.randn(cfg.length, cfg.dim, generator=g))
        tokens = torch.stack(rows).to(self.device)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=self.device)
        return TextEmbedding(tokens=tokens, mask=mask, pooled=tokens.mean(1), spec=self.output_spec)


class FakeVideoConfig(StageConfig):
    type: Literal["test_video"] = "test_video"
    text_length: int = 4
    text_dim: int = 8
    frames: int = 4
    size: int = 8
    fps: float = 4.0

    def input_specs(self):
        return {"text": TextSpec(length=self.text_length, dim=self.text_dim)}

    def output_spec(self):
        return VideoSpec(frames=self.frames, height=self.size, width=self.size, fps=self.fps)


@register_stage("test_video")
class FakeVideoStage(BaseStage):
    """Noise from the generator plus a learned projection of the pooled text: real weights, real seeds."""

    config_class = FakeVideoConfig

    def __init__(self, config):
        super().__init__(config)
        self.network = torch.nn.Linear(config.text_dim, 3)

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True):
        cfg = self.config
        text = inputs["text"]
        b = text.batch_size
        noise = torch.randn(b, 3, cfg.frames, cfg.size, cfg.size, generator=generator, device=self.device)
        bias = self.network(text.pooled.to(self.device, self.dtype)).view(b, 3, 1, 1, 1)
        return Video(tensor=torch.tanh(0.3 * noise + bias), spec=self.output_spec)


def make_fake_pipeline(*, tsr: bool = True, ssr: bool = True):
    """test_text -> test_video (4 frames, 8x8, 4 fps) -> temporal_blend -> spatial_bicubic."""
    from cascade.graph import CascadeGraph
    from cascade.pipeline import CascadePipeline
    from stages.spatial_sr.baseline import SpatialBicubicStage
    from stages.spatial_sr.config import SpatialBicubicConfig
    from stages.temporal_sr.baseline import TemporalBlendStage
    from stages.temporal_sr.config import TemporalBlendConfig

    torch.manual_seed(0)
    stages = {"text": FakeTextStage(FakeTextConfig()), "base": FakeVideoStage(FakeVideoConfig())}
    edges = [{"from": "text", "to": "base", "input": "text"}]
    last = "base"
    if tsr:
        stages["tsr"] = TemporalBlendStage(TemporalBlendConfig(frames=4, fps=4.0, height=8, width=8))
        edges.append({"from": last, "to": "tsr", "input": "video"})
        last = "tsr"
    if ssr:
        frames, fps = (8, 8.0) if tsr else (4, 4.0)
        stages["ssr"] = SpatialBicubicStage(SpatialBicubicConfig(frames=frames, fps=fps, height=8, width=8))
        edges.append({"from": last, "to": "ssr", "input": "video"})
        last = "ssr"
    graph = CascadeGraph.from_dict({"nodes": {n: {"type": s.config.type} for n, s in stages.items()},
                                    "edges": edges, "output": last})
    return CascadePipeline(graph, stages)
