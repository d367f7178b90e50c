"""Training real (tiny) stages through `cascade train`: resume reproduces losses, export loads in a pipeline."""

import json

import pytest
from typer.testing import CliRunner

from cascade.cli import app

runner = CliRunner()


def losses(run_dir):
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r.get("event") == "train"}


@pytest.mark.parametrize("stage", ["base_video", "temporal_sr", "spatial_sr"])
def test_train_resume_same_loss_and_export(tmp_path, stage):
    cfg = f"configs/{stage}/tiny.yaml"
    straight, split = tmp_path / "straight", tmp_path / "split"
    r = runner.invoke(app, ["train", stage, "--config", cfg, "--out", str(straight), "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", stage, "--config", cfg, "--out", str(split), "--max-steps", "2", "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", stage, "--config", cfg, "--out", str(split), "--resume", "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    a, b = losses(straight), losses(split)
    assert sorted(a) == [1, 2, 3] and a == b  # bit-identical losses after resume
    assert (straight / "export" / "model.safetensors").is_file()
    assert any((straight / "samples").rglob("*.mp4"))  # previews rendered while training
    r = runner.invoke(app, ["export", str(split), "--stage-dir", str(tmp_path / "exported")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "exported" / "config.json").read_text())["type"] == stage


def test_train_bad_config_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: base_video\npreset: tiny\noptim: {lerning_rate: 1}\n")
    r = runner.invoke(app, ["train", "base_video", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "unknown field 'lerning_rate' in optim" in " ".join(r.output.split())
    bad.write_text("stage: base_video\npreset: tiny\nmodel: {network: {widht: 3}}\n")
    r = runner.invoke(app, ["train", "base_video", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "unknown field 'network.widht'" in " ".join(r.output.split())
    r = runner.invoke(app, ["train", "temporal_sr", "--config", "configs/base_video/tiny.yaml", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "trains stage 'base_video', not 'temporal_sr'" in " ".join(r.output.split())
