"""metrics.jsonl (one JSON object per logged event) and the choice of installed experiment trackers."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from cascade.errors import CascadeError
from cascade.io_utils import atomic_write_text

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


def _clean(value: Any) -> Any:
    """Non-finite floats become null: metrics.jsonl stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Appends records like {"event": "train", "step": 10, "loss": ...} to run_dir/metrics.jsonl."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS_FILE

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a killed run
                continue
        return out

    def truncate_after(self, step: int) -> None:
        """Drop records past `step` (written after the checkpoint a run resumes from)."""
        records = self.read()
        kept = [r for r in records if r.get("step", 0) <= step]
        if len(kept) != len(records) or (self.path.is_file() and not self.path.read_text().endswith("\n")):
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def available_trackers(names: list[str]) -> list[str]:
    """The requested accelerate trackers whose packages are importable; one not installed is skipped with a
    warning (the default tensorboard with an info line), a name accelerate does not know is an error."""
    import accelerate.utils as au

    known = sorted(t.value for t in au.LoggerType if t.value != "all")
    out = []
    for name in names:
        check = getattr(au, f"is_{name}_available", None)
        if name not in known or check is None:
            raise CascadeError(f"unknown tracker '{name}' in trackers; accelerate knows {', '.join(known)}")
        if check():
            out.append(name)
        else:
            (log.info if name == "tensorboard" else log.warning)(
                "tracker %s is not installed (pip install %s); metrics go to metrics.jsonl only", name, name)
    return out


def flat_hparams(config: dict, prefix: str = "") -> dict[str, bool | int | float | str]:
    """Nested config -> flat {'optim.lr': 2e-4, ...} of scalars (what tensorboard's hparams accept)."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_hparams(v, f"{key}."))
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        else:
            out[key] = json.dumps(v)
    return out
