"""The generic trainer on a toy regression task: resume, NaN guard, checkpoints, EMA, configs, metrics, DDP."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from cascade.errors import CascadeError
from cascade.training import (EMA, TrainConfig, Trainer, apply_overrides, export_run, list_checkpoints,
                              load_config, load_latest, save_checkpoint)
from cascade.training.batches import BatchOrder
from cascade.training.checkpoint import flatten_optimizer_state, unflatten_optimizer_state

TESTS_DIR = Path(__file__).parent
REPO = TESTS_DIR.parent


# -- a toy task: a 4 -> 16 -> 1 MLP (with dropout, so the global RNG matters) regressing sin ---------------
class ToyDataset(torch.utils.data.Dataset):
    def __init__(self, n: int = 24):
        self.x = torch.linspace(-1, 1, n * 4).reshape(n, 4)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i]
        return {"x": x, "y": torch.sin(3 * x).sum(-1, keepdim=True), "index": i}


class ToyTask:
    def __init__(self, nan_steps=(), init_seed: int = 0):
        torch.manual_seed(init_seed)
        self.model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Dropout(0.2),
                                         torch.nn.Linear(16, 1))
        self.nan_steps, self.calls = set(nan_steps), 0
        self.previews, self.preview_weights, self.exports, self.seen = [], {}, [], []

    def dataset(self):
        return ToyDataset()

    def collate(self, items):
        return {"x": torch.stack([it["x"] for it in items]), "y": torch.stack([it["y"] for it in items]),
                "index": torch.tensor([it["index"] for it in items])}

    def loss(self, model, batch, generator):
        self.calls += 1
        self.seen.extend(batch["index"].tolist())
        noise = 0.1 * torch.randn(batch["x"].shape, generator=generator, device=generator.device)
        loss = F.mse_loss(model(batch["x"] + noise), batch["y"])
        return loss * float("nan") if self.calls in self.nan_steps else loss

    def preview(self, model, step, out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.previews.append(step)
        self.preview_weights[step] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"weight_norm": float(model[0].weight.norm())}

    def export(self, model, out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps({"type": "toy"}))
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out_dir / "model.safetensors"))
        self.exports.append(out_dir)


def toy_config(**kw) -> TrainConfig:
    base = dict(stage="toy", batch_size=4, max_steps=6, checkpoint_every=2, sample_every=100, log_every=1,
                ema_decay=0.9, trackers=[], optim={"lr": 1e-2, "warmup_steps": 2, "schedule": "cosine"})
    base.update(kw)
    return TrainConfig.model_validate(base)


def fit(task, cfg, run_dir, **kw):
    return Trainer(task, cfg, run_dir, accelerator_kwargs={"cpu": True}, progress=False).fit(**kw)


def train_records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["event"] == "train"]


def hidden_dirs(run_dir):
    return [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env():
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# -- resume --------------------------------------------------------------------------------------------
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    cfg = toy_config(optim={"lr": 1e-2, "warmup_steps": 2, "schedule": "cosine", "grad_accum": 2})
    straight = ToyTask()
    summary = fit(straight, cfg, tmp_path / "a")
    assert summary["steps"] == 6 and summary["nan_skipped"] == 0

    fit(ToyTask(), cfg.model_copy(update={"num_workers": 2}), tmp_path / "b", max_steps=3)  # prefetch threads too
    assert [s for s, _ in list_checkpoints(tmp_path / "b")] == [2, 3]
    resumed = ToyTask(init_seed=123)  # different init: everything must come from the checkpoint
    fit(resumed, cfg, tmp_path / "b", resume=True)

    a, b = train_records(tmp_path / "a"), train_records(tmp_path / "b")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in a] == [r["loss"] for r in b]  # exact float equality
    assert len({r["loss"] for r in a}) == 6  # the losses really change from step to step
    assert [r["lr"] for r in a] == [r["lr"] for r in b]
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    ema_a = load_file(str(tmp_path / "a/checkpoints/step_000006/ema.safetensors"))
    ema_b = load_file(str(tmp_path / "b/checkpoints/step_000006/ema.safetensors"))
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    assert [s for s, _ in list_checkpoints(tmp_path / "b")] == [4, 6]  # keeps the last 2
    assert hidden_dirs(tmp_path / "b") == []
    # a second resume at the target does nothing; a fresh fit into a used run_dir is refused
    assert fit(ToyTask(), cfg, tmp_path / "b", resume=True)["steps"] == 6
    with pytest.raises(CascadeError, match="already has checkpoints.*--resume"):
        fit(ToyTask(), cfg, tmp_path / "b")


def test_sigkilled_run_leaves_only_complete_checkpoints_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    script = tmp_path / "slow_train.py"
    script.write_text(f"""
import sys, time
import safetensors.torch
sys.path.insert(0, {str(TESTS_DIR)!r})
from test_training import ToyTask, toy_config, fit

save_file = safetensors.torch.save_file
def slow_save_file(*args, **kwargs):  # saves take long, so the kill lands inside one
    time.sleep(0.3)
    return save_file(*args, **kwargs)
safetensors.torch.save_file = slow_save_file

fit(ToyTask(), toy_config(max_steps=100000, checkpoint_every=1), {str(run_dir)!r})
""")
    proc = subprocess.Popen([sys.executable, str(script)], env=subprocess_env(), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and not (
                len(list_checkpoints(run_dir)) >= 2 and hidden_dirs(run_dir)):
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert hidden_dirs(run_dir)  # killed in the middle of writing a checkpoint
    latest = load_latest(run_dir)
    assert latest is not None and latest.step >= 2
    for _, path in list_checkpoints(run_dir):  # every visible checkpoint is whole
        assert {p.name for p in path.iterdir()} >= {"model.safetensors", "ema.safetensors", "optimizer.safetensors",
                                                    "optimizer.json", "trainer_state.json"}
    resumed = ToyTask()
    summary = fit(resumed, toy_config(max_steps=latest.step + 2, checkpoint_every=1), run_dir, resume=True)
    assert summary["steps"] == latest.step + 2
    assert hidden_dirs(run_dir) == []  # stale temp folders of the killed save are cleaned up
    steps = [r["step"] for r in train_records(run_dir)]
    assert steps == list(range(1, latest.step + 3))  # records past the checkpoint were dropped, none repeated


# -- NaN guard -------------------------------------------------------------------------------------------
def test_nonfinite_loss_skips_the_step_and_is_logged(tmp_path, caplog):
    clean = ToyTask()
    fit(clean, toy_config(max_steps=1), tmp_path / "clean")
    poisoned = ToyTask(nan_steps={2})
    with caplog.at_level(logging.WARNING, logger="cascade.training"):
        summary = fit(poisoned, toy_config(max_steps=2), tmp_path / "nan")
    assert summary["nan_skipped"] == 1
    for k, v in clean.model.state_dict().items():  # step 2 changed no parameter
        assert torch.equal(v, poisoned.model.state_dict()[k]), k
    ema_clean = load_file(str(tmp_path / "clean/export/model.safetensors"))  # exports hold the EMA weights
    ema_nan = load_file(str(tmp_path / "nan/export/model.safetensors"))
    assert all(torch.equal(ema_clean[k], ema_nan[k]) for k in ema_clean)  # nor the EMA
    # the target step is checkpointed even mid-streak (its weights are the healthy ones: the step was skipped)
    assert [s for s, _ in list_checkpoints(tmp_path / "nan")] == [2]
    assert any("step 2" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    records = [json.loads(line) for line in (tmp_path / "nan/metrics.jsonl").read_text().splitlines()]
    bad = [r for r in records if r["event"] == "nonfinite"]
    assert [(r["step"], r["loss"], r["nan_skipped"]) for r in bad] == [(2, None, 1)]

    recovered = ToyTask(nan_steps={2})
    assert fit(recovered, toy_config(max_steps=4, max_nan_steps=2), tmp_path / "ok")["nan_skipped"] == 1
    assert [r["step"] for r in train_records(tmp_path / "ok")] == [1, 2, 3, 4]  # not two in a row: it goes on


def test_k_nonfinite_losses_in_a_row_stop_the_run(tmp_path):
    task = ToyTask(nan_steps={2, 3, 4, 5})
    with pytest.raises(CascadeError, match=r"^training stopped: 3 steps in a row with a non-finite loss or gradient, "
                                           r"up to step 4; no checkpoint was written outside such a streak; lower "
                                           r"optim.lr and start again with a new --out, or check the data$"):
        fit(task, toy_config(max_steps=10, max_nan_steps=3), tmp_path / "run")
    assert task.calls == 4


def test_a_nonfinite_streak_keeps_the_healthy_checkpoints(tmp_path):
    """Checkpoints written during a streak must not rotate the healthy ones away (keep 2): '--resume with a lower
    lr' must find healthy weights, not the diverged ones."""
    task = ToyTask(nan_steps=set(range(7, 30)))
    with pytest.raises(CascadeError, match=r"newest checkpoint written outside such a streak is .*step_000006; "
                                           r"lower optim.lr and --resume"):
        fit(task, toy_config(max_steps=20, checkpoint_every=1, max_nan_steps=5), tmp_path / "run")
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [5, 6]
    assert load_latest(tmp_path / "run").state["nan_in_row"] == 0
    streak_at_end = ToyTask(nan_steps={10})  # a non-finite last step: checkpointed, nothing rotated away
    fit(streak_at_end, toy_config(max_steps=10, checkpoint_every=2), tmp_path / "end")
    assert [s for s, _ in list_checkpoints(tmp_path / "end")] == [6, 8, 10]
    resumed = fit(ToyTask(), toy_config(max_steps=8, checkpoint_every=1), tmp_path / "run", resume=True)
    assert resumed["steps"] == 8 and resumed["nan_skipped"] == 0


def test_max_steps_past_a_cosine_schedule_is_refused(tmp_path):
    """The cosine lr reaches 0 at the config's max_steps: '--max-steps 8' of a 6-step config trained at lr 0."""
    with pytest.raises(CascadeError, match=r"--max-steps 8 is past the config's max_steps 6, where the cosine "
                                           r"learning rate reaches 0; .*--set max_steps=8"):
        fit(ToyTask(), toy_config(), tmp_path / "run", max_steps=8)
    constant = toy_config(optim={"lr": 1e-2, "warmup_steps": 2, "schedule": "constant"})
    assert fit(ToyTask(), constant, tmp_path / "const", max_steps=8)["steps"] == 8  # a constant lr has no end


# -- checkpoints --------------------------------------------------------------------------------------------
def test_checkpoints_are_atomic_keep_two_and_roundtrip_optimizer(tmp_path):
    task = ToyTask()
    opt = torch.optim.AdamW(task.model.parameters(), lr=1e-3)
    task.model(torch.randn(3, 4)).sum().backward()
    opt.step()
    ema = EMA(task.model, 0.9)
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, step, model=task.model, ema=ema, optimizer=opt, state={"hello": step})
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 4]
    assert hidden_dirs(tmp_path) == []
    # a save killed midway leaves only a hidden temp folder, which load_latest never picks
    partial = tmp_path / "checkpoints" / ".step_000005.x1y2.tmp"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\0" * 10)
    latest = load_latest(tmp_path)
    assert latest.step == 4 and latest.state["hello"] == 4
    # a damaged newest checkpoint (a truncated file: power loss) gives way to the one before, with a warning
    good = (tmp_path / "checkpoints" / "step_000004" / "model.safetensors").read_bytes()
    for name in ("model.safetensors", "optimizer.safetensors"):
        f = tmp_path / "checkpoints" / "step_000004" / name
        keep = f.read_bytes()
        f.write_bytes(keep[: len(keep) // 2] if name == "model.safetensors" else b"")
        assert load_latest(tmp_path).step == 3, name
        f.write_bytes(keep)
    assert (tmp_path / "checkpoints" / "step_000004" / "model.safetensors").read_bytes() == good
    assert load_latest(tmp_path).step == 4
    assert not list((tmp_path / "checkpoints").glob("*.pt")) and not list((tmp_path / "checkpoints").rglob("*.pkl"))

    opt2 = torch.optim.AdamW(ToyTask(init_seed=5).model.parameters(), lr=1e-3)
    latest.load_optimizer(opt2)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for i in s1["state"]:
        for k in s1["state"][i]:
            assert torch.equal(s1["state"][i][k], s2["state"][i][k])
    tensors, rest = flatten_optimizer_state(s1)
    assert set(tensors) >= {"state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step"}
    json.dumps(rest)  # the non-tensor rest is plain JSON
    assert unflatten_optimizer_state(tensors, rest)["param_groups"][0]["betas"] == s1["param_groups"][0]["betas"]


# -- EMA ---------------------------------------------------------------------------------------------------------
def test_ema_follows_the_warmup_formula_and_swap_restores():
    model = torch.nn.Linear(2, 1)
    model.bias.requires_grad_(False)  # frozen parameters are not averaged
    ema = EMA(model, decay=0.9, warmup=True)
    assert set(ema.shadow) == {"weight"}
    expected = model.weight.detach().clone()
    decays = []
    for t in range(100):  # (1 + t) / (10 + t) reaches 0.9 at t = 80
        with torch.no_grad():
            model.weight.add_(1.0)
        d = min(0.9, (1 + t) / (10 + t))
        decays.append(ema.current_decay())
        ema.update(model)
        expected = d * expected + (1 - d) * model.weight.detach()
        assert torch.allclose(ema.shadow["weight"], expected, atol=1e-5)
    assert decays[0] == pytest.approx(0.1) and decays[1] == pytest.approx(2 / 11) and decays[-1] == 0.9

    flat = EMA(torch.nn.Linear(2, 1), decay=0.9, warmup=False)
    assert flat.current_decay() == 0.9

    live = model.weight.detach().clone()
    with ema.swap(model):
        assert torch.equal(model.weight, ema.shadow["weight"])
    assert torch.equal(model.weight, live)
    with pytest.raises(RuntimeError), ema.swap(model):
        raise RuntimeError("boom")
    assert torch.equal(model.weight, live)  # restored even when the block fails

    other = EMA(model, decay=0.9)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 100 and torch.equal(other.shadow["weight"], ema.shadow["weight"])


# -- configs ----------------------------------------------------------------------------------------------------
def test_config_errors_name_the_file_and_field(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("stage: base_video\noptim:\n  lr: 1e-3\n  schedule: cosine\nbatch_size: 8\n"
                    "data: {kind: shapes, num_clips: 64}\n")
    cfg = load_config(good)
    assert cfg.optim.lr == 1e-3 and cfg.optim.schedule == "cosine" and cfg.data["num_clips"] == 64
    assert cfg.trackers == ["tensorboard"] and cfg.mixed_precision == "auto"
    as_json = tmp_path / "good.json"
    as_json.write_text(cfg.model_dump_json())
    assert load_config(as_json) == cfg

    cases = {
        "typo.yaml": ("stage: x\noptim:\n  lerning_rate: 1\n",
                      r"^.*typo\.yaml: unknown field 'lerning_rate' in optim; check its spelling$"),
        "top.json": ('{"stage": "x", "max_step": 3}', r"top\.json: unknown field 'max_step'; check its spelling$"),
        "type.json": ('{"stage": "x", "batch_size": "many"}', r"type\.json: field 'batch_size' is invalid \(got 'many'\)"),
        "enum.yaml": ("stage: x\noptim: {schedule: linear}\n", r"enum\.yaml: field 'optim.schedule' is invalid"),
        "missing.yaml": ("batch_size: 2\n", r"missing\.yaml: required field 'stage' is missing"),
        "broken.yaml": ("stage: [x\n", r"broken\.yaml is not valid YAML"),
        "broken.json": ('{"stage": ', r"broken\.json is not valid JSON"),
        "cfg.toml": ("stage = 'x'", r"unknown config format '\.toml'"),
    }
    for name, (text, pattern) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(CascadeError, match=pattern):
            load_config(tmp_path / name)
    with pytest.raises(CascadeError, match="nope.yaml is missing"):
        load_config(tmp_path / "nope.yaml")

    new = apply_overrides(cfg, ["optim.lr=2e-3", "max_steps=10", "data.num_clips=8", "trackers=[]",
                                "optim.grad_clip=null"])
    assert (new.optim.lr, new.max_steps, new.data["num_clips"], new.trackers, new.optim.grad_clip) == \
        (2e-3, 10, 8, [], None)
    assert new.optim.schedule == "cosine" and cfg.optim.lr == 1e-3  # the rest kept, the original untouched
    with pytest.raises(CascadeError, match=r"--set: unknown field 'lerning' in optim"):
        apply_overrides(cfg, ["optim.lerning=1"])
    with pytest.raises(CascadeError, match=r"--set: field 'max_steps' is invalid"):
        apply_overrides(cfg, ["max_steps=-1"])
    with pytest.raises(CascadeError, match="not KEY=VALUE"):
        apply_overrides(cfg, ["max_steps"])
    one = apply_overrides(cfg, ["preview_prompts=a red circle moving left"])  # a list field given one string
    assert one.preview_prompts == ["a red circle moving left"]
    for lr in ("inf", "nan"):  # inf was accepted
        with pytest.raises(CascadeError, match=r"--set: field 'optim.lr' is invalid"):
            apply_overrides(cfg, [f"optim.lr={lr}"])


def test_trackers_unknown_is_an_error_and_missing_is_said(caplog, monkeypatch):
    import accelerate.utils as au

    from cascade.training.metrics import available_trackers

    with pytest.raises(CascadeError, match="unknown tracker 'nope' in trackers; accelerate knows .*wandb"):
        available_trackers(["nope"])
    monkeypatch.setattr(au, "is_wandb_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="cascade.training"):
        assert available_trackers(["wandb"]) == []  # asked for, not installed: said (was a debug line)
    assert any(r.levelno == logging.WARNING and "wandb is not installed" in r.getMessage() for r in caplog.records)


# -- metrics, trackers, previews, export ------------------------------------------------------------------------
def test_metrics_previews_and_export(tmp_path):
    task = ToyTask()
    cfg = toy_config(max_steps=5, log_every=2, sample_every=2, checkpoint_every=10, trackers=["tensorboard"])
    fit(task, cfg, tmp_path)
    records = train_records(tmp_path)
    assert [r["step"] for r in records] == [2, 4, 5]
    for r in records:
        assert set(r) >= {"step", "loss", "lr", "grad_norm", "samples_per_s", "nan_skipped", "wall"}
        assert r["loss"] > 0 and r["samples_per_s"] > 0 and r["grad_norm"] > 0 and r["nan_skipped"] == 0
    assert records[0]["wall"] < records[-1]["wall"]
    assert list(tmp_path.glob("cascade-toy/events.out.tfevents.*"))  # tensorboard is installed in dev
    assert task.previews == [2, 4, 5]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000002", "step_000004", "step_000005"]
    previews = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
                if json.loads(line)["event"] == "preview"]
    assert [p["step"] for p in previews] == [2, 4, 5] and all(p["weight_norm"] > 0 for p in previews)

    # previews and the export see the EMA weights; the live weights come back afterwards
    ckpt = load_latest(tmp_path)
    ema = load_file(str(ckpt.path / "ema.safetensors"))
    live = load_file(str(ckpt.path / "model.safetensors"))
    assert torch.equal(task.preview_weights[5]["0.weight"], ema["0.weight"])
    assert not torch.equal(ema["0.weight"], live["0.weight"])
    assert torch.equal(task.model.state_dict()["0.weight"], live["0.weight"])
    assert task.exports == [tmp_path / "export"]
    assert torch.equal(load_file(str(tmp_path / "export/model.safetensors"))["0.weight"], ema["0.weight"])
    assert load_config(tmp_path / "config.json") == cfg

    fresh = ToyTask(init_seed=9)
    export_run(tmp_path, tmp_path / "stage", fresh)
    assert torch.equal(load_file(str(tmp_path / "stage/model.safetensors"))["0.weight"], ema["0.weight"])
    with pytest.raises(CascadeError, match="has no complete checkpoint"):
        export_run(tmp_path / "empty", tmp_path / "stage2", fresh)


def test_batch_order_is_a_pure_function_disjoint_across_ranks():
    a = BatchOrder(10, 3, seed=1, world_size=2, grad_accum=1)
    b = BatchOrder(10, 3, seed=1, world_size=2, grad_accum=1)
    assert a.indices(7, 0, 1) == b.indices(7, 0, 1)
    assert a.indices(1, 0, 0) != BatchOrder(10, 3, seed=2, world_size=2).indices(1, 0, 0)
    # steps 1..5 cover 30 positions = 3 epochs; every epoch is one permutation
    stream = [i for s in range(1, 6) for r in range(2) for i in a.indices(s, 0, r)]
    assert all(sorted(stream[e * 10:(e + 1) * 10]) == list(range(10)) for e in range(3))
    assert set(a.indices(1, 0, 0)).isdisjoint(a.indices(1, 0, 1))


# -- two processes (DDP over gloo) ---------------------------------------------------------------------------
def test_two_process_accelerate_launch(tmp_path):
    run_dir = tmp_path / "run"
    script = tmp_path / "ddp_train.py"
    script.write_text(f"""
import json, sys
sys.path.insert(0, {str(TESTS_DIR)!r})
from test_training import ToyTask, toy_config
from cascade.training import Trainer

task = ToyTask()
trainer = Trainer(task, toy_config(max_steps=3, checkpoint_every=10, sample_every=3), {str(run_dir)!r},
                  accelerator_kwargs={{"cpu": True}}, progress=False)
summary = trainer.fit()
rank = trainer.accelerator.process_index
open({str(run_dir)!r} + f"/indices_{{rank}}.json", "w").write(json.dumps(
    {{"seen": task.seen, "previews": task.previews, "weight": task.model[0].weight.sum().item(),
      "world": trainer.accelerator.num_processes}}))

# a non-finite streak stops both ranks with the same sentence (rank 1 knows of the same healthy checkpoint)
from cascade.errors import CascadeError
streak = Trainer(ToyTask(nan_steps=set(range(4, 30))), toy_config(max_steps=20, checkpoint_every=1, max_nan_steps=2),
                 {str(run_dir)!r} + "_nan", accelerator_kwargs={{"cpu": True}}, progress=False)
try:
    streak.fit()
except CascadeError as e:
    open({str(run_dir)!r} + f"/stop_{{rank}}.txt", "w").write(str(e))
# what `cascade train` does after its run: without it a gloo thread freeing a finished all-reduce during interpreter shutdown
# aborted one process in about 1 run of 17 (SIGABRT, "terminate called without an active exception")
streak.end()
""")
    # accelerate 1.x: `--cpu` alone runs ONE process (simple launcher); `--multi_gpu` starts torchrun, and the
    # script's Accelerator(cpu=True) then joins the two processes over gloo on the CPU
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
           str(script)]
    proc = subprocess.run(cmd, env=subprocess_env(), cwd=REPO, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = [json.loads((run_dir / f"indices_{r}.json").read_text()) for r in (0, 1)]
    assert [g["world"] for g in logs] == [2, 2]
    assert len(logs[0]["seen"]) == len(logs[1]["seen"]) == 12
    assert set(logs[0]["seen"]).isdisjoint(logs[1]["seen"])  # different data on each rank
    assert logs[0]["weight"] == logs[1]["weight"]  # gradients were averaged: weights agree
    assert (logs[0]["previews"], logs[1]["previews"]) == ([3], [])  # preview on the main process only
    assert [s for s, _ in list_checkpoints(run_dir)] == [3] and hidden_dirs(run_dir) == []
    assert [r["step"] for r in train_records(run_dir)] == [1, 2, 3]  # one writer
    stops = [(run_dir / f"stop_{r}.txt").read_text() for r in (0, 1)]
    assert stops[0] == stops[1] and "step_000003" in stops[0], stops


def test_cascade_train_under_a_two_process_accelerate_launch(tmp_path):
    """The researcher's multi-process command, as examples/train_cascade.sh gives it: `accelerate launch -m cascade.cli
    train`. Both processes end with status 0 (they close the process group: see Trainer.end) and one of them writes."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
           "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()), "-m",
           "cascade.cli", "train", "base_video", "--config", "configs/base_video/tiny.yaml", "--out", str(out),
           "--device", "cpu", "-q"]
    proc = subprocess.run(cmd, env=subprocess_env(), cwd=REPO, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["step"] for r in train_records(out)] == [1, 2, 3]  # one writer, three steps of a global batch of 4
    assert [s for s, _ in list_checkpoints(out)] == [2, 3] and (out / "export" / "model.safetensors").is_file()
    assert json.loads((out / "checkpoints" / "step_000003" / "trainer_state.json").read_text())["world_size"] == 2


def test_tensorboard_after_a_resume_shows_each_step_once(tmp_path):
    """Events past the checkpoint a run resumes from were kept, so TensorBoard drew steps twice."""
    import shutil

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = toy_config(max_steps=4, log_every=1, checkpoint_every=2, trackers=["tensorboard"])
    fit(ToyTask(), cfg, tmp_path, max_steps=3)  # logs 1, 2, 3; checkpoints 2 and 3
    shutil.rmtree(tmp_path / "checkpoints" / "step_000003")  # as if killed before step 3's checkpoint
    fit(ToyTask(), cfg, tmp_path, resume=True)  # from step 2: logs 3 and 4 again
    acc = EventAccumulator(str(tmp_path / "cascade-toy"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("loss")] == [1, 2, 3, 4]


def test_a_stray_file_in_the_run_export_is_refused_before_training(tmp_path):
    """The export at the end replaces RUN/export and would refuse a folder holding other files: after training."""
    (tmp_path / "export").mkdir(parents=True)
    (tmp_path / "export" / "notes.txt").write_text("mine")
    task = ToyTask()
    with pytest.raises(CascadeError, match=r"export holds notes.txt, which the export at the end .*nothing was trained"):
        fit(task, toy_config(max_steps=2), tmp_path)
    assert task.calls == 0 and (tmp_path / "export" / "notes.txt").read_text() == "mine"
