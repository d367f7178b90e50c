"""Training configs (frozen pydantic), loaded from YAML or JSON, with `--set key=value` overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from pydantic import ValidationError

from cascade.errors import CascadeError


MAX_BATCH = 4096  # samples per process and micro-step: past this a video batch no longer fits any one device
MAX_TRAIN_STEPS = 10_000_000
MAX_WORKERS = 64


class OptimConfig(BaseModel):
    """AdamW with linear warm-up, then a constant or cosine learning rate; gradient clipping and accumulation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lr: PositiveFloat = Field(2e-4, allow_inf_nan=False)
    weight_decay: NonNegativeFloat = 0.0  # applied to matrices/kernels only, not biases or norm scales
    betas: tuple[float, float] = (0.9, 0.99)
    eps: PositiveFloat = 1e-8
    warmup_steps: NonNegativeInt = 100
    grad_clip: NonNegativeFloat | None = 1.0  # max global grad norm; 0 or null disables clipping
    grad_accum: PositiveInt = Field(1, le=1024)  # micro-batches per optimizer step
    schedule: Literal["constant", "cosine"] = "constant"  # after warm-up; cosine decays to 0 at max_steps


class TrainConfig(BaseModel):
    """One training run of one stage. `model` and `data` are opaque here: the stage's TrainTask reads them."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    stage: str
    preset: str = "default"
    model: dict[str, Any] = Field(default_factory=dict)  # overrides of the stage preset's config
    # fine-tuning: a stage folder (config.json + model.safetensors) whose weights the run starts from instead of
    # the seed's random init; a checkpoint in the run directory (--resume) still wins
    init_from: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    # per process and micro-step; global batch = batch_size * grad_accum * processes
    batch_size: PositiveInt = Field(16, le=MAX_BATCH)
    max_steps: PositiveInt = Field(1000, le=MAX_TRAIN_STEPS)  # optimizer steps; the cosine schedule's length
    checkpoint_every: PositiveInt = 200
    sample_every: PositiveInt = 500
    log_every: PositiveInt = 10
    ema_decay: float = Field(0.999, ge=0.0, lt=1.0)
    ema_warmup: bool = True
    seed: NonNegativeInt = 0
    mixed_precision: Literal["no", "bf16", "fp16", "auto"] = "auto"  # auto: bf16 on CUDA, no on CPU
    max_nan_steps: PositiveInt = 5  # this many non-finite losses in a row stop the run
    preview_prompts: list[str] = Field(default_factory=list)
    num_workers: NonNegativeInt = Field(0, le=MAX_WORKERS)  # threads prefetching batches (0: fetch inline)
    trackers: list[str] = Field(default_factory=lambda: ["tensorboard"])  # those not installed are skipped


def validate_config(data: Any, *, source: str) -> TrainConfig:
    """Validate a mapping into a TrainConfig; a problem becomes one sentence naming `source` and the field."""
    if not isinstance(data, dict):
        raise CascadeError(f"{source}: a training config must be a mapping of fields, not {type(data).__name__}")
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        raise CascadeError(_one_sentence(e, source)) from None


def _one_sentence(e: ValidationError, source: str) -> str:
    err = e.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if err["type"] == "extra_forbidden":
        where = f" in {'.'.join(loc[:-1])}" if len(loc) > 1 else ""
        return f"{source}: unknown field '{loc[-1]}'{where}; check its spelling"
    field = ".".join(loc) or "(top level)"
    if err["type"] == "missing":
        return f"{source}: required field '{field}' is missing"
    got = err.get("input")
    got = f" (got {got!r})" if isinstance(got, (str, int, float, bool)) or got is None else ""
    return f"{source}: field '{field}' is invalid{got}: {err['msg'][0].lower()}{err['msg'][1:]}"


def load_config(path: str | Path) -> TrainConfig:
    """Read a training config from .yaml/.yml or .json (chosen by suffix)."""
    path = Path(path)
    if not path.is_file():
        raise CascadeError(f"{path} is missing; pass an existing training config, e.g. configs/base_video/default.yaml")
    suffix = path.suffix.lower()
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise CascadeError(f"{path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); save it "
                           f"as UTF-8") from None
    if "\x00" in text:
        raise CascadeError(f"{path} holds a NUL character; it is not a text config")
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            raise CascadeError(f"{path} is not valid YAML ({getattr(e, 'problem', None) or e}{at})") from None
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise CascadeError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None
    else:
        raise CascadeError(f"{path}: unknown config format '{path.suffix}'; use .yaml, .yml or .json")
    return validate_config(data if data is not None else {}, source=str(path))


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _parse_value(text: str) -> Any:
    """`1e-3` -> 1e-3, `true` -> True, `[a, b]` -> list, anything else stays a string (YAML rules otherwise)."""
    if _NUMBER.match(text.strip()):
        return int(text) if re.fullmatch(r"[+-]?\d+", text.strip()) else float(text)
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Apply `a.b=value` overrides (CLI `--set`) and re-validate the whole config."""
    data = cfg.model_dump(mode="json")
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CascadeError(f"--set '{item}' is not KEY=VALUE; write e.g. --set optim.lr=1e-3")
        node = data
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None and part not in node:
                child = node[part] = {}  # an unknown section; validation below names it
            if not isinstance(child, dict):
                raise CascadeError(f"--set {item}: '{'.'.join(parts[:i + 1])}' is not a section, so it has no "
                                   f"field '{parts[i + 1]}'")
            node = child
        parsed = _parse_value(value)
        if isinstance(node.get(parts[-1]), list) and isinstance(parsed, str):
            parsed = [parsed]  # --set preview_prompts="a red circle moving left": a list of one
        node[parts[-1]] = parsed
    return validate_config(data, source="--set")
