"""Temporal mixers by name: `register_mixer(name)` adds a family, `build_mixer(name, channels, **kw)` builds one."""

from __future__ import annotations

import inspect
from typing import Callable

from cascade.nn.mixers.base import TemporalMixer

MIXERS: dict[str, type[TemporalMixer]] = {}

# Context the U-Net passes to every mixer; a family that does not take one of these simply does not get it.
CONTEXT_KEYS = frozenset({"heads", "max_frames", "block_index", "backend"})


def register_mixer(name: str) -> Callable[[type[TemporalMixer]], type[TemporalMixer]]:
    """Class decorator: make a TemporalMixer subclass buildable by `name`."""

    def add(cls: type[TemporalMixer]) -> type[TemporalMixer]:
        if name in MIXERS:
            raise ValueError(f"temporal mixer '{name}' is already registered by {MIXERS[name].__name__}")
        MIXERS[name] = cls
        return cls

    return add


def build_mixer(name: str, channels: int, **kw) -> TemporalMixer:
    """The mixer `name` for `channels` channels; context keys it does not accept are dropped, others must fit."""
    if name not in MIXERS:
        raise ValueError(f"unknown temporal mixer '{name}'; choose one of {', '.join(sorted(MIXERS))}")
    cls = MIXERS[name]
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kw = {k: v for k, v in kw.items() if k in params or k not in CONTEXT_KEYS}
    return cls(channels, **kw)


from cascade.nn.mixers import alpha, attention, causal, conv_attention, pseudo3d, shift, swap  # noqa: E402,F401

__all__ = ["MIXERS", "TemporalMixer", "build_mixer", "register_mixer"]
