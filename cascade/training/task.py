"""The TrainTask protocol: what a stage hands the generic trainer (model, data, loss, preview, export)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class TrainTask(Protocol):
    """One trainable stage. The trainer owns devices, precision, optimisation, EMA, checkpoints and logging."""

    model: torch.nn.Module  # every parameter the run owns; frozen ones have requires_grad=False

    def dataset(self) -> torch.utils.data.Dataset:
        """A map-style dataset (len + integer indexing); the trainer picks the indices."""
        ...

    def collate(self, items: list) -> Any:
        """Items -> one batch; tensors anywhere inside are moved to the training device by the trainer."""
        ...

    def loss(self, model: torch.nn.Module, batch: Any, generator: torch.Generator) -> torch.Tensor:
        """A scalar loss. `model` may be DDP-wrapped; draw all noise from `generator` (seeded per step)."""
        ...

    def preview(self, model: torch.nn.Module, step: int, out_dir: Path) -> dict[str, float]:
        """Render fixed prompts or clips with `model` (EMA weights) into out_dir; return metrics to log."""
        ...

    def export(self, model: torch.nn.Module, out_dir: Path) -> None:
        """Write a stage folder (config.json + model.safetensors) with `model`'s weights."""
        ...
