"""AdamW over the trainable parameters and the learning rate as a pure function of the step."""

from __future__ import annotations

import math

import torch

from cascade.errors import CascadeError
from cascade.training.config import OptimConfig


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW; weight decay only on matrices and kernels (ndim >= 2), not on biases and norm scales (nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise CascadeError("the model has no trainable parameters; unfreeze some (requires_grad=True) before training")
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [g for g in ({"params": decay, "weight_decay": cfg.weight_decay},
                          {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)


def lr_at(step: int, cfg: OptimConfig, max_steps: int) -> float:
    """Learning rate for the optimizer step that produces global step `step` (1-based).

    Linear warm-up over warmup_steps, then constant, or a cosine decay reaching 0 at max_steps.
    Stateless, so a resumed run needs only the step (no scheduler state).
    """
    warm = min(1.0, step / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    if cfg.schedule == "constant" or step <= cfg.warmup_steps:
        return cfg.lr * warm
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, max_steps - cfg.warmup_steps))
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))  # SGDR (Loshchilov & Hutter) cosine, no restarts


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
