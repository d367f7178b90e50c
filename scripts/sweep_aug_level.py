"""Choose spatial_sr's sampling noise-augmentation level by measurement (Imagen Video §2.6: the level is a free
sampling-time choice). Renders base_video + temporal_sr once for the canonical-wording prompts of all 72
combinations, then runs spatial_sr at each level on the same inputs and reports, per level: prompt fidelity (the
probe), background noise, flicker and temporal change of the final clips, the Fréchet Shapes-video Distance to real
clips, and spatial_sr's PSNR against the truth on held-out real clips (its input downsampled from the truth).

    python scripts/sweep_aug_level.py weights --levels 0 0.05 0.1 0.2 0.3 --out runs/sweep_aug.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cascade.data.shapes import ALL_COMBOS, HELD_OUT
from cascade.data.shapes_dataset import frames_to_tensor
from cascade.eval.features import clip_features, frechet_distance, load_feature_net
from cascade.eval.metrics import psnr
from cascade.eval.probe import analyze_batch, score
from cascade.eval.run import CANONICAL, clip_quality, real_clips
from cascade.io_utils import atomic_write_text
from cascade.pipeline import CascadePipeline
from cascade.types import Video

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("weights")
p.add_argument("--levels", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
p.add_argument("--seeds", type=int, default=1)
p.add_argument("--out", type=Path, default=Path("runs/sweep_aug.json"))
args = p.parse_args()

pipe = CascadePipeline.from_pretrained(args.weights)
ssr_name = pipe.stage_of_type("spatial_sr")
ssr = pipe.stages[ssr_name]
upstream = pipe.graph.order[pipe.graph.order.index(ssr_name) - 1]
prompts = [CANONICAL.format(colour=c, shape=s, motion=m) for c, s, m in ALL_COMBOS]
targets = list(ALL_COMBOS) * args.seeds
lows = [pipe.run(prompts, seed=seed, progress=False, until=upstream)[upstream] for seed in range(args.seeds)]
spec = ssr.output_spec
net = load_feature_net()
real = real_clips(targets, spec, seed=12)
real_b = real_clips(targets, spec, seed=13)
f_real = clip_features(net, real)
truth = real_clips([HELD_OUT[i % len(HELD_OUT)] for i in range(24)], spec, seed=22)
truth_low = Video(tensor=ssr.input_from_truth(truth).clamp(-1, 1), spec=ssr.input_spec["video"])
rows = {"real": {**clip_quality(real), "fsd": frechet_distance(clip_features(net, real_b), f_real)}}
default = ssr.config
for level in args.levels:
    ssr.config = default.model_copy(update={"sample_aug_level": level})
    with torch.inference_mode():
        outs = [ssr({"video": low}, generator=torch.Generator().manual_seed(seed), progress=False).tensor.float()
                for seed, low in enumerate(lows)]
        recon = ssr({"video": truth_low}, generator=torch.Generator().manual_seed(0), progress=False).tensor.float()
    x = torch.cat(outs)
    frames = Video(tensor=x, spec=spec).frames.numpy()
    rows[f"{level:g}"] = {**score(analyze_batch(list(frames)), targets), **clip_quality(x),
                          "fsd": frechet_distance(clip_features(net, frames_to_tensor(frames)), f_real),
                          "ssr_psnr_real": psnr(recon, truth)}
    print(f"{level:g}", json.dumps({k: round(v, 4) for k, v in rows[f'{level:g}'].items()}), flush=True)
ssr.config = default
rows["note"] = {"weights": str(args.weights), "clips_per_level": len(targets), "default": default.sample_aug_level,
                "bicubic_psnr_real": psnr(ssr.estimate_from_inputs({"video": truth_low}).clamp(-1, 1), truth)}
args.out.parent.mkdir(parents=True, exist_ok=True)
atomic_write_text(args.out, json.dumps(rows, indent=2, default=float))
print(json.dumps(rows["real"]), json.dumps(rows["note"]))
