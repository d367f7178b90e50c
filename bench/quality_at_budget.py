"""Prompt fidelity at equal training budget: our base_video stage and a diffusers UNet3DConditionModel peer are
trained for the same wall-clock time on the same shapes clips, captions, text encoder, v-prediction loss,
optimizer, learning-rate schedule and EMA; each is exported, loaded back, sampled with the same DPM-Solver++
settings and guidance, and read by the attribute probe (cascade.eval.suites.shapes.probe) over the colour x shape x motion
combinations (72 by default; the 12 held-out ones are also scored on their own).

    python bench/quality_at_budget.py [--quick] [--device cpu|cuda] [--minutes 6] [--seeds 2]

The budget counts optimizer steps only (forward, backward, clip, AdamW, EMA); fetching clips and encoding
captions happen outside the clock and identically for both, in the same batch order.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench import common  # noqa: E402
from bench.peers import UNet3DPeer, match_unet3d, unet3d  # noqa: E402

PROMPT_TEMPLATE = "a {colour} {shape} moving {motion}"


def combos_for(args) -> list[tuple[str, str, str]]:
    """All 72 combinations, or N of them: for N <= 6 one per colour with shapes and motions cycling (so 6 cover
    every colour, shape and motion), else N spread over the colour-major list with a stride coprime to 72."""
    from cascade.data.shapes import ALL_COMBOS, COLOURS, MOTIONS, SHAPES

    n = args.combos
    if n is None or n >= len(ALL_COMBOS):
        return list(ALL_COMBOS)
    if n <= len(COLOURS):
        return [(c, SHAPES[i % len(SHAPES)], MOTIONS[i % len(MOTIONS)]) for i, c in enumerate(COLOURS)][:n]
    return [ALL_COMBOS[(29 * i) % len(ALL_COMBOS)] for i in range(n)]  # 29 is coprime to 72: n distinct


def peer_stage(cfg, unet, null):
    """A base_video stage whose network is the diffusers peer: same sampler, guidance, thresholding."""
    from cascade.diffusion import Denoiser
    from stages.base_video.stage import BaseVideoStage

    stage = BaseVideoStage(cfg)
    stage.network = UNet3DPeer(unet, null)
    stage.denoiser = Denoiser(stage.network, stage.denoiser.schedule, prediction=stage.denoiser.prediction)
    return stage


def train(label: str, stage, text, dataset, train_cfg, args) -> dict:
    """Train stage.network for args.minutes of step time; EMA weights are copied in at the end."""
    from cascade.training.diffusion_task import DiffusionTrainTask
    from cascade.training import EMA
    from cascade.training.batches import BatchOrder, BatchSource, loss_generator
    from cascade.training.optim import build_optimizer, lr_at, set_lr

    device = args.device
    task = DiffusionTrainTask(stage, train_cfg.data, {"text": text})
    model = stage.network.to(device).train()
    stage.device = torch.device(device)
    opt = build_optimizer(model, train_cfg.optim)
    ema = EMA(model, train_cfg.ema_decay, train_cfg.ema_warmup)
    order = BatchOrder(len(dataset), args.batch, seed=train_cfg.seed)
    source = BatchSource(dataset, task.collate, order, rank=0)
    params = [p for p in model.parameters() if p.requires_grad]
    budget, spent, step, losses = args.minutes * 60, 0.0, 0, []
    while spent < budget:
        step += 1
        batch = source.get(step, 0)  # outside the clock: clips and text states, the same for both models
        text.encode(batch["caption"])
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        common.sync(device)
        t0 = time.perf_counter()
        set_lr(opt, lr_at(step, train_cfg.optim, train_cfg.max_steps))
        with common.autocast(device):
            loss = task.loss(model, batch, loss_generator(train_cfg.seed, step, 0, 0, torch.device(device)))
        loss.backward()
        if train_cfg.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, train_cfg.optim.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.update(model)
        common.sync(device)
        spent += time.perf_counter() - t0
        losses.append(float(loss.detach()))
    ema.copy_to(model)
    model.eval()
    tail = losses[-max(1, len(losses) // 10):]
    print(f"  {label}: {step} steps in {spent:.1f} s, final loss {sum(tail) / len(tail):.4f}", file=sys.stderr)
    return {"steps": step, "samples_seen": step * args.batch, "train_s": spent,
            "final_loss": sum(tail) / len(tail), "params": common.num_params(model)}


@torch.no_grad()
def evaluate(stage, text, combos, args) -> tuple[dict, dict, list[dict]]:
    """Render each combo's prompt for every seed and score the probe's reading against the prompt."""
    from cascade.data.shapes import HELD_OUT
    from cascade.eval.suites.shapes.probe import analyze_batch, score

    prompts = [PROMPT_TEMPLATE.format(colour=c, shape=s, motion=m) for c, s, m in combos]
    results, targets = [], []
    for seed in range(args.seeds):
        for start in range(0, len(prompts), args.eval_batch):
            chunk = prompts[start:start + args.eval_batch]
            emb = text.encode(chunk).to(stage.device)
            gen = torch.Generator(stage.device).manual_seed(seed * 100_003 + start)  # same noise for both models
            video = stage({"text": emb}, generator=gen, steps=args.steps, guidance=args.guidance, progress=False)
            results += analyze_batch(video)
            targets += combos[start:start + args.eval_batch]
    held = [i for i, t in enumerate(targets) if tuple(t) in set(HELD_OUT)]
    overall = score(results, targets)
    held_out = score([results[i] for i in held], [targets[i] for i in held])
    per_clip = [{"target": list(t), **{k: r.get(k) for k in ("colour", "shape", "motion")}}
                for r, t in zip(results, targets)]
    return overall, held_out, per_clip


def main() -> None:
    p = common.parser("quality_at_budget", __doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=6.0, help="training budget per model (step time)")
    p.add_argument("--seeds", type=int, default=2, help="seeds per combination")
    p.add_argument("--combos", type=int, default=None, help="evaluate only N combinations [default: all 72]")
    p.add_argument("--config", type=Path, default=Path("configs/base_video/default.yaml"),
                   help="training config of the base stage: preset, data, optimizer, batch size, EMA, seed")
    p.add_argument("--batch", type=int, default=None, help="batch size [default: the config's]")
    p.add_argument("--steps", type=int, default=None, help="sampling steps [default: the stage's own]")
    p.add_argument("--guidance", type=float, default=None, help="CFG scale [default: the stage's own]")
    p.add_argument("--eval-batch", type=int, default=36, help="prompts per sampling batch")
    p.add_argument("--peer-channels", type=int, default=None,
                   help="peer block_out_channels = (c, 2c, 2c) [default: c matching our parameter count]")
    p.add_argument("--export-dir", type=Path, default=None,
                   help="keep the exported stage folders here [default: a temporary directory, removed]")
    args = p.parse_args()
    if args.quick:
        args.minutes, args.seeds = 10 / 60, 1
        args.combos = args.combos or 6
        args.batch = args.batch or 4
        args.steps = args.steps or 5
    args = common.finish_args(args)

    from diffusers.models import UNet3DConditionModel

    from cascade.stage import make_stage_config
    from cascade.training.data import DataConfig, build_dataset
    from cascade.training import load_config
    from stages.base_video.stage import BaseVideoStage
    from stages.text_encoder.config import TextEncoderConfig
    from stages.text_encoder.stage import TextEncoderStage

    config_path = args.config if args.config.is_absolute() else common.ROOT / args.config
    train_cfg = load_config(config_path)
    args.batch = args.batch or train_cfg.batch_size
    cfg = make_stage_config(BaseVideoStage, train_cfg.preset, train_cfg.model, source=str(args.config))
    data = DataConfig.model_validate(train_cfg.data)
    spec = cfg.output_spec()
    info = common.machine(args.device)
    text = TextEncoderStage(TextEncoderConfig.from_spec(cfg.text))
    null = text.encode([""]).tokens[0]  # (L, D): the peer's unconditional prompt (diffusers convention)
    dataset = build_dataset(data, spec, needs_text=True)
    combos = combos_for(args)

    export = args.export_dir or Path(tempfile.mkdtemp(prefix="bench_quality_"))
    export.mkdir(parents=True, exist_ok=True)
    try:
        # 1. ours: the base_video stage as configured
        torch.manual_seed(train_cfg.seed)
        ours = BaseVideoStage(cfg)
        ours_train = train("ours", ours, text, dataset, train_cfg, args)
        ours.save_pretrained(export / "ours_base_video")

        # 2. the peer: param-matched UNet3DConditionModel behind the same stage, loss and loop
        channels = args.peer_channels or match_unet3d(ours_train["params"], text_dim=cfg.text.dim)[0]
        torch.manual_seed(train_cfg.seed)
        peer = peer_stage(cfg, unet3d(channels, in_channels=spec.channels, out_channels=spec.channels,
                                      text_dim=cfg.text.dim), null)
        peer_train = train("peer", peer, text, dataset, train_cfg, args)
        peer.network.unet.save_pretrained(export / "peer_unet3d")
        del ours, peer

        # 3. load both back from disk and evaluate with the same sampler settings and noise
        ours = BaseVideoStage.from_pretrained(export / "ours_base_video", device=args.device)
        peer = peer_stage(cfg, UNet3DConditionModel.from_pretrained(export / "peer_unet3d"), null).to(args.device)
        text.to(args.device)
        evals = {}
        for label, stage in (("ours", ours), ("peer", peer)):
            t0 = time.perf_counter()
            evals[label] = (*evaluate(stage, text, combos, args), time.perf_counter() - t0)
    finally:
        if args.export_dir is None:
            shutil.rmtree(export, ignore_errors=True)

    sampling = cfg.sampling
    steps, guidance = args.steps or sampling.steps, args.guidance if args.guidance is not None else sampling.guidance
    rows = []
    for label, name, tr in (("ours", f"SpaceTimeUNet ({cfg.network.temporal_mixer}, patch {cfg.network.patch_size})",
                             ours_train),
                            ("peer", f"diffusers UNet3DConditionModel ({channels}, {2 * channels}, {2 * channels})",
                             peer_train)):
        overall, held, _, eval_s = evals[label]
        rows.append({"model": name, "params_m": tr["params"] / 1e6, "steps": tr["steps"],
                     "samples_seen": tr["samples_seen"], "final_loss": tr["final_loss"],
                     "colour": 100 * overall["colour"], "shape": 100 * overall["shape"],
                     "motion": 100 * overall["motion"], "all": 100 * overall["all"],
                     "held_out_all": 100 * held["all"] if held["n"] else None, "held_out_n": held["n"],
                     "eval_s": eval_s, **{f"train_{k}": v for k, v in tr.items()}})
    precision = "bf16 autocast" if torch.device(args.device).type == "cuda" else "fp32"
    cols = [("model", "model"), ("params_m", "params (M)"), ("steps", "steps"), ("samples_seen", "samples seen"),
            ("final_loss", "final loss"), ("colour", "colour %"), ("shape", "shape %"), ("motion", "motion %"),
            ("all", "all three %"), ("held_out_all", "held-out all three %")]
    body = (f"{args.minutes * 60:.0f} s of training each ({precision}, batch {args.batch}, {args.config}: "
            f"lr {train_cfg.optim.lr:g}, warm-up {train_cfg.optim.warmup_steps}, EMA {train_cfg.ema_decay}); "
            f"shapes {spec.frames}x{spec.height}x{spec.width} at {spec.fps:g} fps; then {sampling.sampler} "
            f"{steps} steps, CFG {guidance:g}, over {len(combos)} combinations x {args.seeds} seed(s) "
            f"(prompt '{PROMPT_TEMPLATE}'), read by cascade.eval.suites.shapes.probe.\n\n" + common.table(rows, cols))
    common.report(args, info, f"quality at equal budget ({args.device})", body,
                  {"rows": rows, "combos": [list(c) for c in combos], "sampler": sampling.sampler, "steps": steps,
                   "guidance": guidance, "per_clip": {k: v[2] for k, v in evals.items()},
                   "held_out": {k: v[1] for k, v in evals.items()}})


if __name__ == "__main__":
    main()
