"""Stage type name -> stage class. Stages register through the `cascade.stages` entry point group
(see pyproject.toml) or at run time with `register_stage`; the framework itself knows no stage."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from cascade.errors import CascadeError

_REGISTRY: dict[str, type] = {}
_ENTRY_POINT_GROUP = "cascade.stages"


def register_stage(name: str):
    """Class decorator: make a stage class available under `name` in cascade.json graphs."""

    def wrap(cls):
        _REGISTRY[name] = cls
        return cls

    return wrap


def _entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=_ENTRY_POINT_GROUP)}


def available_stages() -> list[str]:
    return sorted(set(_REGISTRY) | set(_entry_points()))


def get_stage_class(name: str) -> type:
    if name not in _REGISTRY:
        target = _entry_points().get(name)
        if target is None:
            raise CascadeError(f"unknown stage type '{name}'; known types: {', '.join(available_stages())}")
        module, _, attr = target.partition(":")
        _REGISTRY[name] = getattr(import_module(module), attr)
    return _REGISTRY[name]


def trainable_stages() -> list[str]:
    """Registered stage types that offer training (a `train_task` method)."""
    return [n for n in available_stages() if callable(getattr(get_stage_class(n), "train_task", None))]


def frozen_stage_for(spec):
    """A frozen stage that makes `spec` (e.g. the text encoder for a TextSpec), for a training run that needs it:
    the first registered stage class whose `for_output_spec(spec)` returns a stage."""
    for name in available_stages():
        make = getattr(get_stage_class(name), "for_output_spec", None)
        stage = make(spec) if callable(make) else None
        if stage is not None:
            return stage
    what = spec.describe() if hasattr(spec, "describe") else str(spec)
    raise CascadeError(f"no registered stage can make {what} for this training run; install or register a stage "
                       f"type whose for_output_spec builds one")
