"""Print the extra cascade.json fields for a set of training runs: data spec, held-out combinations and
caption templates and shape names, and per stage the steps, wall time and final loss read from its metrics.jsonl."""

import json
import platform
import sys
from pathlib import Path

import torch

from cascade.data.shapes import (COLOUR_WORDS, DIRECTION_WORDS, HELD_OUT, HELD_OUT_COLOUR_WORDS,
                                 HELD_OUT_DIRECTION_WORDS, HELD_OUT_MOTION_VERBS, HELD_OUT_SHAPE_WORDS,
                                 HELD_OUT_TEMPLATES, MOTION_VERBS, SHAPE_WORDS, TRAIN_TEMPLATES, training_captions)
from cascade.vocabulary import caption_vocabulary

runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")


def run_record(run: Path) -> dict | None:
    """Steps, wall time, final loss, last preview, batch size and data section of one training run."""
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        return None
    rows = [json.loads(l) for l in metrics.read_text().splitlines() if l.strip()]
    # the shipped weights are the EMA of the last complete checkpoint: report that step, not later log rows
    ckpts = sorted((run / "checkpoints").glob("step_*/trainer_state.json"))
    last = json.loads(ckpts[-1].read_text()) if ckpts else {}
    shipped = last.get("step", max((r["step"] for r in rows if r.get("event") == "train"), default=0))
    train = [r for r in rows if r.get("event") == "train" and r["step"] <= shipped]
    previews = [r for r in rows if r.get("event") == "preview" and r["step"] <= shipped]
    cfg = json.loads((run / "config.json").read_text())
    return {
        "steps": shipped,
        "wall_s": round(last.get("wall", train[-1].get("wall", 0.0) if train else 0.0), 1),
        "final_loss": train[-1]["loss"] if train else None,
        "last_preview": previews[-1] if previews else None,
        "batch_size": cfg.get("batch_size"),
        "data": cfg.get("data"),
        "hardware": f"{platform.machine()} CPU" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
    }


training = {stage: record for stage in ("base_video", "temporal_sr", "spatial_sr")
            if (record := run_record(runs / stage)) is not None}
# the shipped base stage is the default one fine-tuned on varied wordings (configs/base_video/screen.yaml)
if (screen := run_record(runs / "base_screen")) is not None:
    training["base_video"] = {**screen, "fine_tuned_from": training.get("base_video")}
print(json.dumps({
    "data": {"kind": "shapes", "description": "procedural shapes: 6 colours x 3 shapes x 4 motions on a dark background"},
    "held_out": {"combinations": [list(c) for c in HELD_OUT], "templates": HELD_OUT_TEMPLATES,
                 "shape_words": {s: list(w) for s, w in HELD_OUT_SHAPE_WORDS.items()},
                 "train_templates": TRAIN_TEMPLATES, "train_shape_words": {s: list(w) for s, w in SHAPE_WORDS.items()},
                 "colour_words": {k: list(v) for k, v in HELD_OUT_COLOUR_WORDS.items()},
                 "direction_words": {k: list(v) for k, v in HELD_OUT_DIRECTION_WORDS.items()},
                 "motion_verbs": {k: list(v) for k, v in HELD_OUT_MOTION_VERBS.items()},
                 "train_colour_words": {k: list(v) for k, v in COLOUR_WORDS.items()},
                 "train_direction_words": {k: list(v) for k, v in DIRECTION_WORDS.items()},
                 "train_motion_verbs": {k: list(v) for k, v in MOTION_VERBS.items()}},
    "training": training,
    "vocabulary": caption_vocabulary(training_captions()),
}, indent=2))
