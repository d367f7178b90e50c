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
