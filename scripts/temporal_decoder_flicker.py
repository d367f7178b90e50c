"""Flicker and PSNR of per-frame against temporal decoding on held-out real photos clips: both decoders get the
same latents (the temporal stage's frozen encoder), and the real clips' own flicker is the floor.

    python scripts/temporal_decoder_flicker.py runs/ae/export runs/ae_temporal/export --clips 16
"""

from __future__ import annotations

import argparse

import torch

from cascade.eval.metrics import flicker, psnr
from cascade.eval.suites import get_suite
from cascade.types import VideoSpec
from stages.autoencoder.stage import AutoencoderStage

HELD_OUT_SEED = 12  # camera draws of the held-out clips

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("per_frame", help="the per-frame autoencoder stage folder")
p.add_argument("temporal", help="the temporal-decoder autoencoder stage folder fine-tuned from it")
p.add_argument("--clips", type=int, default=16)
p.add_argument("--frames", type=int, default=16)
p.add_argument("--size", type=int, default=128)
args = p.parse_args()

torch.set_grad_enabled(False)
spec = VideoSpec(frames=args.frames, height=args.size, width=args.size, fps=8.0)
place = dict(frames=spec.frames, fps=spec.fps, height=spec.height, width=spec.width)
per_frame = AutoencoderStage.from_pretrained(args.per_frame, role="decode", **place)
temporal = AutoencoderStage.from_pretrained(args.temporal, role="decode", **place)
truth, _ = get_suite("photos").real_clips(spec, args.clips, HELD_OUT_SEED)
encoder = temporal.placed(role="encode")
outs = {"per-frame": [], "temporal": []}
for t in truth:
    z = encoder.encode(t[None])
    outs["per-frame"].append(per_frame.decode(z * per_frame.config.scaling_factor / temporal.config.scaling_factor))
    outs["temporal"].append(temporal.decode(z))
print(f"{args.clips} held-out photos clips, {spec.frames} frames of {spec.height}x{spec.width} at {spec.fps:g} fps")
print(f"real clips            flicker {flicker(truth):.5f}")
for name, clips in outs.items():
    x = torch.cat(clips).clamp(-1, 1)
    print(f"{name:<10} decoding  flicker {flicker(x):.5f}  PSNR {psnr(x, truth):.2f} dB")
