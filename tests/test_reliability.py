"""Fault injection: every bad input and fault ends in one sentence and exit code 2 (CLI) or a CascadeError (Python),
with nothing written and nothing the user had lost. Fast, CPU, in process."""

import errno
import json
import os
import warnings
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cascade.cli import app
from cascade.errors import CascadeError
from cascade.pipeline import CascadePipeline

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size if p.is_file() else None)
            for p in sorted(folder.rglob("*"))} if folder.exists() else {}


def one_sentence(result, needle: str) -> None:
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and text.count("error:") + text.count("Error:") == 1, result.output
    assert needle in text, text


# -- render: every count has a maximum, text must be text, outputs are real files --------------------------------
RENDER_CASES = [
    (["\udcff\udcfe"], "is not valid UTF-8 text (byte 0xff"),
    (["a red \udcff\udcfe circle"], "is not valid UTF-8 text"),
    (["a red \x00 circle"], "holds a control character (code 0)"),
    (["a red \x1b[31m circle"], "holds a control character (code 27)"),
    (["x" * 2001], "longer than the 2000 allowed"),
    (["a red circle"] * 257, "257 prompts in one call"),
    (["a red circle", "--steps", "1000000000"], "steps must be a whole number from 1 to 1000, got 1000000000"),
    (["a red circle", "--steps", "1001"], "from 1 to 1000"),
    (["a red circle", "--guidance", "1e30"], "guidance must be a number from 0 to 100"),
    (["a red circle", "--guidance", "101"], "guidance must be a number from 0 to 100"),
    (["a red circle", "--seed", "-1"], "the seed must be a whole number from 0 to 9223372036854775807, got -1"),
    (["a red circle", "--seed", str(2**64)], f"got {2**64}"),
    (["a red circle", "-o", "/dev/full", "--format", "mp4"], "/dev/full is a device or special file"),
    (["a red circle", "-o", "/dev/null"], "/dev/null is a device or special file"),
    (["a red circle", "-o", "{tmp}/x.mp4", "--format", "gif"], "--format gif disagrees with -o"),
    (["a red circle", "--weights", "{tmp}/nowhere"], "does not exist"),
    (["a red circle", "--device", "cuda:7"], "CUDA is not available"),
]


@pytest.mark.parametrize("args, message", RENDER_CASES, ids=[f"render-{i}" for i in range(len(RENDER_CASES))])
def test_render_refuses_bad_input_before_compute(tmp_path, fake_weights, args, message):
    before = snapshot(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.mp4")]
    if "--weights" not in args:
        args += ["--weights", str(fake_weights)]
    r = run("render", *args)
    one_sentence(r, message)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("node", ["text", "base", "tsr", "ssr"])
def test_a_non_finite_stage_output_stops_the_render_and_writes_nothing(tmp_path, fake_weights, monkeypatch, node):
    """A NaN anywhere (here injected into one stage's output) ends the render with one sentence naming the stage
    and its setting; no file is written."""
    pipe = CascadePipeline.from_pretrained(fake_weights)
    cls = type(pipe.stages[node])
    call = cls.__call__

    def poisoned(self, inputs, **kw):
        out = call(self, inputs, **kw)
        if hasattr(out, "tensor"):
            return out.model_copy(update={"tensor": out.tensor * float("nan")})
        return out.model_copy(update={"tokens": out.tokens * float("nan")})

    monkeypatch.setattr(cls, "__call__", poisoned)
    out = tmp_path / "o.mp4"
    r = run("render", "a red circle", "-o", out, "--weights", fake_weights, "--guidance", "3")
    one_sentence(r, f"stage {node} produced non-finite values (NaN or inf)")
    assert "nothing was written" in r.output and not out.exists()
    with pytest.raises(CascadeError, match=f"stage {node} produced non-finite"):
        CascadePipeline.from_pretrained(fake_weights)("a red circle")


def test_render_through_a_symlink_writes_its_target(tmp_path, fake_weights):
    target = tmp_path / "real.mp4"
    target.write_bytes(b"old")
    link = tmp_path / "link.mp4"
    link.symlink_to(target)
    r = run("render", "a red circle", "-o", link, "--weights", fake_weights, "-q")
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and target.stat().st_size > 100  # the link kept, its target replaced


def test_fp16_on_a_cpu_warns_that_it_is_slow(caplog):
    from cascade.pipeline import resolve_dtype

    with caplog.at_level("WARNING"):
        assert resolve_dtype("float16", torch.device("cpu")) == torch.float16
    assert "slower than float32" in caplog.text


# -- prompts outside what the weights know ---------------------------------------------------------------------
@pytest.mark.parametrize("prompt, unknown", [
    ("a cat walking", ["cat"]),  # walking: a motion verb the lexicon explains ("moving on screen")
    ("two blue squares", ["two"]),
    ("un cercle rouge qui bouge", ["un", "cercle", "rouge", "qui", "bouge"]),
    ("a purple hexagon spinning clockwise", ["clockwise"]),
    ("a red circle moving left", []),
    ("a magenta pyramid moving right", []),  # a held-out name the lexicon explains
    ("a cerulean wedge plummeting northwards", []),  # held-out colour, shape, verb and direction words
])
def test_shipped_weights_name_the_words_they_never_saw(prompt, unknown):
    pipe = CascadePipeline.from_pretrained(ROOT / "weights")
    assert pipe.unknown_words(prompt) == unknown


def test_unknown_words_warn_once_in_python_and_on_the_command_line(tmp_path, fake_weights):
    from cascade.vocabulary import PromptVocabularyWarning

    manifest = json.loads((fake_weights / "cascade.json").read_text())
    manifest["vocabulary"] = ["a", "red", "circle", "moving", "left"]
    (fake_weights / "cascade.json").write_text(json.dumps(manifest))
    pipe = CascadePipeline.from_pretrained(fake_weights)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe(["a red cat walking", "a red circle moving left"])
    vocab = [w for w in caught if issubclass(w.category, PromptVocabularyWarning)]
    assert len(vocab) == 1 and "'cat', 'walking'" in str(vocab[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PromptVocabularyWarning)  # users can filter it like any warning
        with pytest.raises(PromptVocabularyWarning):
            pipe("a red cat")
    r = run("render", "a red cat", "-o", tmp_path / "c.mp4", "--weights", fake_weights)
    assert r.exit_code == 0 and " ".join(r.output.split()).count("warning: these weights never saw 'cat'") == 1


# -- eval -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content, message", [
    (b"a red circle moving left\n\xff\xfe bad\n", "is not UTF-8 text (byte 0xff on line 2)"),
    (b"a red \x00circle\n", "holds a control character (code 0)"),
    (b"# only a comment\n\n", "holds no prompts"),
], ids=["non-utf8", "nul", "empty"])
def test_eval_prompts_file_errors(tmp_path, fake_weights, content, message):
    prompts = tmp_path / "p.txt"
    prompts.write_bytes(content)
    r = run("eval", fake_weights, "--out", tmp_path / "rep", "--prompts", prompts, "--seeds", "1")
    one_sentence(r, message)
    assert not (tmp_path / "rep").exists()


def test_eval_unknown_suite(tmp_path, fake_weights):
    one_sentence(run("eval", fake_weights, "--out", tmp_path / "r", "--suite", "birds"), "unknown suite 'birds'")


# -- full disk at every write ------------------------------------------------------------------------------------
def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_during_export_of_a_stage(tmp_path, monkeypatch):
    import safetensors.torch

    from fake_stages import FakeVideoConfig, FakeVideoStage

    stage = FakeVideoStage(FakeVideoConfig())
    stage.save_pretrained(tmp_path / "s")
    before = snapshot(tmp_path)
    monkeypatch.setattr(safetensors.torch, "save_file", _enospc)
    with pytest.raises(CascadeError, match=r"writing .*s failed: no space left on the device .*MB free.*nothing was "
                                           r"replaced"):
        stage.save_pretrained(tmp_path / "s")
    assert snapshot(tmp_path) == before  # the old folder intact, no temp left


def test_full_disk_during_assemble_eval_report_and_render(tmp_path, fake_weights, monkeypatch):
    import cascade.io_utils as io

    real_replace = os.replace

    def full(src, dst, *a, **k):  # every atomic write ends in a rename: fail there, after the data went out
        raise OSError(errno.ENOSPC, "No space left on device")

    before = snapshot(tmp_path)
    monkeypatch.setattr(io.os, "replace", full)
    r = run("render", "a red circle", "-o", tmp_path / "o.mp4", "--weights", fake_weights, "-q")
    one_sentence(r, "no space left on the device")
    r = run("assemble", "--stage", f"text={fake_weights / 'text'}", "--stage", f"base={fake_weights / 'base'}",
            "--out", tmp_path / "w")
    one_sentence(r, "no space left on the device")
    monkeypatch.setattr(io.os, "replace", real_replace)
    assert snapshot(tmp_path) == before


def test_full_disk_during_a_checkpoint_names_the_checkpoint_and_the_last_good_one(tmp_path, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text((ROOT / "configs" / "spatial_sr" / "tiny.yaml").read_text())
    out = tmp_path / "run"
    r = run("train", "spatial_sr", "--config", cfg, "--out", out, "--max-steps", "2", "--device", "cpu", "-q",
            "--set", "checkpoint_every=1", "--set", "sample_every=100", "--set", "batch_size=2",
            "--set", "data.num_clips=8", "--set", "max_steps=4")
    assert r.exit_code == 0, r.output
    good = snapshot(out / "checkpoints")
    import safetensors.torch

    real = safetensors.torch.save_model

    def full_after_weights(model, path, *a, **k):  # the weights go out, then the device is full
        real(model, path, *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_model", full_after_weights)
    r = run("train", "spatial_sr", "--config", cfg, "--out", out, "--resume", "--max-steps", "3", "--device", "cpu",
            "-q", "--set", "checkpoint_every=1", "--set", "sample_every=100", "--set", "batch_size=2",
            "--set", "data.num_clips=8", "--set", "max_steps=4")
    one_sentence(r, "no space left on the device")
    text = " ".join(r.output.split())
    assert "step_000003 needs about" in text and "the last good checkpoint" in text and "step_000002 is intact" in text
    assert snapshot(out / "checkpoints") == good


# -- one writer per run folder; a failed run leaves nothing ------------------------------------------------------
def test_a_second_trainer_on_the_same_run_folder_is_refused_with_the_first_ones_pid(tmp_path):
    from cascade.training.lock import RunLock

    out = tmp_path / "run"
    out.mkdir()
    held = RunLock(out).acquire()
    try:
        r = run("train", "spatial_sr", "--config", ROOT / "configs" / "spatial_sr" / "tiny.yaml", "--out", out,
                "--max-steps", "1", "--device", "cpu", "-q")
        one_sentence(r, f"{out} is in use by another cascade train (PID {os.getpid()})")
        assert not (out / "metrics.jsonl").exists() and not (out / "checkpoints").exists()
    finally:
        held.release()


def test_a_failed_train_leaves_no_empty_run_folder(tmp_path):
    out = tmp_path / "run"
    r = run("train", "spatial_sr", "--config", ROOT / "configs" / "spatial_sr" / "tiny.yaml", "--out", out,
            "--device", "cpu", "-q", "--set", "data.kind=folder", "--set", f"data.path={tmp_path / 'no_videos'}")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert not out.exists()


def test_a_nonfinite_streak_before_any_checkpoint_does_not_advise_resume(tmp_path):
    r = run("train", "spatial_sr", "--config", ROOT / "configs" / "spatial_sr" / "tiny.yaml", "--out",
            tmp_path / "run", "--device", "cpu", "-q", "--set", "optim.lr=1e30", "--set", "max_nan_steps=2",
            "--set", "batch_size=2", "--set", "data.num_clips=8", "--set", "optim.warmup_steps=0",
            "--set", "optim.grad_clip=0")
    if r.exit_code == 0:
        pytest.skip("the loss stayed finite at this learning rate")
    one_sentence(r, "no checkpoint was written outside such a streak")
    assert "--resume" not in r.output and "start again with a new --out" in " ".join(r.output.split())


# -- configs, counts and weight files a user hands us -------------------------------------------------------------
@pytest.mark.parametrize("content, extra, message", [
    (b"stage: spatial_sr\npreset: tiny\n# \xff\xfe\n", [], "is not UTF-8 text (byte 0xff"),
    (b"stage: spatial_sr\x00\n", [], "holds a NUL character"),
    (b"stage: spatial_sr\npreset: tiny\nbatch_size: 100000\n", [], "field 'batch_size' is invalid (got 100000)"),
    (b"stage: spatial_sr\npreset: tiny\n", ["--max-steps", "99999999999"], "--max-steps 99999999999 is more than"),
    (b"stage: spatial_sr\npreset: tiny\nnum_workers: 1000\n", [], "field 'num_workers' is invalid"),
], ids=["non-utf8", "nul", "batch", "max-steps", "workers"])
def test_train_refuses_bad_configs_and_counts_and_leaves_no_folder(tmp_path, content, extra, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(content)
    r = run("train", "spatial_sr", "--config", cfg, "--out", tmp_path / "run", "--device", "cpu", *extra)
    one_sentence(r, message)
    assert not (tmp_path / "run").exists()


def test_eval_seeds_have_a_maximum(tmp_path, fake_weights):
    one_sentence(run("eval", fake_weights, "--out", tmp_path / "r", "--seeds", "101"), "--seeds must be from 1 to 100")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "is not a readable safetensors file"),
    (lambda b: (10 ** 10).to_bytes(8, "little") + b[8:], "is not a readable safetensors file"),
    (lambda b: b"\x80\x04\x95" + b[3:], "is a pickle/zip file"),
    (lambda b: b"", "is not a readable safetensors file"),
], ids=["truncated", "oversized-header", "pickle", "empty"])
def test_a_damaged_stage_folder_is_refused_where_it_enters(tmp_path, fake_weights, damage, message):
    """A stage folder handed to assemble has no manifest to check it against: the file itself is checked."""
    import shutil

    folder = tmp_path / "base"
    shutil.copytree(fake_weights / "base", folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    r = run("assemble", "--stage", f"text={fake_weights / 'text'}", "--stage", f"base={folder}", "--out",
            tmp_path / "w")
    one_sentence(r, message)
    assert not (tmp_path / "w").exists()


def test_full_disk_while_writing_the_eval_report_and_a_data_set(tmp_path, fake_weights, monkeypatch):
    import cascade.io_utils as io

    def full(src, dst, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "replace", full)
    r = run("eval", fake_weights, "--out", tmp_path / "rep", "--seeds", "1", "--max-prompts", "2", "-q")
    one_sentence(r, "no space left on the device")
    assert not (tmp_path / "rep" / "report.json").exists() and not (tmp_path / "rep" / "index.html").exists()
    r = run("data", "shapes", "--out", tmp_path / "data", "--clips", "2", "--frames", "4", "--size", "16", "-q")
    one_sentence(r, "no space left on the device")
    assert not (tmp_path / "data").exists()
    assert not [p for p in tmp_path.rglob(".*tmp*")]  # no temp left behind


# -- kill -9 at random moments ------------------------------------------------------------------------------------
KILL_SEED = 7  # the moments are random but fixed, so a failure replays


def test_sigkill_at_random_moments_then_resume_gives_the_losses_of_an_uninterrupted_run(tmp_path):
    """A toy run is killed with SIGKILL three times at random moments (in a step, in a checkpoint write, anywhere)
    and resumed each time; its logged losses equal those of a run never interrupted, step for step."""
    import random
    import signal
    import subprocess
    import sys
    import time

    from test_training import REPO, TESTS_DIR, ToyTask, fit, subprocess_env, toy_config, train_records

    steps = 60
    cfg = dict(max_steps=steps, checkpoint_every=3, log_every=1)
    fit(ToyTask(), toy_config(**cfg), tmp_path / "straight")
    script = tmp_path / "train.py"
    script.write_text(f"""
import sys, time
sys.path.insert(0, {str(TESTS_DIR)!r})
import torch
from test_training import ToyTask, toy_config, fit
loss = ToyTask.loss
def slow_loss(self, *a, **k):  # a few steps a second, so a kill lands anywhere in the run
    time.sleep(0.05)
    return loss(self, *a, **k)
ToyTask.loss = slow_loss
fit(ToyTask(), toy_config(max_steps={steps}, checkpoint_every=3, log_every=1), {str(tmp_path / 'killed')!r},
    resume=True)
""")
    rng = random.Random(KILL_SEED)
    log = tmp_path / "killed" / "metrics.jsonl"
    killed_at = []
    for _ in range(3):
        before = len(log.read_text().splitlines()) if log.exists() else 0
        proc = subprocess.Popen([sys.executable, str(script)], env=subprocess_env(), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not (
                log.exists() and len(log.read_text().splitlines()) > before):
            time.sleep(0.01)  # wait until this process trains, then kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at.append(len(train_records(tmp_path / "killed")))
    assert killed_at[-1] < steps  # the last kill still left steps to do
    subprocess.run([sys.executable, str(script)], env=subprocess_env(), cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    straight = [(r["step"], r["loss"]) for r in train_records(tmp_path / "straight")]
    resumed = [(r["step"], r["loss"]) for r in train_records(tmp_path / "killed")]
    assert resumed == straight and len(straight) == steps


def test_half_precision_training_on_a_cpu_warns(tmp_path):
    r = run("train", "spatial_sr", "--config", ROOT / "configs" / "spatial_sr" / "tiny.yaml", "--out",
            tmp_path / "run", "--device", "cuda", "--dtype", "bfloat16", "-q")  # said before CUDA is found missing
    assert "bfloat16 on a CPU is several times slower than float32" in " ".join(r.output.split())
    one_sentence(r, "CUDA is not available")


def test_safetensors_whose_header_length_starts_with_0x80_loads(tmp_path):
    """The first byte of a safetensors file is the low byte of its header length, which can be 0x80 (the first byte
    of a pickle): such a file is still safetensors and loads."""
    import torch
    from safetensors.torch import save_file

    from cascade.io_utils import load_safetensors

    path = tmp_path / "model.safetensors"
    for pad in range(512):
        save_file({"w": torch.arange(4.0)}, str(path), metadata={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert torch.equal(load_safetensors(path)["w"], torch.arange(4.0))
