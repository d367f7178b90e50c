"""Backbone cost per temporal mixer: parameters, forward GFLOP, training samples/s and peak memory of
SpaceTimeUNet at equal width for every mixer in cascade.nn.MIXERS (plus "none"), beside a diffusers
UNet3DConditionModel of comparable parameter count trained on the same clips with the same loss.

    python bench/backbone.py [--quick] [--device cpu|cuda] [--width 32] [--frames 16 --size 32 --batch 8]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench import common  # noqa: E402
from bench.peers import UNet3DPeer, match_unet3d, unet3d  # noqa: E402

TEXT_LEN, TEXT_DIM = 16, 384


def ours(name: str, args):
    from cascade.nn import SpaceTimeUNet

    return SpaceTimeUNet(in_channels=3, out_channels=3, base_channels=args.width, channel_mults=(1, 2, 2),
                         attention_levels=(False, True, True), heads=4, temporal_mixer=name, text_dim=TEXT_DIM,
                         use_text=True, patch_size=args.patch_size)


def inputs(args, device) -> dict:
    """One fixed random batch: noisy clip, timestep, text tokens + pooled, regression target."""
    g = torch.Generator().manual_seed(0)
    b, shape = args.batch, (args.batch, 3, args.frames, args.size, args.size)  # (B, C, F, H, W)
    return {"x": torch.randn(shape, generator=g).to(device),
            "t": torch.randint(0, 1000, (b,), generator=g).float().to(device),
            "tokens": torch.randn(b, TEXT_LEN, TEXT_DIM, generator=g).to(device),
            "pooled": torch.randn(b, TEXT_DIM, generator=g).to(device),
            "target": torch.randn(shape, generator=g).to(device)}


def measure(label: str, mixer: str, build, call, args) -> dict:
    """Build the model inside the memory meter, count forward FLOPs, time AdamW steps on an MSE loss."""
    device = args.device
    batch = inputs(args, device)
    with common.PeakMemory(device) as mem:
        model = build().to(device).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step():
            with common.autocast(device):
                out = call(model, batch)
            loss = F.mse_loss(out.float(), batch["target"])
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        times = common.time_calls(step, device=device, warmup=args.warmup, repeats=args.steps)
    with torch.no_grad(), common.autocast(device):
        fwd = common.count_flops(lambda: call(model, batch))
    dt = common.median(times)
    n = common.num_params(model)
    row = {"model": label, "mixer": mixer, "params": n, "params_m": n / 1e6,
           "fwd_gflop_per_sample": fwd / args.batch / 1e9, "step_ms": dt * 1e3, "samples_per_s": args.batch / dt,
           "peak_mib": mem.mib, "peak_exact": mem.exact, "step_times_s": times}
    del model, opt
    return row


def main() -> None:
    p = common.parser("backbone", __doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=32, help="base channels of every SpaceTimeUNet (widths 1x, 2x, 2x)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=32, help="frame height and width")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch-size", type=int, default=1, help="SpaceTimeUNet patch_size (simple diffusion patching)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per model (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed training steps first")
    p.add_argument("--mixers", default=None, help="comma list [default: every registered mixer, then none]")
    p.add_argument("--no-peer", action="store_true", help="skip the diffusers UNet3DConditionModel")
    args = p.parse_args()
    if args.quick:
        args.batch, args.frames, args.steps, args.warmup = 2, 8, 1, 1
    args = common.finish_args(args)

    from cascade.nn import MIXERS

    names = args.mixers.split(",") if args.mixers else [*MIXERS, "none"]
    info = common.machine(args.device)
    rows = []
    call = lambda m, b: m(b["x"], b["t"], encoder_hidden_states=b["tokens"], pooled=b["pooled"])  # noqa: E731
    measure("warm-up", names[0], lambda: ours(names[0], args), call, args)  # discarded: one-time process costs
    for name in names:
        rows.append(measure("SpaceTimeUNet", name, lambda n=name: ours(n, args), call, args))
        print(f"  {name}: {rows[-1]['samples_per_s']:.2f} samples/s", file=sys.stderr)
    peer = None
    if not args.no_peer:
        target = int(common.median(r["params"] for r in rows))
        channels, count = match_unet3d(target, text_dim=TEXT_DIM)
        peer = {"target_params": target, "block_out_channels": [channels, 2 * channels, 2 * channels],
                "layers_per_block": 1, "attention_head_dim": 8, "cross_attention_dim": TEXT_DIM, "params": count,
                "ratio_to_ours": count / target}
        rows.append(measure("diffusers UNet3DConditionModel", f"(its own) {channels}-{2 * channels}-{2 * channels}",
                            lambda: UNet3DPeer(unet3d(channels, text_dim=TEXT_DIM)),
                            lambda m, b: m(b["x"], b["t"], encoder_hidden_states=b["tokens"]), args))

    shape = f"batch {args.batch} x {args.frames}x{args.size}x{args.size}"
    precision = "bf16 autocast" if torch.device(args.device).type == "cuda" else "fp32"
    mem_note = "peak allocated above start" if torch.device(args.device).type == "cuda" else "peak RSS above start"
    cols = [("model", "model"), ("mixer", "temporal mixer"), ("params_m", "params (M)"),
            ("fwd_gflop_per_sample", "fwd GFLOP/sample"), ("step_ms", "train step (ms)"),
            ("samples_per_s", "train samples/s"), ("peak_mib", f"peak MiB ({mem_note})")]
    body = (f"SpaceTimeUNet width {args.width} (1,2,2), attention at levels 2-3, 4 heads, patch {args.patch_size}; "
            f"{shape}, {precision}, AdamW on MSE, median of {args.steps} steps after {args.warmup} warm-up; the first "
            f"model is run once before measuring (one-time process costs).\n\n"
            + common.table(rows, cols))
    if peer:
        body += (f"\n\ndiffusers peer: block_out_channels {tuple(peer['block_out_channels'])}, layers_per_block 1, "
                 f"attention_head_dim 8, cross_attention_dim {TEXT_DIM}: {peer['params']:,} parameters "
                 f"({peer['ratio_to_ours']:.2f}x the median of ours, {peer['target_params']:,}).")
    common.report(args, info, f"backbone ({args.device})", body, {"rows": rows, "peer": peer})


if __name__ == "__main__":
    main()
