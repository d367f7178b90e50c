"""The stage-agnostic training loop on accelerate: AdamW, warm-up, clipping, EMA, checkpoints, resume, NaN guard."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from cascade.errors import CascadeError
from cascade.io_utils import atomic_write_text, foreign_entries
from cascade.stage import CONFIG_NAME, WEIGHTS_NAME
from cascade.training.batches import BatchOrder, BatchSource, loss_generator, mix_seed
from cascade.training.checkpoint import (CHECKPOINTS, capture_rng, checkpoint_name, load_latest, remove_stale_temp,
                                         restore_rng, save_checkpoint)
from cascade.training.config import TrainConfig
from cascade.training.lock import RunLock
from cascade.training.ema import EMA
from cascade.training.metrics import MetricsLog, available_trackers, flat_hparams
from cascade.training.optim import build_optimizer, lr_at, set_lr
from cascade.training.task import TrainTask

log = logging.getLogger(__name__)

RUN_CONFIG = "config.json"


class Trainer:
    """Trains `task.model` per `config`, writing everything into `run_dir`.

    Works unchanged on CPU, one GPU, or many processes under `accelerate launch` (DDP). `batch_size` is
    per process and micro-step. Only the main process writes checkpoints, metrics, samples and the export.
    """

    def __init__(self, task: TrainTask, config: TrainConfig, run_dir: str | Path, *,
                 accelerator_kwargs: dict | None = None, progress: bool = True):
        self.task, self.config, self.run_dir, self.progress = task, config, Path(run_dir), progress
        self.accelerator = self._make_accelerator(dict(accelerator_kwargs or {}))
        self.metrics = MetricsLog(self.run_dir)
        self._lock: RunLock | None = None

    def _make_accelerator(self, kwargs: dict):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        cpu = bool(kwargs.get("cpu")) or not torch.cuda.is_available()
        precision = self.config.mixed_precision
        if precision == "auto":
            if os.environ.get("ACCELERATE_MIXED_PRECISION"):  # set by `accelerate launch --mixed_precision`
                precision = None
            else:
                precision = "bf16" if not cpu and torch.cuda.is_bf16_supported() else "no"
        if precision == "fp16" and cpu:
            raise CascadeError("float16 mixed precision needs a GPU; on the CPU use --dtype bfloat16 or float32 "
                               "(mixed_precision: bf16 or no in a config)")
        kwargs.setdefault("mixed_precision", precision)
        kwargs.setdefault("log_with", available_trackers(self.config.trackers) or None)
        kwargs.setdefault("project_dir", str(self.run_dir))
        # stages may leave parameters unused in a step (e.g. temporal mixers bypassed for image batches)
        kwargs.setdefault("kwargs_handlers", [DistributedDataParallelKwargs(find_unused_parameters=True)])
        return Accelerator(**kwargs)

    # -- the loop ---------------------------------------------------------------------------
    def fit(self, *, resume: bool = False, max_steps: int | None = None) -> dict:
        """Train up to global step `max_steps` (default config.max_steps); returns a summary dict."""
        acc, cfg = self.accelerator, self.config
        target = max_steps or cfg.max_steps
        if target > cfg.max_steps and cfg.optim.schedule != "constant":
            raise CascadeError(f"--max-steps {target} is past the config's max_steps {cfg.max_steps}, where the "
                               f"{cfg.optim.schedule} learning rate reaches 0; to train longer raise max_steps "
                               f"(--set max_steps={target})")
        main, rank, world = acc.is_main_process, acc.process_index, acc.num_processes
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if main:
            if self._lock is None:
                self._lock = RunLock(self.run_dir).acquire()  # released by end()
            remove_stale_temp(self.run_dir)
        ckpt = load_latest(self.run_dir)
        if ckpt is not None and not resume:
            raise CascadeError(f"{self.run_dir} already has checkpoints (newest {ckpt.path.name}); pass --resume to "
                               f"continue that run or choose a new --out")
        if resume and ckpt is None:
            log.info("no checkpoint in %s yet; starting from step 0", self.run_dir)

        export = self.run_dir / "export"  # written at the end, where a stray file would stop it: say so now
        stray = foreign_entries(export, lambda rel: rel.as_posix() in (CONFIG_NAME, WEIGHTS_NAME))
        if stray:
            raise CascadeError(f"{export} holds {stray}, which the export at the end of training would delete; move "
                               f"it out first (nothing was trained)")
        dataset = self.task.dataset()
        if len(dataset) == 0:
            raise CascadeError("the training dataset is empty; check the data section of the config")
        model, optimizer = acc.prepare(self.task.model, build_optimizer(self.task.model, cfg.optim))
        raw = acc.unwrap_model(model)
        ema = EMA(raw, cfg.ema_decay, cfg.ema_warmup)
        start, nan_row, nan_total, wall_before = 0, 0, 0, 0.0
        self._last_good = ckpt.path if ckpt is not None and not ckpt.state.get("nan_in_row") else None
        if ckpt is not None:
            start, nan_row, nan_total, wall_before = self._restore(ckpt, raw, ema, optimizer)
        else:
            _seed_everything(mix_seed(cfg.seed, "global", rank))  # dropout etc.; resumes restore the saved states
        if main:
            atomic_write_text(self.run_dir / RUN_CONFIG, cfg.model_dump_json(indent=2))
            self.metrics.truncate_after(start)
        acc.wait_for_everyone()
        if start >= target:
            log.info("%s is already at step %d (target %d); nothing to do", self.run_dir, start, target)
            return {"steps": start, "final_loss": None, "nan_skipped": nan_total, "wall_s": 0.0,
                    "run_dir": str(self.run_dir)}

        accum = cfg.optim.grad_accum
        global_batch = cfg.batch_size * accum * world
        order = BatchOrder(len(dataset), cfg.batch_size, seed=cfg.seed, world_size=world, grad_accum=accum)
        source = BatchSource(dataset, self.task.collate, order, rank, cfg.num_workers)
        # a resume hides the events past its checkpoint, as metrics.jsonl drops its rows past it
        init_kwargs = {"tensorboard": {"purge_step": start + 1}} if start else {}
        acc.init_trackers(f"cascade-{cfg.stage}", config=flat_hparams(cfg.model_dump(mode="json")),
                          init_kwargs=init_kwargs)
        n_train = sum(p.numel() for p in raw.parameters() if p.requires_grad)
        log.info("training %s: %s trainable parameters, %d process(es) on %s, global batch %d, precision %s, "
                 "steps %d..%d", cfg.stage, f"{n_train:,}", world, acc.device, global_batch, acc.mixed_precision,
                 start + 1, target)

        from tqdm.auto import tqdm

        bar = tqdm(total=target, initial=start, unit="step", dynamic_ncols=True, desc=f"train {cfg.stage}",
                   disable=not (self.progress and main))
        t0 = time.perf_counter()
        window: list[float] = []
        t_window, steps_window = time.perf_counter(), 0
        last_loss, grad_norm, step = None, float("nan"), start
        model.train()
        try:
            for step in range(start + 1, target + 1):
                lr = lr_at(step, cfg.optim, cfg.max_steps)
                set_lr(optimizer, lr)
                loss, grad_norm = self._step(model, optimizer, source, step)
                steps_window += 1
                wall = wall_before + time.perf_counter() - t0
                if not math.isfinite(loss) or (not math.isfinite(grad_norm) and acc.scaler is None):
                    nan_row, nan_total = nan_row + 1, nan_total + 1
                    optimizer.zero_grad(set_to_none=True)
                    if acc.scaler is not None:
                        acc.scaler.update()  # fp16: close this step's unscale_ and back off the loss scale
                    log.warning("step %d: non-finite loss (%s) or gradient norm (%s); skipped the optimizer step "
                                "(%d in a row; no checkpoint is written until a step is finite again)", step, loss,
                                grad_norm, nan_row)
                    if main:
                        self.metrics.write({"event": "nonfinite", "step": step, "loss": loss, "lr": lr,
                                            "grad_norm": grad_norm, "nan_skipped": nan_total, "wall": wall})
                    if nan_row >= cfg.max_nan_steps:
                        last = (f"the newest checkpoint written outside such a streak is {self._last_good}"
                                if self._last_good else "no checkpoint was written outside such a streak")
                        then = ("lower optim.lr and --resume" if self._last_good
                                else "lower optim.lr and start again with a new --out")
                        raise CascadeError(f"training stopped: {nan_row} steps in a row with a non-finite loss or "
                                           f"gradient, up to step {step}; {last}; {then}, or check the data")
                else:
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    if not optimizer.step_was_skipped:  # fp16 loss-scale overflow: weights unchanged
                        ema.update(raw)
                    nan_row, last_loss = 0, loss
                    window.append(loss)
                bar.update(1)

                if step % cfg.log_every == 0 or step == target:
                    sps = steps_window * global_batch / max(time.perf_counter() - t_window, 1e-9)
                    mean = sum(window) / len(window) if window else float("nan")
                    record = {"step": step, "loss": mean, "lr": lr, "grad_norm": grad_norm, "samples_per_s": sps,
                              "nan_skipped": nan_total, "wall": wall, "epoch": order.epoch(step)}
                    if main:
                        self.metrics.write({"event": "train", **record})
                    acc.log({k: v for k, v in record.items() if k != "step" and math.isfinite(v)}, step=step)
                    bar.set_postfix(loss=f"{mean:.4g}", samples_s=f"{sps:.1f}", refresh=False)
                    window, t_window, steps_window = [], time.perf_counter(), 0
                # none during a non-finite streak, so --resume finds the newest healthy one (rotation would have
                # deleted it); at the target one anyway, without rotation, so the run's export has its checkpoint
                if (step % cfg.checkpoint_every == 0 and nan_row == 0) or step == target:
                    self._save(step, raw, ema, optimizer, nan_row, nan_total, wall_before + time.perf_counter() - t0)
                    t_window = time.perf_counter()
                if step % cfg.sample_every == 0 or step == target:
                    self._preview(raw, ema, step)
                    t_window = time.perf_counter()
            if main:
                with _fork_rng(acc.device), ema.swap(raw):
                    self.task.export(raw, self.run_dir / "export")
                log.info("exported EMA weights to %s", self.run_dir / "export")
            acc.wait_for_everyone()
        finally:
            bar.close()
            source.close()
            for tracker in acc.trackers:  # not acc.end_training(): that also closes the process group (Trainer.end)
                tracker.finish()
            acc.trackers = []
        return {"steps": step, "final_loss": last_loss, "nan_skipped": nan_total,
                "wall_s": round(time.perf_counter() - t0, 3), "samples_seen": step * global_batch,
                "run_dir": str(self.run_dir)}

    def end(self, *, synchronize: bool = True) -> None:
        """Closes a multi-process run's process group; call once, after the last `fit` of the process.

        Without it, a gloo worker thread can still be freeing a finished all-reduce (whose tensors need the GIL)
        while Python shuts down, and a run that succeeded dies with SIGABRT ("terminate called without an active
        exception"). `synchronize=False` skips the barrier, for a process leaving on an error the others may not
        share (a barrier would wait for them until the collective timeout).
        """
        acc = self.accelerator
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if acc.num_processes > 1 and torch.distributed.is_initialized():
            if synchronize:
                acc.wait_for_everyone()
                acc.state.destroy_process_group()
            else:
                try:
                    acc.state.destroy_process_group()
                except Exception as e:  # leaving on an error already: that error is the one to show
                    log.debug("closing the process group failed too: %s", e)

    def _step(self, model, optimizer, source: BatchSource, step: int) -> tuple[float, float]:
        """Forward/backward over grad_accum micro-batches; returns (loss averaged over processes, grad norm)."""
        from accelerate.utils import send_to_device

        acc, cfg = self.accelerator, self.config
        accum = cfg.optim.grad_accum
        total = torch.zeros((), device=acc.device)
        for micro in range(accum):
            batch = send_to_device(source.get(step, micro), acc.device)
            generator = loss_generator(cfg.seed, step, acc.process_index, micro, acc.device)
            sync = contextlib.nullcontext() if micro == accum - 1 else acc.no_sync(model)
            with sync:
                with acc.autocast():
                    loss = self.task.loss(model, batch, generator)
                if not torch.is_tensor(loss) or loss.numel() != 1:
                    raise TypeError(f"task.loss must return a scalar tensor, got {getattr(loss, 'shape', loss)!r}")
                acc.backward(loss.reshape(()) / accum)
            total += loss.detach().float().reshape(())
        mean = acc.reduce(total / accum, reduction="mean") if acc.num_processes > 1 else total / accum
        max_norm = cfg.optim.grad_clip or float("inf")  # inf: measure the norm without clipping
        grad_norm = acc.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_norm)
        return float(mean), float(grad_norm) if grad_norm is not None else float("nan")

    # -- checkpoints, previews ----------------------------------------------------------------
    def _save(self, step: int, raw, ema: EMA, optimizer, nan_row: int, nan_total: int, wall: float) -> None:
        from accelerate.utils import gather_object

        acc = self.accelerator
        rng = gather_object([capture_rng()]) if acc.num_processes > 1 else [capture_rng()]
        if acc.is_main_process:
            state = {"nan_in_row": nan_row, "nan_total": nan_total, "wall": wall, "world_size": acc.num_processes,
                     "config": self.config.model_dump(mode="json"), "rng": rng,
                     "scaler": acc.scaler.state_dict() if acc.scaler is not None else None}
            try:
                save_checkpoint(self.run_dir, step, model=raw, ema=ema, optimizer=optimizer.optimizer, state=state,
                                keep=2 if nan_row == 0 else 0)
            except CascadeError as e:  # a full disk: say what it needed and what survives
                need = 3 * sum(p.numel() * p.element_size() for p in raw.parameters())  # weights, EMA, Adam moments
                kept = (f"the last good checkpoint {self._last_good} is intact and --resume continues from it"
                        if self._last_good else "no checkpoint was written before this one")
                raise CascadeError(f"{str(e).rstrip('.')}; checkpoint {checkpoint_name(step)} needs about "
                                   f"{need / 2**20:.1f} MB; {kept}") from None
        if nan_row == 0:  # every rank knows it, so every rank's stop message names the same checkpoint
            self._last_good = self.run_dir / CHECKPOINTS / checkpoint_name(step)
        acc.wait_for_everyone()

    def _restore(self, ckpt, raw, ema: EMA, optimizer) -> tuple[int, int, int, float]:
        acc = self.accelerator
        ckpt.load_model(raw)
        ckpt.load_ema(ema)
        ckpt.load_optimizer(optimizer.optimizer)
        state = ckpt.state
        if state.get("scaler") and acc.scaler is not None:
            acc.scaler.load_state_dict(state["scaler"])
        rng = state.get("rng") or []
        if len(rng) == acc.num_processes:
            restore_rng(rng[acc.process_index])
        else:
            log.warning("resuming with %d process(es) from a checkpoint written by %d; the data order and random "
                        "streams differ from an uninterrupted run", acc.num_processes, state.get("world_size"))
            _seed_everything(mix_seed(self.config.seed, "global", acc.process_index, ckpt.step))
        saved = state.get("config", {})
        changed = sorted(k for k, v in self.config.model_dump(mode="json").items() if saved.get(k, v) != v)
        if changed:
            log.info("resuming with changed config fields: %s", ", ".join(changed))
        log.info("resumed from %s", ckpt.path)
        return ckpt.step, int(state.get("nan_in_row", 0)), int(state.get("nan_total", 0)), float(state.get("wall", 0))

    def _preview(self, raw, ema: EMA, step: int) -> None:
        acc = self.accelerator
        if acc.is_main_process:
            out_dir = self.run_dir / "samples" / f"step_{step:06d}"
            was_training = raw.training
            raw.eval()
            try:
                with _fork_rng(acc.device), ema.swap(raw), torch.no_grad(), acc.autocast():
                    metrics = self.task.preview(raw, step, out_dir) or {}
            finally:
                raw.train(was_training)
            metrics = {k: float(v) for k, v in metrics.items()}
            self.metrics.write({"event": "preview", "step": step, **metrics})
            if metrics:
                acc.log({f"preview/{k}": v for k, v in metrics.items()}, step=step)
                log.info("step %d preview: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        acc.wait_for_everyone()


def _seed_everything(seed: int) -> None:
    seed32 = seed % (1 << 32)
    random.seed(seed32)
    np.random.seed(seed32)
    torch.manual_seed(seed32)  # also seeds every CUDA device


def _fork_rng(device: torch.device):
    """Previews and exports must not move the training random streams (so resumed runs stay identical)."""
    devices = [device.index or 0] if device.type == "cuda" else []
    return torch.random.fork_rng(devices=devices)


def export_run(run_dir: str | Path, stage_dir: str | Path, task: TrainTask) -> Path:
    """Load the latest checkpoint's EMA weights into task.model and write a stage folder with task.export."""
    run_dir, stage_dir = Path(run_dir), Path(stage_dir)
    ckpt = load_latest(run_dir)
    if ckpt is None:
        raise CascadeError(f"{run_dir} has no complete checkpoint; train first (cascade train ... --out {run_dir})")
    ckpt.load_model(task.model)
    ema = EMA(task.model)
    ckpt.load_ema(ema)
    ema.copy_to(task.model)
    task.export(task.model, stage_dir)
    log.info("exported %s (step %d, EMA weights) to %s", ckpt.path, ckpt.step, stage_dir)
    return stage_dir
