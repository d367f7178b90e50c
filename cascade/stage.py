"""The Stage contract every stage implements, plus a base class with config/weights I/O."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from cascade.errors import CascadeError
from cascade.io_utils import atomic_dir, atomic_write_text
from cascade.types import PromptSpec, Spec, TextEmbedding, Video

log = logging.getLogger(__name__)

Payload = Any  # Video | TextEmbedding | list[str]
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class StageConfig(BaseModel):
    """Base of every stage config: frozen, unknown fields rejected, specs derived without tensors."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    type: str

    def input_specs(self) -> dict[str, Spec]:
        raise NotImplementedError

    def output_spec(self) -> Spec:
        raise NotImplementedError

    @property
    def has_weights(self) -> bool:
        """Whether a model.safetensors belongs beside config.json."""
        return True


@runtime_checkable
class Stage(Protocol):
    """What the graph and the pipeline need of a stage.

    Optional parts, found by name:
    - training: `train_task(data, upstream, **options) -> TrainTask` (cascade.training.task), with
      `training_upstream() -> {name: spec}` naming the frozen stages the run needs by the spec they make; the
      registry builds each through a stage class's `for_output_spec(spec)` classmethod (the text encoder's).
    - conditioning: `degrade(truth)`, `condition(low, generator=, training=) -> Conditioning`, `baseline(low)`,
      `scored_frames()` (cascade.conditioning); evaluation measures every stage that has `degrade` and `baseline`.
    """

    config: StageConfig

    @property
    def input_spec(self) -> dict[str, Spec]: ...

    @property
    def output_spec(self) -> Spec: ...

    def __call__(self, inputs: Mapping[str, Payload], *, generator: torch.Generator | None = None,
                 steps: int | None = None, guidance: float | None = None, progress: bool = True) -> Payload: ...

    def save_pretrained(self, directory: str | Path) -> None: ...

    @classmethod
    def from_pretrained(cls, directory: str | Path, **kwargs) -> "Stage": ...


def read_config_json(directory: str | Path) -> Any:
    """The parsed config.json of a stage folder; one sentence when it is missing or not JSON."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise CascadeError(f"{path} is missing; every stage folder needs a config.json")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CascadeError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None


def stage_type_of(directory: str | Path) -> str | None:
    """The `type` a stage folder's config.json names (None when it names none)."""
    data = read_config_json(directory)
    if not isinstance(data, dict):
        raise CascadeError(f"{Path(directory) / CONFIG_NAME} is not a JSON object of stage settings")
    return data.get("type")


def weights_path_of(cls, directory: str | Path) -> Path:
    """The weights file of a `cls` stage folder: the class's own `weights_path` (e.g. a diffusers VAE folder's file)
    or WEIGHTS_NAME."""
    find = getattr(cls, "weights_path", None)
    return find(Path(directory)) if callable(find) else Path(directory) / WEIGHTS_NAME


def refuse_resized(path, own: dict, state: dict, what: str, hint: str = "") -> None:
    """One sentence when a weights file holds tensors of other shapes than the network `what` it is loaded into."""
    resized = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if resized:
        k = resized[0]
        raise CascadeError(f"{path} does not match {what}: {len(resized)} tensors have other shapes (first: {k}, "
                           f"{tuple(state[k].shape)} in the file, {tuple(own[k].shape)} here){hint}")


class BaseStage:
    """Shared plumbing: config.json + model.safetensors, device moves, parameter counts.

    Subclasses set `config_class`, build `self.network` (an nn.Module or None) in `__init__(config)`,
    and implement `__call__`.
    """

    config_class: ClassVar[type[StageConfig]]
    network: torch.nn.Module | None = None

    def __init__(self, config: StageConfig):
        self.config = config
        self.device = torch.device("cpu")
        self.dtype = torch.float32

    # -- contract ---------------------------------------------------------------------------
    @property
    def input_spec(self) -> dict[str, Spec]:
        return self.config.input_specs()

    @property
    def output_spec(self) -> Spec:
        return self.config.output_spec()

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True):
        raise NotImplementedError

    # -- I/O --------------------------------------------------------------------------------
    @classmethod
    def load_config(cls, directory: str | Path) -> StageConfig:
        return parse_config(cls.config_class, read_config_json(directory), source=str(Path(directory) / CONFIG_NAME))

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> "BaseStage":
        directory = Path(directory)
        stage = cls(cls.load_config(directory))
        if stage.network is not None and stage.config.has_weights:
            stage.load_weights(directory / WEIGHTS_NAME)
        return stage.to(device, dtype)

    def load_weights(self, path: Path) -> None:
        from cascade.io_utils import load_safetensors

        state = load_safetensors(path)
        refuse_resized(path, self.network.state_dict(), state, f"the {self.config.type} network",
                       "; was it saved from another config?")
        missing, unexpected = self.network.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CascadeError(f"{path} does not match the {self.config.type} network: "
                               f"{len(missing)} missing and {len(unexpected)} unexpected tensors "
                               f"(first: {(missing or unexpected)[0]}); was it saved from another config?")

    def save_pretrained(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        with atomic_dir(directory) as tmp:
            atomic_write_text(tmp / CONFIG_NAME, self.config.model_dump_json(indent=2))
            if self.network is not None and self.config.has_weights:
                state = {k: v.detach().to("cpu", torch.float32).contiguous()
                         for k, v in self.network.state_dict().items()}
                # one metadata key: safetensors writes several in a random order, so the same weights would not
                # give the same bytes (and sha256 in cascade.json) twice; the stage type is in config.json
                save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})

    def to(self, device=None, dtype=None) -> "BaseStage":
        if device is not None:
            self.device = torch.device(device)
        if dtype is not None:
            self.dtype = dtype
        if self.network is not None:
            # nn.Module.to: diffusers' ModelMixin.to warns about fp32-kept modules on every dtype cast (stage networks keep none)
            torch.nn.Module.to(self.network, device=self.device, dtype=self.dtype)
        return self

    def output_video(self, x: torch.Tensor) -> Video:
        """`x` as this stage's output: a Video of its output spec, pixels clamped to [-1, 1] (latents are unbounded)."""
        return Video(tensor=x.clamp(-1, 1) if self.output_spec.space == "pixel" else x, spec=self.output_spec)

    def num_parameters(self) -> int:
        return 0 if self.network is None else sum(p.numel() for p in self.network.parameters())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.type}, {self.num_parameters():,} params)"


def parse_config(config_class: type[BaseModel], data: Any, *, source: str) -> BaseModel:
    """Validate `data` into `config_class`, turning pydantic's report into one sentence."""
    try:
        return config_class.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = _field_path(err["loc"], data) or "(top level)"
        if err["type"] == "extra_forbidden":
            raise CascadeError(f"{source}: unknown field '{field}' for {config_class.__name__}; "
                               f"check its spelling") from None
        raise CascadeError(f"{source}: field '{field}' is invalid: {err['msg']}") from None


def _field_path(loc: tuple, data: Any) -> str:
    """The dotted path of a validation error's field; the tag pydantic adds to the location of a field that takes one
    of several section kinds (`network.kind`) is no key of the input, so it is left out."""
    parts, node = [], data
    for i, p in enumerate(loc):
        if i < len(loc) - 1 and isinstance(node, dict) and p not in node:
            continue
        parts.append(str(p))
        node = node.get(p) if isinstance(node, dict) else None
    return ".".join(parts)


def check_payload(spec: Spec, payload: Payload, where: str) -> None:
    """Raise if a runtime payload disagrees with the spec a stage declared."""
    if isinstance(spec, PromptSpec):
        ok = isinstance(payload, list) and all(isinstance(p, str) for p in payload)
    elif spec.kind == "text":
        ok = isinstance(payload, TextEmbedding) and payload.spec == spec
    else:
        ok = isinstance(payload, Video) and payload.spec == spec
    if not ok:
        got = getattr(payload, "spec", type(payload).__name__)
        got = got.describe() if hasattr(got, "describe") else got
        raise CascadeError(f"{where} declared {spec.describe()} but produced {got}")


def stage_presets(stage_class: type) -> dict[str, StageConfig]:
    """The stage class's `presets` table, else the PRESETS table in the `presets` module beside it
    (stages/<type>/presets.py). A preset may be the config of another stage type of the same family (temporal_sr's
    "blend" is a temporal_blend stage)."""
    from importlib import import_module

    if getattr(stage_class, "presets", None) is not None:
        return dict(stage_class.presets)
    package = stage_class.__module__.rsplit(".", 1)[0]
    try:
        return dict(import_module(f"{package}.presets").PRESETS)
    except ModuleNotFoundError:
        return {}


def make_stage_config(stage_class: type, preset: str, overrides: dict | None = None, *, source: str = "config"):
    """A preset with (nested) overrides applied, validated as a whole so a typo names its field; the result's
    `type` says which stage class it builds."""
    presets = stage_presets(stage_class)
    if preset not in presets:
        raise CascadeError(f"{source}: unknown preset '{preset}' for {stage_class.config_class.__name__}; "
                           f"choose one of {', '.join(presets) or '(none)'}")
    data = _deep_merge(presets[preset].model_dump(mode="json"), overrides or {})
    return parse_config(type(presets[preset]), data, source=source)


def _deep_merge(base: dict, over: dict) -> dict:
    """`over` merged into `base` section by section; a section naming another `kind` replaces the base's whole."""
    out = dict(base)
    for k, v in over.items():
        old = out.get(k)
        if isinstance(v, dict) and isinstance(old, dict) and v.get("kind", old.get("kind")) == old.get("kind"):
            v = _deep_merge(old, v)
        out[k] = v
    return out
