"""Exponential moving average of the trainable weights, with decay warm-up and a swap-in context."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


class EMA:
    """fp32 shadow copies of a model's trainable parameters.

    After update t (t = 0, 1, ...): shadow <- d_t * shadow + (1 - d_t) * param, where
    d_t = min(decay, (1 + t) / (10 + t)) with warm-up, else d_t = decay.
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.999, warmup: bool = True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self.shadow: dict[str, torch.Tensor] = {
            name: p.detach().to(torch.float32, copy=True)
            for name, p in model.named_parameters() if p.requires_grad
        }

    def current_decay(self) -> float:
        """The decay the next update will use."""
        if not self.warmup:
            return self.decay
        t = self.num_updates
        return min(self.decay, (1 + t) / (10 + t))  # TF ExponentialMovingAverage num_updates warm-up (diffusers EMAModel)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = self.current_decay()
        for name, p in self._params(model):
            self.shadow[name].lerp_(p.detach().float(), 1.0 - d)  # s + (1 - d)(p - s) = d s + (1 - d) p
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        """Overwrite the model's trainable parameters with the EMA weights (cast to each parameter's dtype)."""
        for name, p in self._params(model):
            p.copy_(self.shadow[name])

    @contextlib.contextmanager
    def swap(self, model: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """Evaluate `model` with EMA weights inside the block; its own weights are restored afterwards."""
        backup = {name: p.detach().clone() for name, p in self._params(model)}
        self.copy_to(model)
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, p in self._params(model):
                    p.copy_(backup[name])

    def state_dict(self) -> dict:
        return {"num_updates": self.num_updates, "decay": self.decay, "warmup": self.warmup,
                "shadow": {k: v.detach().cpu() for k, v in self.shadow.items()}}

    def load_state_dict(self, state: dict) -> None:
        shadow = state["shadow"]
        if set(shadow) != set(self.shadow):
            missing, extra = sorted(set(self.shadow) - set(shadow)), sorted(set(shadow) - set(self.shadow))
            raise ValueError(f"EMA state does not match the model ({len(missing)} missing, {len(extra)} unexpected "
                             f"tensors; first: {(missing or extra)[0]})")
        with torch.no_grad():
            for k, v in shadow.items():
                self.shadow[k].copy_(v)
        self.num_updates = int(state["num_updates"])

    def to(self, device: torch.device | str) -> "EMA":
        self.shadow = {k: v.to(device) for k, v in self.shadow.items()}
        return self

    def _params(self, model: torch.nn.Module):
        for name, p in model.named_parameters():
            if name in self.shadow:
                yield name, p
