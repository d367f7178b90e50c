"""PSNR of an autoencoder stage's per-frame reconstruction on held-out real photos clips, against bicubic down- and
up-sampling of the same clips at the same compression (as many numbers per frame as the latent holds).

    python scripts/autoencoder_psnr.py runs/ae/export --clips 16
"""

from __future__ import annotations

import argparse

import torch

from cascade.eval.metrics import psnr
from cascade.eval.suites import get_suite
from cascade.types import VideoSpec
from stages.autoencoder.stage import AutoencoderStage

HELD_OUT_SEED = 11  # camera draws of the held-out clips

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("stage_dir", help="an autoencoder stage folder or a diffusers AutoencoderKL folder")
p.add_argument("--clips", type=int, default=16)
p.add_argument("--frames", type=int, default=8)
p.add_argument("--size", type=int, default=128)
args = p.parse_args()

torch.set_grad_enabled(False)
spec = VideoSpec(frames=args.frames, height=args.size, width=args.size, fps=8.0)
ae = AutoencoderStage.from_pretrained(args.stage_dir, role="encode", frames=spec.frames, fps=spec.fps,
                                      height=spec.height, width=spec.width)
truth, _ = get_suite("photos").real_clips(spec, args.clips, HELD_OUT_SEED)
recon = torch.cat([ae.decode(ae.encode(t[None])) for t in truth]).clamp(-1, 1)
bicubic = ae.bicubic_roundtrip(truth).clamp(-1, 1)
lat = ae.output_spec
h, w = ae.config.equal_size()
print(f"{args.clips} held-out photos clips, {spec.frames} frames of {spec.height}x{spec.width}; latent "
      f"{lat.channels}x{lat.height}x{lat.width} ({ae.config.downsampling}x per side), "
      f"{ae.num_parameters():,} parameters")
print(f"autoencoder               PSNR {psnr(recon, truth):.2f} dB")
print(f"bicubic via {h}x{w} pixels  PSNR {psnr(bicubic, truth):.2f} dB  (same count of numbers as the latent)")
