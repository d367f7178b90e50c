"""Stage type name -> stage class. Stages register through the `cascade.stages` entry point group
(see pyproject.toml) or at run time with `register_stage`; the framework itself knows no stage."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from pydantic import BaseModel, ConfigDict

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


class StageFolder(BaseModel):
    """A frozen upstream a training run loads from a folder (a latent stage's autoencoder): its stage type, the
    placement it is loaded with, the sha256 its weights file must have (None: any) and the spec it must make."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    path: str
    type: str
    placement: dict = {}
    sha256: str | None = None
    output: object = None  # the Spec the loaded stage must make (None: unchecked)

    def describe(self) -> str:
        return f"the {self.type} at {self.path}"


def frozen_stage_for(spec):
    """A frozen stage that makes `spec` (e.g. the text encoder for a TextSpec), for a training run that needs it:
    the stage a StageFolder names, else the first registered stage class whose `for_output_spec(spec)` returns one."""
    if isinstance(spec, StageFolder):
        return _load_folder(spec)
    for name in available_stages():
        make = getattr(get_stage_class(name), "for_output_spec", None)
        stage = make(spec) if callable(make) else None
        if stage is not None:
            return stage
    what = spec.describe() if hasattr(spec, "describe") else str(spec)
    raise CascadeError(f"no registered stage can make {what} for this training run; install or register a stage "
                       f"type whose for_output_spec builds one")


def _load_folder(spec: StageFolder):
    from pathlib import Path

    from cascade.graph import spec_mismatch
    from cascade.io_utils import sha256_file
    from cascade.latent import SHORT_SHA
    from cascade.stage import weights_path_of

    cls = get_stage_class(spec.type)
    stage = cls.from_pretrained(Path(spec.path), **spec.placement)
    if spec.sha256 is not None:
        got = sha256_file(weights_path_of(cls, spec.path))
        if got != spec.sha256:
            raise CascadeError(f"{spec.describe()} now holds weights with sha256 {got[:SHORT_SHA]}, not the "
                               f"{spec.sha256[:SHORT_SHA]} the stage config records; train against the "
                               f"autoencoder as it is now by leaving latent.sha256 out of the config")
    problem = spec_mismatch(spec.output, stage.output_spec) if spec.output is not None else None
    if problem is not None:
        want, got = problem
        raise CascadeError(f"the stage trains on {want} but {spec.describe()} makes {got}")
    return stage
