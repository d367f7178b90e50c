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
    r = runner.invoke(app, ["export", str(split), "--stage-dir", str(tmp_path / "exported")])  # its own folder again
    assert r.exit_code == 0, r.output
    # a run folder is no stage folder: exporting over it must not delete its checkpoints and metrics
    r = runner.invoke(app, ["export", str(split), "--stage-dir", str(split)])
    assert r.exit_code == 2 and "already holds" in r.output and "nothing was written" in " ".join(r.output.split())
    assert losses(split) == b and any((split / "checkpoints").iterdir())


def test_text_stage_without_preview_prompts_previews_data_captions(tmp_path):
    """A base_video config without preview_prompts previews its data captions (not the SR stages' reconstruction
    preview), and the run exports."""
    cfg = tmp_path / "nopp.yaml"
    cfg.write_text("".join(l for l in open("configs/base_video/tiny.yaml") if "preview_prompts" not in l))
    r = runner.invoke(app, ["train", "base_video", "--config", str(cfg), "--out", str(tmp_path / "run"), "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "export" / "model.safetensors").is_file()
    prompts = [json.loads(p.read_text()) for p in (tmp_path / "run" / "samples").rglob("prompts.json")]
    assert prompts and all(p and all(isinstance(c, str) and c for c in p) for p in prompts)  # shapes captions
    assert len(list((tmp_path / "run" / "samples").rglob("*.mp4"))) == sum(len(p) for p in prompts)


def test_train_bad_config_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: base_video\npreset: tiny\noptim: {lerning_rate: 1}\n")
    r = runner.invoke(app, ["train", "base_video", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "unknown field 'lerning_rate' in optim" in " ".join(r.output.split())
    bad.write_text("stage: base_video\npreset: tiny\nmodel: {network: {widht: 3}}\n")
    r = runner.invoke(app, ["train", "base_video", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and f"{bad}: model: unknown field 'network.widht'" in " ".join(r.output.split())
    bad.write_text("stage: base_video\npreset: tiny\ndata: {num_clip: 3}\n")
    r = runner.invoke(app, ["train", "base_video", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and f"{bad}: data: unknown field 'num_clip'" in " ".join(r.output.split())
    for field, message in (("temporal_mixer=foo", "unknown temporal mixer 'foo'"),
                           ("heads=3", "do not split into 3 attention heads")):  # both were ValueError tracebacks
        r = runner.invoke(app, ["train", "base_video", "--config", "configs/base_video/tiny.yaml", "--out",
                                str(tmp_path / "r"), "--set", f"model.network.{field}"])
        assert r.exit_code == 2 and message in " ".join(r.output.split()), r.output
    r = runner.invoke(app, ["train", "temporal_sr", "--config", "configs/base_video/tiny.yaml", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "trains stage 'base_video', not 'temporal_sr'" in " ".join(r.output.split())


def test_every_command_that_writes_refuses_an_unwritable_place_in_one_sentence(tmp_path, monkeypatch):
    """train, export, assemble and data shapes checked only render's output before: elsewhere a read-only
    place gave a FileNotFoundError traceback (after training, for export at the end of a run)."""
    def refuse(*a, **k):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr("cascade.io_utils.tempfile.mkstemp", refuse)
    ro = tmp_path / "ro" / "x"
    for args in (["train", "base_video", "--config", "configs/base_video/tiny.yaml", "--out", ro],
                 ["export", tmp_path, "--stage-dir", ro], ["assemble", "--stage", "text_encoder=preset:tiny", "--out", ro],
                 ["data", "shapes", "--out", ro, "--clips", "1"]):
        r = runner.invoke(app, [str(a) for a in args])
        assert r.exit_code == 2, (args, r.output)
        assert f"cannot write {ro}: {tmp_path} is not writable (Read-only file system)" in " ".join(r.output.split())
    assert list(tmp_path.iterdir()) == []


def test_train_names_unknown_and_frozen_stages(tmp_path):
    r = runner.invoke(app, ["train", "base_vid", "--config", "configs/base_video/tiny.yaml", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "unknown stage type 'base_vid'" in r.output
    r = runner.invoke(app, ["train", "text_encoder", "--config", "configs/base_video/tiny.yaml", "--out", str(tmp_path)])
    out = " ".join(r.output.split())
    assert r.exit_code == 2 and "'text_encoder' has nothing to train" in out and "base_video" in out


def test_init_from_starts_from_a_stage_folder_and_resume_still_wins(tmp_path):
    import torch
    from safetensors.torch import load_file

    from cascade.errors import CascadeError
    from cascade.training.build import build_task
    from cascade.training import apply_overrides, load_config

    cfg = load_config("configs/base_video/tiny.yaml")
    donor, _ = build_task(apply_overrides(cfg, ["seed=5"]))  # another seed: other random weights
    donor.save_pretrained(tmp_path / "donor")
    saved = load_file(str(tmp_path / "donor" / "model.safetensors"))
    fresh, _ = build_task(cfg)
    tuned, _ = build_task(apply_overrides(cfg, [f"init_from={tmp_path / 'donor'}"]))
    state = tuned.network.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved.items())
    assert not all(torch.equal(fresh.network.state_dict()[k], v) for k, v in saved.items())

    # a run started from the folder trains on from it; --resume loads the run's own checkpoint instead
    run = tmp_path / "run"
    args = ["train", "base_video", "--config", "configs/base_video/tiny.yaml", "--out", str(run), "--device", "cpu",
            "-q", "--set", f"init_from={tmp_path / 'donor'}"]
    assert runner.invoke(app, args + ["--max-steps", "2"]).exit_code == 0
    assert runner.invoke(app, args + ["--resume"]).exit_code == 0
    straight = tmp_path / "straight"
    args[args.index(str(run))] = str(straight)
    assert runner.invoke(app, args).exit_code == 0
    assert losses(run) == losses(straight) and sorted(losses(run)) == [1, 2, 3]

    (tmp_path / "empty").mkdir()
    for folder, text in [("corrupt", "{not json"), ("list", "[]")]:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text(text)
        (tmp_path / folder / "model.safetensors").write_bytes(b"")
    ssr, _ = build_task(load_config("configs/spatial_sr/tiny.yaml"))
    ssr.save_pretrained(tmp_path / "ssr")
    default_base, _ = build_task(apply_overrides(cfg, ["preset=default"]))
    default_base.save_pretrained(tmp_path / "big")
    for folder, message in [("empty", "is not a stage folder"), ("corrupt", "is not valid JSON"),
                            ("list", "is not a JSON object"),
                            ("ssr", "holds a spatial_sr stage, not base_video"),
                            ("big", "does not match the base_video network")]:
        with pytest.raises(CascadeError, match=message):
            build_task(apply_overrides(cfg, [f"init_from={tmp_path / folder}"]))


def test_ctrl_c_says_where_to_resume(tmp_path):
    """Ctrl-C ends a training run with exit 130 and a sentence saying where to resume."""
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    # a suite started in the background (`nohup ... &`) hands its children SIGINT ignored, and Python then never
    # raises KeyboardInterrupt: the child gets the default back, as a terminal's Ctrl-C would find it
    proc = subprocess.Popen([sys.executable, "-m", "cascade.cli", "train", "base_video", "--config",
                             "configs/base_video/tiny.yaml", "--out", str(run), "--set", "max_steps=100000",
                             "--set", "checkpoint_every=1", "--set", "sample_every=100000", "--device", "cpu", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not list(run.glob("checkpoints/step_*")):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never leave a 100,000-step run behind
    assert proc.returncode == 130, (out, err)
    assert "interrupted: the newest checkpoint is step_" in " ".join(err.split()) and "--resume" in err


def test_caption_embeddings_do_not_depend_on_their_batch_mates():
    """A resumed run fills its text cache in another order; MiniLM's output for a caption moved ~1e-6 with the
    other captions of the batch it was first encoded in, so resumes drifted from uninterrupted runs in the
    last bits (seen from step 37 of a run resumed at 10)."""
    import torch

    from cascade.training.build import build_task
    from cascade.training import load_config

    cfg = load_config("configs/base_video/tiny.yaml")
    (_, first), (_, second) = build_task(cfg), build_task(cfg)
    assert first.text_encoder is not second.text_encoder  # separate caches, as in two processes
    captions = ["a red circle", "a blue square going up", "green ball", "a cyan triangle", "yellow box moving"]
    together = first.encode(captions).tokens
    for i in (1, 3):
        assert torch.equal(second.encode([captions[i]]).tokens[0], together[i])


def test_training_encodes_captions_as_the_stage_declares():
    """The base stage trains on captions read exactly as its text spec says (lexicon included), so the shipped
    text_encoder:default feeds it the same expanded prompts at render time."""
    import torch

    from cascade.training.build import build_task
    from cascade.training import load_config
    from stages.text_encoder.presets import PRESETS
    from stages.text_encoder.stage import TextEncoderStage

    cfg = load_config("configs/base_video/tiny.yaml")
    cfg.model["text"] = {"length": 32, "dim": 384, "lexicon": "wordnet-shapes"}
    stage, task = build_task(cfg)
    assert task.text_encoder.output_spec == stage.config.text == PRESETS["default"].output_spec()
    captions = ["a red wedge moving up", "a blue square going left"]
    ours, shipped = task.encode(captions).tokens, TextEncoderStage(PRESETS["default"]).encode(captions).tokens
    assert torch.allclose(ours, shipped, atol=1e-5)  # (a batch moves MiniLM's output ~1e-6; a gloss moves it ~1)
