"""Training throughput of each learned stage preset: samples/s, model FLOP utilisation and peak memory with the
stage's real training loss (DiffusionTrainTask.loss), beside a diffusers UNet3DConditionModel base of matching
parameter count trained with the same v-prediction loss on the base stage's clips.

    python bench/train_throughput.py [--quick] [--device cpu|cuda] [--batch 16] [--peak-tflops 989]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench import common  # noqa: E402
from bench.peers import UNet3DPeer, match_unet3d, unet3d  # noqa: E402

STAGES = ("base_video", "temporal_sr", "spatial_sr")


def training_config(stage: str, preset: str):
    """configs/<stage>/<preset>.yaml when it exists (its data and optim sections), else the defaults."""
    from cascade.training import TrainConfig, load_config

    path = common.ROOT / "configs" / stage / f"{preset}.yaml"
    return (load_config(path), str(path.relative_to(common.ROOT))) if path.is_file() else \
        (TrainConfig(stage=stage, preset=preset), "defaults")


class Encoders:
    """One real text encoder stage per (length, dim), loaded once and shared by every task."""

    def __init__(self):
        self._made = {}

    def __call__(self, spec):
        if spec is None:
            return None
        key = (spec.length, spec.dim)
        if key not in self._made:
            from stages.text_encoder.config import TextEncoderConfig
            from stages.text_encoder.stage import TextEncoderStage

            self._made[key] = TextEncoderStage(TextEncoderConfig.from_spec(spec))
        return self._made[key]


def fake_batch(spec, batch: int) -> dict:
    """Random-but-valid clips in [-1, 1] of the stage's output spec, with real shapes captions."""
    from cascade.data.shapes import TRAIN_COMBOS, TRAIN_TEMPLATES, caption

    g = torch.Generator().manual_seed(0)
    video = torch.rand((batch, spec.channels, spec.frames, spec.height, spec.width), generator=g) * 2 - 1
    captions = [caption(*TRAIN_COMBOS[(7 * i) % len(TRAIN_COMBOS)], TRAIN_TEMPLATES[i % len(TRAIN_TEMPLATES)])
                for i in range(batch)]
    return {"video": video, "caption": captions, "is_image": torch.zeros(batch, dtype=torch.bool)}


def measure(label: str, preset: str, build, train_cfg, batch: dict, args, peak: float) -> dict:
    """Build (model, task) inside the memory meter, time optimizer steps on task.loss, count one step's FLOPs."""
    from cascade.training.optim import build_optimizer

    device = args.device
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    clip = train_cfg.optim.grad_clip
    state = {"step": 0}
    with common.PeakMemory(device) as mem:
        model, task = build()
        model = model.to(device).train()
        opt = build_optimizer(model, train_cfg.optim)
        params = [p for p in model.parameters() if p.requires_grad]

        def step():
            state["step"] += 1
            gen = torch.Generator(device=device).manual_seed(state["step"])
            with common.autocast(device):
                loss = task.loss(model, batch, gen)
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            opt.zero_grad(set_to_none=True)

        times = common.time_calls(step, device=device, warmup=args.warmup, repeats=args.steps)
    flops = common.count_flops(step)
    dt = common.median(times)
    spec = task.stage.output_spec
    n = args.batch
    row = {"stage": label, "preset": preset, "params": common.num_params(model),
           "params_m": common.num_params(model) / 1e6, "clip": f"{spec.frames}x{spec.height}x{spec.width}",
           "batch": n, "step_ms": dt * 1e3, "samples_per_s": n / dt, "train_gflop_per_sample": flops / n / 1e9,
           "achieved_tflops": flops / dt / 1e12, "mfu_pct": 100 * flops / dt / (peak * 1e12),
           "peak_mib": mem.mib, "peak_exact": mem.exact, "step_times_s": times}
    del model, opt
    return row


def main() -> None:
    p = common.parser("train_throughput", __doc__.splitlines()[0])
    p.add_argument("--preset", default="default", help="stage preset to measure")
    p.add_argument("--stages", default=",".join(STAGES), help="comma list of learned stage types")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10, help="timed optimizer steps per model (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="MFU denominator [default: 989 (H100 bf16 dense) on CUDA, a measured fp32 matmul on CPU]")
    p.add_argument("--no-peer", action="store_true", help="skip the diffusers UNet3DConditionModel base")
    args = p.parse_args()
    if args.quick:
        args.batch, args.steps, args.warmup = 2, 1, 1
    args = common.finish_args(args)

    from cascade.registry import get_stage_class
    from cascade.stage import make_stage_config
    from cascade.training.diffusion_task import DiffusionTrainTask

    info = common.machine(args.device)
    peak, peak_source = common.peak_tflops(args.peak_tflops, args.device, quick=args.quick)
    encoders = Encoders()
    rows, sources, peer = [], {}, None
    for name in args.stages.split(","):
        cls = get_stage_class(name)
        cfg = make_stage_config(cls, args.preset, source=f"{name} preset")
        train_cfg, sources[name] = training_config(name, args.preset)
        text = encoders(cfg.text)
        batch = fake_batch(cfg.output_spec(), args.batch)
        if text is not None:
            text.encode(batch["caption"])  # text states cached before any timing, as in a long run

        def build(cls=cls, cfg=cfg, train_cfg=train_cfg, text=text):
            stage = cls(cfg)
            return stage.network, DiffusionTrainTask(stage, train_cfg.data, {"text": text})

        if not rows:  # discarded: the process's one-time costs (thread pools, kernel caches, allocator)
            measure(name, args.preset, build, train_cfg, batch, args, peak)
        rows.append(measure(name, args.preset, build, train_cfg, batch, args, peak))
        print(f"  {name}: {rows[-1]['samples_per_s']:.2f} samples/s", file=sys.stderr)

        if name == "base_video" and not args.no_peer:
            task = DiffusionTrainTask(cls(cfg), train_cfg.data, {"text": text})  # the base stage's loss, any network
            null = text.encode([""]).tokens[0]  # (L, D): the diffusers-style unconditional prompt
            channels, count = match_unet3d(rows[-1]["params"], text_dim=cfg.text.dim)
            peer = {"block_out_channels": [channels, 2 * channels, 2 * channels], "layers_per_block": 1,
                    "attention_head_dim": 8, "cross_attention_dim": cfg.text.dim, "params": count,
                    "ratio_to_ours": count / rows[-1]["params"]}
            rows.append(measure("diffusers UNet3DConditionModel", f"{channels}-{2 * channels}-{2 * channels}",
                                lambda: (UNet3DPeer(unet3d(channels, text_dim=cfg.text.dim), null), task),
                                train_cfg, batch, args, peak))

    precision = "bf16 autocast" if torch.device(args.device).type == "cuda" else "fp32"
    mem_note = "peak allocated above start" if torch.device(args.device).type == "cuda" else "peak RSS above start"
    cols = [("stage", "stage"), ("preset", "preset"), ("params_m", "params (M)"), ("clip", "clip FxHxW"),
            ("batch", "batch"), ("step_ms", "step (ms)"), ("samples_per_s", "samples/s"),
            ("train_gflop_per_sample", "train GFLOP/sample"), ("achieved_tflops", "achieved TFLOP/s"),
            ("mfu_pct", "MFU %"), ("peak_mib", f"peak MiB ({mem_note})")]
    body = (f"Real training loss (DiffusionTrainTask.loss: conditioning from ground truth, text dropout, min-SNR as in "
            f"{', '.join(sorted(set(sources.values())))}), AdamW + grad clip, {precision}, random clips in [-1, 1], "
            f"median of {args.steps} steps after {args.warmup} warm-up (and one discarded run of the first model). "
            f"MFU = FlopCounterMode FLOPs of one step (forward + backward) / step time / {peak:.3g} TFLOP/s "
            f"({peak_source}).\n\n" + common.table(rows, cols))
    if peer:
        body += (f"\n\ndiffusers peer: block_out_channels {tuple(peer['block_out_channels'])}, layers_per_block 1, "
                 f"attention_head_dim 8: {peer['params']:,} parameters ({peer['ratio_to_ours']:.2f}x base_video), "
                 f"trained with the base_video stage's own loss (v-prediction, cosine schedule, 1000 steps); a "
                 f"dropped caption gets the encoded empty prompt.")
    common.report(args, info, f"train throughput ({args.device})", body,
                  {"rows": rows, "peer": peer, "peak_tflops": peak, "peak_source": peak_source,
                   "training_configs": sources})


if __name__ == "__main__":
    main()
