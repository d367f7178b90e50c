"""Sampling-steps sweep of the shipped cascade: `cascade eval` (288 clips) per setting, one at a time.

Choose the fewest steps whose fidelity in every group is at least the current setting's and whose FSD lies within the
real-vs-real chance range of the shipped evaluation (20.0-27.7). Every setting names all three stages' steps, so the
sweep does not depend on the configs' defaults. The sweep behind the shipped SR steps: docs/experiments.md.

    python scripts/sweep_steps.py [s20_10_10 base10 sr5 base30]   # writes runs/sweep_steps/<name>/, one line each
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch
torch.set_num_threads(2)
from cascade.eval.run import evaluate
settings = {name: dict(zip(("base_video", "temporal_sr", "spatial_sr"), steps)) for name, steps in
            {"s20_10_10": (20, 10, 10), "base10": (10, 10, 10), "sr5": (20, 5, 5), "base30": (30, 10, 10)}.items()}
for name in sys.argv[1:] or settings:
    t = time.time()
    r = evaluate("weights", out_dir=f"runs/sweep_steps/{name}", seeds=2, device="cpu", steps=settings[name], progress=False)
    print(name, round(time.time() - t), json.dumps({"fidelity": r["fidelity"], "fsd": r["fsd"].get("generated_vs_real"),
          "temporal": r["temporal"]["generated"], "per_stage": {k: v for k, v in r["per_stage"].items() if k != "clips"}}), flush=True)
