"""Choose an SR stage's sampling noise-augmentation level by measurement (Imagen Video §2.6: the level is a free
sampling-time choice). Renders the stages before it once for the canonical-wording prompts of all 72
combinations, then runs the stage at each level, and the stages after it, on the same inputs and reports, per
level: prompt fidelity (the probe), background noise, flicker and temporal change of the final clips, the Fréchet
Shapes-video Distance to real clips, and the stage's PSNR against the truth on held-out real clips (its input
made from the truth: frames dropped or downsampled).

    python scripts/sweep_aug_level.py weights --stage spatial_sr --levels 0 0.05 0.1 0.2 --out runs/sweep_aug.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cascade.data.shapes import ALL_COMBOS, HELD_OUT
from cascade.data.shapes_dataset import frames_to_tensor
from cascade.eval.metrics import frechet_distance
from cascade.eval.suites.shapes.features import clip_features, load_feature_net
from cascade.eval.metrics import psnr
from cascade.eval.suites.shapes.probe import analyze_batch, score
from cascade.eval.run import CANONICAL, clip_quality, real_clips
from cascade.io_utils import atomic_write_text
from cascade.pipeline import CascadePipeline
from cascade.types import Video

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("weights")
p.add_argument("--stage", default="spatial_sr", choices=["spatial_sr", "temporal_sr"])
p.add_argument("--levels", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
p.add_argument("--seeds", type=int, default=1)
p.add_argument("--out", type=Path, default=Path("runs/sweep_aug.json"))
args = p.parse_args()

pipe = CascadePipeline.from_pretrained(args.weights)
name = pipe.stage_of_type(args.stage)
stage = pipe.stages[name]
upstream = pipe.graph.order[pipe.graph.order.index(name) - 1]
prompts = [CANONICAL.format(colour=c, shape=s, motion=m) for c, s, m in ALL_COMBOS]
targets = list(ALL_COMBOS) * args.seeds
lows = [pipe.run(prompts, seed=seed, progress=False, until=upstream) for seed in range(args.seeds)]
final = pipe.stages[pipe.graph.output].output_spec
net = load_feature_net()
real = real_clips(targets, final, seed=12)
real_b = real_clips(targets, final, seed=13)
f_real = clip_features(net, real)
spec = stage.output_spec
truth = real_clips([HELD_OUT[i % len(HELD_OUT)] for i in range(24)], spec, seed=22)
truth_low = Video(tensor=stage.degrade(truth).clamp(-1, 1), spec=stage.input_spec["video"])
rows = {"real": {**clip_quality(real), "fsd": frechet_distance(clip_features(net, real_b), f_real)}}
default = stage.config
for level in args.levels:
    stage.config = default.model_copy(update={"sample_aug_level": level})
    with torch.inference_mode():
        outs = [pipe.run(prompts, seed=seed, progress=False, given=low)[pipe.graph.output].tensor.float()
                for seed, low in enumerate(lows)]
        recon = stage({"video": truth_low}, generator=torch.Generator().manual_seed(0), progress=False).tensor.float()
    x = torch.cat(outs)
    frames = Video(tensor=x, spec=final).frames.numpy()
    rows[f"{level:g}"] = {**score(analyze_batch(list(frames)), targets), **clip_quality(x),
                          "fsd": frechet_distance(clip_features(net, frames_to_tensor(frames)), f_real),
                          "stage_psnr_real": psnr(recon, truth)}
    print(f"{level:g}", json.dumps({k: round(v, 4) for k, v in rows[f'{level:g}'].items()}), flush=True)
stage.config = default
rows["note"] = {"weights": str(args.weights), "stage": name, "clips_per_level": len(targets),
                "default": default.sample_aug_level,
                "baseline_psnr_real": psnr(stage.baseline(truth_low.tensor).clamp(-1, 1), truth)}
args.out.parent.mkdir(parents=True, exist_ok=True)
atomic_write_text(args.out, json.dumps(rows, indent=2, default=float))
print(json.dumps(rows["real"]), json.dumps(rows["note"]))
