"""The open stage contract: graphs of any depth with free node names, presets by node type, eval keyed by node
name, and a new stage type defined here (tests/) that trains, exports and joins a cascade with no edit in cascade/."""

import json
from typing import Literal

import pytest
import torch
from typer.testing import CliRunner

from cascade.assemble import assemble, assemble_stages, fitted_preset, node_type
from cascade.cli import app
from cascade.errors import CascadeError
from cascade.pipeline import CascadePipeline
from cascade.registry import register_stage
from cascade.stage import BaseStage, StageConfig, make_stage_config
from cascade.types import VideoSpec
from fake_stages import FakeTextConfig, FakeTextStage, FakeVideoConfig, FakeVideoStage
from stages.spatial_sr.stage import SpatialSRStage
from stages.temporal_sr.stage import TemporalSRStage

runner = CliRunner()


def tiny(cls, **over):
    torch.manual_seed(0)
    return cls(make_stage_config(cls, "tiny", over))


def deep_stages():
    """test_text -> test_video (4 frames, 8x8) -> temporal_sr -> spatial_sr -> temporal_sr_2 (blend) ->
    spatial_sr_2 (bicubic): 16 frames at 16 fps, 32x32."""
    stages = {"text": FakeTextStage(FakeTextConfig()), "base": FakeVideoStage(FakeVideoConfig()),
              "temporal_sr": tiny(TemporalSRStage), "spatial_sr": tiny(SpatialSRStage)}
    stages["temporal_sr_2"] = fitted_preset("temporal_sr_2", "blend", stages["spatial_sr"].output_spec)
    stages["spatial_sr_2"] = fitted_preset("spatial_sr_2", "bicubic", stages["temporal_sr_2"].output_spec)
    return stages


def test_node_names_are_free_and_presets_resolve_by_node_type():
    assert node_type("spatial_sr_128") == "spatial_sr" and node_type("temporal_sr_2") == "temporal_sr"
    assert node_type("temporal_blend") == "temporal_blend"  # a type's own name is that type
    with pytest.raises(CascadeError, match="names no stage type"):
        node_type("upscaler")
    st = fitted_preset("spatial_sr_128", "bicubic", VideoSpec(frames=16, height=64, width=64, fps=8.0))
    assert st.config.type == "spatial_bicubic" and st.output_spec.height == 128
    explicit = fitted_preset("upscaler", "spatial_sr/bicubic", VideoSpec(frames=16, height=64, width=64, fps=8.0))
    assert explicit.config == st.config


def test_assemble_cli_takes_a_preset_for_a_named_node(tmp_path):
    """`--stage spatial_sr_128=preset:bicubic` after a trained spatial_sr: typed by its name, fitted to its input."""
    src = tmp_path / "src"
    stages = deep_stages()
    for name in ("text", "base", "temporal_sr", "spatial_sr"):
        stages[name].save_pretrained(src / name)
    args = ["assemble", "--out", tmp_path / "out"]
    for name in ("text", "base", "temporal_sr", "spatial_sr"):
        args += ["--stage", f"{name}={src / name}"]
    args += ["--stage", "temporal_sr_2=preset:blend", "--stage", "spatial_sr_128=preset:bicubic"]
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    pipe = CascadePipeline.from_pretrained(tmp_path / "out")
    assert pipe.graph.order[-2:] == ["temporal_sr_2", "spatial_sr_128"]
    assert pipe.graph.nodes["spatial_sr_128"].type == "spatial_bicubic"
    assert pipe.stages["spatial_sr_128"].output_spec == VideoSpec(frames=16, height=32, width=32, fps=16.0)


def test_deep_cascade_renders_and_evaluates_every_sr_node_by_name(tmp_path):
    from cascade.eval.run import evaluate

    weights = assemble_stages(tmp_path / "deep", deep_stages())
    info = runner.invoke(app, ["info", str(weights)])
    assert info.exit_code == 0 and all(n in info.output for n in ("temporal_sr_2", "spatial_sr_2"))
    out = tmp_path / "deep.mp4"
    result = runner.invoke(app, ["render", "a red circle moving left", "--weights", str(weights), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    from cascade.video_io import probe_video

    meta = probe_video(out)
    assert (meta["frames"], meta["width"], meta["fps"]) == (16, 32, 16.0)
    report = evaluate(weights, out_dir=tmp_path / "report", seeds=1, max_prompts=4, progress=False, shown=2,
                      stage_clips=4)
    rows = report["per_stage"]["stages"]
    assert list(rows) == ["temporal_sr", "spatial_sr", "temporal_sr_2", "spatial_sr_2"]
    assert rows["temporal_sr_2"]["type"] == "temporal_blend" and rows["temporal_sr_2"]["frames"] == "dropped"
    assert rows["spatial_sr_2"]["psnr"] == rows["spatial_sr_2"]["baseline_psnr"]  # a baseline is its own baseline
    assert rows["temporal_sr"]["baseline"] == "temporal_blend" and rows["spatial_sr"]["baseline"] == "spatial_bicubic"
    html = (tmp_path / "report" / "index.html").read_text()
    assert all(f"{n} (" in html for n in rows)
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert set(saved["per_stage"]["stages"]) == set(rows)


# -- a stage type defined outside cascade/ and stages/ ------------------------------------------------------------
class GainConfig(StageConfig):
    type: Literal["test_gain"] = "test_gain"
    frames: int = 4
    size: int = 8
    fps: float = 4.0

    def input_specs(self):
        return {"video": VideoSpec(frames=self.frames, height=self.size, width=self.size, fps=self.fps)}

    def output_spec(self):
        return self.input_specs()["video"]


class GainTask:
    """Learns the gain that maps a darkened clip back to the truth: a TrainTask of a dozen lines."""

    def __init__(self, stage):
        self.stage, self.model = stage, stage.network

    def dataset(self):
        g = torch.Generator().manual_seed(0)
        return [{"video": torch.rand(3, 4, 8, 8, generator=g) * 2 - 1} for _ in range(16)]

    def collate(self, items):
        return torch.stack([it["video"] for it in items])

    def loss(self, model, batch, generator):
        return ((model(batch * 0.5) - batch) ** 2).mean()

    def preview(self, model, step, out_dir):
        return {"gain": model.weight.item()}

    def export(self, model, out_dir):
        self.stage.network = model
        self.stage.save_pretrained(out_dir)


class Gain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        return x * self.weight


@register_stage("test_gain")
class GainStage(BaseStage):
    config_class = GainConfig
    presets = {"default": GainConfig()}

    def __init__(self, config):
        super().__init__(config)
        self.network = Gain()

    def train_task(self, data, upstream, **options):
        return GainTask(self)

    def __call__(self, inputs, **kw):
        from cascade.types import Video

        return Video(tensor=self.network(inputs["video"].tensor).clamp(-1, 1), spec=self.output_spec)


def test_a_stage_type_from_outside_trains_through_the_cli_and_joins_a_cascade(tmp_path):
    cfg = tmp_path / "gain.yaml"
    cfg.write_text("stage: test_gain\npreset: default\nbatch_size: 4\nmax_steps: 30\ncheckpoint_every: 30\n"
                   "sample_every: 30\nlog_every: 10\nema_decay: 0.0\noptim: {lr: 0.05, warmup_steps: 0}\ntrackers: []\n")
    result = runner.invoke(app, ["train", "test_gain", "--config", str(cfg), "--out", str(tmp_path / "run"),
                                 "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    trained = GainStage.from_pretrained(tmp_path / "run" / "export")
    assert abs(trained.network.weight.item() - 2.0) < 0.2  # it learned to undo the darkening
    stages = {"text": FakeTextStage(FakeTextConfig()), "base": FakeVideoStage(FakeVideoConfig()), "gain": trained}
    pipe = CascadePipeline.from_pretrained(assemble_stages(tmp_path / "w", stages))
    assert pipe.graph.nodes["gain"].type == "test_gain"
    assert pipe("a red circle", seed=0).spec == trained.output_spec


def test_frozen_and_training_free_types_have_nothing_to_train(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stage: temporal_sr\npreset: blend\n")
    for stage, config in (("text_encoder", "configs/base_video/tiny.yaml"), ("temporal_blend", cfg)):
        result = runner.invoke(app, ["train", stage, "--config", str(config), "--out", str(tmp_path / stage)])
        assert result.exit_code == 2 and "nothing to train" in result.output
        assert not (tmp_path / stage).exists()
    result = runner.invoke(app, ["train", "temporal_sr", "--config", str(cfg), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "temporal_blend' has nothing to train" in result.output
