"""Set sampling defaults in an exported stage folder's config.json (validated by the stage's config class).

    python scripts/set_sampling.py runs/base_video/export guidance=5 steps=20 dynamic_thresholding=false

Sampling settings do not change the weights, so a stage trained before a default was chosen by measurement can
take the new default without retraining; `cascade assemble` then records the new sha256.
"""

import json
import sys
from pathlib import Path

import yaml

from cascade.io_utils import atomic_write_text
from cascade.registry import get_stage_class

folder = Path(sys.argv[1])
cfg = json.loads((folder / "config.json").read_text())
for item in sys.argv[2:]:
    key, _, value = item.partition("=")
    cfg.setdefault("sampling", {})[key] = yaml.safe_load(value)
get_stage_class(cfg["type"]).config_class.model_validate(cfg)  # a typo or bad value fails here, nothing written
atomic_write_text(folder / "config.json", json.dumps(cfg, indent=2))
print(f"{folder}: sampling = {cfg['sampling']}")
