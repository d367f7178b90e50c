"""Atomic, pickle-free training checkpoints: run_dir/checkpoints/step_000200/ (safetensors + JSON).

A checkpoint folder is written under a hidden temp name and renamed into place only when complete, so a
run killed at any moment leaves either the previous checkpoints or the new one, never a partial folder
that `load_latest` would pick. Files: model.safetensors (the whole module state), ema.safetensors,
optimizer.safetensors (every tensor of the optimizer state) + optimizer.json (everything else),
trainer_state.json (step, counters, config, RNG states as lists).
"""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cascade.errors import CascadeError
from cascade.io_utils import atomic_dir, load_safetensors

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
MODEL_FILE, EMA_FILE = "model.safetensors", "ema.safetensors"
OPTIM_FILE, OPTIM_JSON, STATE_FILE = "optimizer.safetensors", "optimizer.json", "trainer_state.json"
_NAME = re.compile(r"^step_(\d{6,})$")


def checkpoint_name(step: int) -> str:
    return f"step_{step:06d}"


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first (hidden temp folders of interrupted saves are never listed)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        m = _NAME.match(d.name)
        if m and d.is_dir() and (d / STATE_FILE).is_file():
            found.append((int(m.group(1)), d))
    return sorted(found)


def remove_stale_temp(run_dir: str | Path) -> int:
    """Delete temp folders left by saves that were killed; returns how many."""
    root = Path(run_dir) / CHECKPOINTS
    stale = [d for d in root.glob(".step_*") if d.is_dir()] if root.is_dir() else []
    for d in stale:
        shutil.rmtree(d, ignore_errors=True)
    if stale:
        log.info("removed %d unfinished checkpoint folder(s) in %s", len(stale), root)
    return len(stale)


# -- optimizer state <-> tensors + JSON ------------------------------------------------------------
def flatten_optimizer_state(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """torch optimizer state_dict -> ({'state.<param>.<key>': tensor}, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    rest: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for idx, per_param in state["state"].items():
        for key, value in per_param.items():
            if torch.is_tensor(value):
                tensors[f"state.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                rest["state"].setdefault(str(idx), {})[key] = value
    return tensors, rest


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in rest["state"].items()}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in rest["param_groups"]]
    return {"state": state, "param_groups": groups}


# -- RNG states as JSON lists -----------------------------------------------------------------------
def capture_rng() -> dict:
    np_state = np.random.get_state()
    out = {"torch": torch.get_rng_state().tolist(),
           "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
           "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return out


def restore_rng(state: dict) -> None:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in cuda])


# -- save / load ------------------------------------------------------------------------------------
def save_checkpoint(run_dir: str | Path, step: int, *, model: torch.nn.Module, ema=None,
                    optimizer: torch.optim.Optimizer | None = None, state: dict | None = None, keep: int = 2) -> Path:
    """Write run_dir/checkpoints/step_XXXXXX atomically, then keep only the newest `keep` checkpoints.

    `model` is the unwrapped module; `ema` an EMA; `state` extra JSON (counters, config, RNG states).
    """
    from safetensors.torch import save_file, save_model

    path = Path(run_dir) / CHECKPOINTS / checkpoint_name(step)
    with atomic_dir(path) as tmp:
        save_model(model, str(tmp / MODEL_FILE), metadata={"step": str(step)})
        extra: dict[str, Any] = {}
        if ema is not None:
            ema_state = ema.state_dict()
            save_file({k: v.contiguous() for k, v in ema_state["shadow"].items()}, str(tmp / EMA_FILE),
                      metadata={"num_updates": str(ema_state["num_updates"])})
            extra["ema_num_updates"] = ema_state["num_updates"]
        if optimizer is not None:
            tensors, rest = flatten_optimizer_state(optimizer.state_dict())
            save_file(tensors, str(tmp / OPTIM_FILE))
            (tmp / OPTIM_JSON).write_text(json.dumps(rest))
        # written last: its presence marks a complete folder (the rename below is what makes it visible)
        (tmp / STATE_FILE).write_text(json.dumps({"step": step, **extra, **(state or {})}))
    for _, old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    log.info("saved checkpoint %s", path)
    return path


@dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint folder on disk."""

    path: Path
    step: int
    state: dict  # trainer_state.json

    def load_model(self, model: torch.nn.Module) -> None:
        from safetensors.torch import load_model

        try:
            load_model(model, str(self.path / MODEL_FILE), strict=True)
        except RuntimeError as e:
            first = str(e).strip().splitlines()[-1][:200]
            raise CascadeError(f"{self.path / MODEL_FILE} does not match the model ({first}); "
                               f"was the run started with another config?") from None

    def load_ema(self, ema) -> None:
        shadow = load_safetensors(self.path / EMA_FILE)
        try:
            ema.load_state_dict({"shadow": shadow, "num_updates": self.state.get("ema_num_updates", 0)})
        except ValueError as e:
            raise CascadeError(f"{self.path / EMA_FILE}: {e}; was the run started with another config?") from None

    def load_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        tensors = load_safetensors(self.path / OPTIM_FILE)
        rest = json.loads((self.path / OPTIM_JSON).read_text())
        try:
            optimizer.load_state_dict(unflatten_optimizer_state(tensors, rest))
        except (ValueError, KeyError) as e:
            raise CascadeError(f"{self.path / OPTIM_FILE} does not match the optimizer ({e}); "
                               f"was the run started with another config?") from None


def _unreadable(path: Path) -> str | None:
    """Why a checkpoint folder cannot be loaded (a missing, truncated or corrupt file), or None when it can."""
    from safetensors import safe_open

    try:
        json.loads((path / STATE_FILE).read_text())
        if (path / OPTIM_JSON).exists():
            json.loads((path / OPTIM_JSON).read_text())
        for name in (MODEL_FILE, EMA_FILE, OPTIM_FILE):
            if (path / name).exists() or name == MODEL_FILE:
                with safe_open(str(path / name), framework="pt"):  # reads the header, checks it against the size
                    pass
    except Exception as e:  # OSError, JSONDecodeError, SafetensorError: all mean "do not resume from this one"
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:120] if str(e).strip() else ''}"
    return None


def load_latest(run_dir: str | Path) -> Checkpoint | None:
    """The newest complete and readable checkpoint in run_dir (older ones stand in for a damaged newest one),
    or None when there is none."""
    for step, path in reversed(list_checkpoints(run_dir)):
        why = _unreadable(path)
        if why:
            log.warning("skipping unreadable checkpoint %s (%s); trying the one before", path, why)
            continue
        return Checkpoint(path=path, step=step, state=json.loads((path / STATE_FILE).read_text()))
    return None
