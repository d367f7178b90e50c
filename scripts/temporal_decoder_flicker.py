"""Flicker and PSNR of per-frame against temporal decoding: on held-out real photos clips (both decoders get the
same latents, those of the temporal stage's frozen encoder; the real clips' own numbers are the floor) and, with
--cascade, on the latents a latent cascade generates (what its decoder node is given when it renders).

    python scripts/temporal_decoder_flicker.py runs/latent/autoencoder/export runs/latent/autoencoder_temporal/export \
        --clips 16 [--cascade weights/photos_latent --prompts 16]

Two flicker numbers per decoding: `flicker` (cascade.eval.metrics: the clip's mean brightness flashing between
frames) and `pixel` (mean |second temporal difference| of every pixel, on the 0-1 scale: local shimmer, which a pan
also has in part, so the real clips' value is its floor).
"""

from __future__ import annotations

import argparse

import torch

from cascade.eval.metrics import flicker, psnr
from cascade.eval.suites import get_suite
from cascade.types import VideoSpec
from stages.autoencoder.stage import AutoencoderStage

HELD_OUT_SEED = 12  # camera draws of the held-out clips


def pixel_flicker(x: torch.Tensor) -> float:
    """Mean |x[t+1] - 2 x[t] + x[t-1]| over every pixel of (B, C, F, H, W) clips in [-1, 1], on the 0-1 scale."""
    u = (x.float() + 1) / 2
    return float((u[:, :, 2:] - 2 * u[:, :, 1:-1] + u[:, :, :-2]).abs().mean())


def row(name: str, x: torch.Tensor, truth: torch.Tensor | None = None) -> str:
    out = f"{name:<28} flicker {flicker(x):.5f}  pixel {pixel_flicker(x):.5f}"
    return out + (f"  PSNR {psnr(x, truth):.2f} dB" if truth is not None else "")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("per_frame", help="the per-frame autoencoder stage folder")
    p.add_argument("temporal", help="the temporal-decoder autoencoder stage folder fine-tuned from it")
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--cascade", help="a latent cascade folder whose decoder node decodes the temporal stage's latents")
    p.add_argument("--prompts", type=int, default=16, help="prompts of the photos suite to render with --cascade")
    args = p.parse_args()

    torch.set_grad_enabled(False)
    spec = VideoSpec(frames=args.frames, height=args.size, width=args.size, fps=8.0)
    place = dict(frames=spec.frames, fps=spec.fps, height=spec.height, width=spec.width)
    per_frame = AutoencoderStage.from_pretrained(args.per_frame, role="decode", **place)
    temporal = AutoencoderStage.from_pretrained(args.temporal, role="decode", **place)
    rescale = per_frame.config.scaling_factor / temporal.config.scaling_factor  # the temporal stage's latents
    truth, _ = get_suite("photos").real_clips(spec, args.clips, HELD_OUT_SEED)
    encoder = temporal.placed(role="encode")
    outs = {"per-frame": [], "temporal": []}
    for t in truth:
        z = encoder.encode(t[None])
        outs["per-frame"].append(per_frame.decode(z * rescale))
        outs["temporal"].append(temporal.decode(z))
    print(f"{args.clips} held-out photos clips, {spec.frames} frames of {spec.height}x{spec.width} at {spec.fps:g} fps")
    print(row("real clips", truth))
    for name, clips in outs.items():
        print(row(f"{name} decoding", torch.cat(clips).clamp(-1, 1), truth))
    if args.cascade:
        generated(args, per_frame, temporal, rescale)


def generated(args, per_frame, temporal, rescale: float) -> None:
    """The cascade's own latents (the input of its decoder node) through both decoders."""
    from cascade.pipeline import CascadePipeline

    pipe = CascadePipeline.from_pretrained(args.cascade, device="cpu")
    decoder = next(n for n in pipe.graph.order if pipe.graph.nodes[n].type == "autoencoder")
    src = next(e.src for e in pipe.graph.edges if e.dst == decoder)
    cases = get_suite("photos").cases(seeds=1)
    prompts = [c["prompt"] for c in cases[:: max(1, len(cases) // args.prompts)][: args.prompts]]
    z = torch.cat([pipe.run(prompts[i:i + 4], seed=i, progress=False, until=src)[src].tensor
                   for i in range(0, len(prompts), 4)])
    dec = {"per-frame": per_frame.decode(z * rescale), "temporal": temporal.decode(z)}
    print(f"{len(prompts)} prompts of the photos suite through {args.cascade} (the latents of its {src} node)")
    for name, clips in dec.items():
        print(row(f"{name} decoding", clips.float().clamp(-1, 1)))


if __name__ == "__main__":
    main()
