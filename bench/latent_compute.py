"""Base training compute of the latent base stage vs the pixel base stage on the photos world (MagicVideo / LVDM: a
latent base reaches equal or better fidelity at <= 1/2 the training compute): training FLOPs and seconds per sample
and per run, and the one-time cost of filling the latent cache.

    python bench/latent_compute.py [--quick] [--device cpu|cuda] [--autoencoder DIR] [--steps 5] [--warmup 2]

Each recipe is its config as written (configs/photos/base_video.yaml: 8 frames of 32x32 pixels;
configs/latent/base_video.yaml: 8 frames of 128x128 made as latents of the autoencoder it names): the stage preset and
model section, the data options (clips rendered by its data source, text dropout, min-SNR), batch_size and max_steps,
and the stage's training loss (DiffusionTrainTask.loss, text from the real text encoder). The latent recipe trains on
its rendered clips encoded by the autoencoder, placed as `cascade train` places it (on the CPU, where training fills
the cache). Without the autoencoder folder, a random-weight one of the `default` preset is saved in a temporary folder:
FLOPs and speed do not depend on the weights. --quick times batches of 2 and scales them to the configs' batch sizes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench import common  # noqa: E402
from bench.train_throughput import Encoders, measure  # noqa: E402

PIXEL_CONFIG = "configs/photos/base_video.yaml"
LATENT_CONFIG = "configs/latent/base_video.yaml"
RANDOM_AUTOENCODER_PRESET = "default"
RANDOM_AUTOENCODER_SEED = 0
QUICK_BATCH = 2
# what the comparison divides, latent by pixel
RATIOS = ("output_pixels", "train_gflop_per_sample", "train_tflop_per_run", "tflop_per_run_with_encoding", "step_s",
          "train_s_per_run", "s_per_run_with_encoding", "s_per_run_with_data")


def autoencoder_folder(args: argparse.Namespace, latent_cfg, scratch: Path) -> tuple[Path, Path | None]:
    """(folder, missing): --autoencoder, else the folder the latent config names, else (when that one is `missing`) a
    random-weight preset saved in `scratch`. Relative paths are read from the repository root, as `cascade train` is
    run."""
    named = args.autoencoder or Path(latent_cfg.model["latent"]["autoencoder"])
    folder = named if named.is_absolute() else common.ROOT / named
    if folder.is_dir():
        return folder, None
    from cascade.stage import make_stage_config
    from stages.autoencoder.stage import AutoencoderStage

    print(f"  {named} does not exist; using a random-weight '{RANDOM_AUTOENCODER_PRESET}' autoencoder",
          file=sys.stderr)
    torch.manual_seed(RANDOM_AUTOENCODER_SEED)
    folder = scratch / "autoencoder"
    AutoencoderStage(make_stage_config(AutoencoderStage, RANDOM_AUTOENCODER_PRESET)).save_pretrained(folder)
    return folder, named


def recipe_configs(args: argparse.Namespace, scratch: Path):
    """The two training configs, the latent one pointed at the autoencoder folder (validated against it)."""
    from cascade.training import apply_overrides, load_config

    pixel = load_config(common.ROOT / PIXEL_CONFIG)
    latent = load_config(common.ROOT / LATENT_CONFIG)
    folder, missing = autoencoder_folder(args, latent, scratch)
    latent = apply_overrides(latent, [f"model.latent.autoencoder={folder}"])
    return pixel, latent, folder, missing


def rendered(data, spec, n: int) -> tuple[list[dict], list[float]]:
    """The data source's first n clips at `spec`, and the seconds each took to render."""
    import time

    from cascade.training.data import build_dataset

    ds = build_dataset(data, spec, needs_text=True)
    items, times = [], []
    for i in range(n):
        t0 = time.perf_counter()
        items.append(ds[i])
        times.append(time.perf_counter() - t0)
    return items, times


def encoded(encoder, items: list[dict]) -> tuple[list[dict], list[float]]:
    """Items with their clips replaced by latents, encoded ENCODE_BATCH clips at a time as the latent cache does, and
    the seconds per clip of each batch (the first batch is a warm-up when there are more)."""
    import time

    from cascade.training.latent_cache import ENCODE_BATCH

    pixels = torch.stack([it["video"] for it in items])  # (N, C, F, H, W)
    latents, per_clip = [], []
    for chunk in pixels.split(ENCODE_BATCH):
        t0 = time.perf_counter()
        latents.append(encoder.encode(chunk).float())
        per_clip.append((time.perf_counter() - t0) / len(chunk))
    latents = torch.cat(latents)
    return [{**it, "video": z} for it, z in zip(items, latents)], per_clip[1:] or per_clip


def measure_recipe(label: str, source: str, train_cfg, args: argparse.Namespace, encoders: Encoders, peak: float, *,
                   discard_first: bool) -> dict:
    """One recipe: render a batch of its clips (latent: and encode them), then time and count training steps on it."""
    from cascade.registry import frozen_stage_for, get_stage_class
    from cascade.stage import make_stage_config, parse_config
    from cascade.training.data import DataConfig
    from cascade.training.diffusion_task import DiffusionTrainTask

    cls = get_stage_class(train_cfg.stage)
    stage_cfg = make_stage_config(cls, train_cfg.preset, train_cfg.model, source=f"{source}: model")
    stage_cls = get_stage_class(stage_cfg.type)
    data = parse_config(DataConfig, dict(train_cfg.data), source=f"{source}: data")
    text = encoders(stage_cfg.text)
    truth, spec = stage_cfg.truth_spec(), stage_cfg.output_spec()  # the pixel clips made; what the network sees
    n = QUICK_BATCH if args.quick else train_cfg.batch_size
    items, render_s = rendered(data, truth, n)
    row = {"recipe": label, "config": source, "preset": train_cfg.preset,
           "output": f"{truth.frames}x{truth.height}x{truth.width}",
           "output_pixels": truth.frames * truth.height * truth.width,
           "network_sees": f"{spec.channels}x{spec.frames}x{spec.height}x{spec.width}", "num_clips": data.num_clips,
           "batch_size": train_cfg.batch_size, "max_steps": train_cfg.max_steps, "measured_batch": n,
           "data": data.model_dump(mode="json"), "render_s_per_clip": common.median(render_s),
           "encoder_gflop_per_clip": None, "encode_s_per_clip": None}
    if stage_cfg.latent is not None:
        encoder = frozen_stage_for(stage_cfg.encoder_folder(truth))  # as cascade train loads it: frozen, on the CPU
        one = items[0]["video"][None]  # (1, C, F, H, W)
        row["encoder_gflop_per_clip"] = common.count_flops(lambda: encoder.encode(one)) / 1e9
        items, encode_s = encoded(encoder, items)
        row["encode_s_per_clip"], row["encode_s_times"] = common.median(encode_s), encode_s
    batch = {"video": torch.stack([it["video"] for it in items]),  # (B, C, F, H, W) in the stage's space
             "caption": [it.get("caption", "") for it in items],
             "is_image": torch.tensor([bool(it.get("is_image", False)) for it in items])}
    text.encode(batch["caption"])  # text states cached before any timing, as in a long run

    def build():
        torch.manual_seed(train_cfg.seed)
        stage = stage_cls(stage_cfg)
        return stage.network, DiffusionTrainTask(stage, train_cfg.data, {"text": text})

    run = argparse.Namespace(device=args.device, warmup=args.warmup, steps=args.steps, batch=n)
    if discard_first:  # the process's one-time costs (thread pools, kernel caches, allocator) land on no row
        measure(label, train_cfg.preset, build, train_cfg, batch, run, peak)
    timed = measure(label, train_cfg.preset, build, train_cfg, batch, run, peak)
    row.update({k: timed[k] for k in ("params_m", "train_gflop_per_sample", "step_times_s", "achieved_tflops",
                                      "mfu_pct", "peak_mib", "peak_exact")})
    row["step_s_measured"] = timed["step_ms"] / 1e3
    return totals(row)


def main() -> None:
    p = common.parser("latent_compute", __doc__.splitlines()[0])
    p.add_argument("--autoencoder", type=Path, default=None,
                   help="autoencoder folder [default: the latent config's model.latent.autoencoder; a random-weight "
                        f"'{RANDOM_AUTOENCODER_PRESET}' preset where that does not exist]")
    p.add_argument("--steps", type=int, default=5, help="timed optimizer steps per recipe (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    args = p.parse_args()
    if args.quick:
        args.steps, args.warmup = 1, 1
    args = common.finish_args(args)

    info = common.machine(args.device)
    peak, peak_source = common.peak_tflops(None, args.device, quick=args.quick)
    encoders = Encoders()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_latent_compute_") as scratch:
        pixel_cfg, latent_cfg, folder, missing = recipe_configs(args, Path(scratch))
        for label, source, train_cfg in (("pixel", PIXEL_CONFIG, pixel_cfg), ("latent", LATENT_CONFIG, latent_cfg)):
            rows.append(measure_recipe(label, source, train_cfg, args, encoders, peak, discard_first=not rows))
            print(f"  {label}: {rows[-1]['step_s']:.2f} s/step at batch {rows[-1]['batch_size']}", file=sys.stderr)

    pixel, latent = rows
    ratios = {k: latent[k] / pixel[k] for k in RATIOS if pixel[k]}
    body = description(args, rows, folder, missing, peak, peak_source) + "\n\n" + comparison(pixel, latent, ratios)
    common.report(args, info, f"latent vs pixel base training compute ({args.device})", body,
                  {"rows": rows, "ratios": ratios, "autoencoder": None if missing else str(folder),
                   "autoencoder_random_preset": RANDOM_AUTOENCODER_PRESET if missing else None,
                   "autoencoder_missing": str(missing) if missing else None,
                   "peak_tflops": peak, "peak_source": peak_source})


def totals(row: dict) -> dict:
    """Per-run numbers of a recipe: training (x batch x max_steps), the one-time encoding of the latent cache
    (x num_clips), and the rendering of every clip the run draws (min(num_clips, batch x max_steps))."""
    samples = row["batch_size"] * row["max_steps"]
    drawn = min(row["num_clips"], samples)
    row["step_s"] = row["step_s_measured"] / row["measured_batch"] * row["batch_size"]
    row["train_tflop_per_run"] = row["train_gflop_per_sample"] * samples / 1e3
    row["encode_tflop"] = (row["encoder_gflop_per_clip"] or 0.0) * row["num_clips"] / 1e3
    row["tflop_per_run_with_encoding"] = row["train_tflop_per_run"] + row["encode_tflop"]
    row["train_s_per_run"] = row["step_s"] * row["max_steps"]
    row["encode_s"] = (row["encode_s_per_clip"] or 0.0) * row["num_clips"]
    row["s_per_run_with_encoding"] = row["train_s_per_run"] + row["encode_s"]
    row["clips_drawn"] = drawn
    row["render_s"] = row["render_s_per_clip"] * drawn
    row["s_per_run_with_data"] = row["s_per_run_with_encoding"] + row["render_s"]
    return row


def description(args, rows, folder: Path, missing: Path | None, peak: float, peak_source: str) -> str:
    from cascade.training.latent_cache import ENCODE_BATCH

    precision = "bf16 autocast" if torch.device(args.device).type == "cuda" else "fp32"
    ae = (f"a random-weight '{RANDOM_AUTOENCODER_PRESET}' autoencoder, as {missing} does not exist; FLOPs and speed "
          f"do not depend on the weights" if missing else f"the autoencoder at {folder}")
    scaled = (f" Steps were timed at batch {QUICK_BATCH} and scaled to the configs' batch sizes (--quick)."
              if args.quick else "")
    mem = "peak allocated above start" if torch.device(args.device).type == "cuda" else "peak RSS above start"
    cols = [("recipe", "recipe"), ("output", "output FxHxW"), ("network_sees", "network sees CxFxHxW"),
            ("params_m", "params (M)"), ("batch_size", "batch"), ("max_steps", "max_steps"), ("num_clips", "clips"),
            ("train_gflop_per_sample", "train GFLOP/sample"), ("step_s", "s/step"),
            ("encoder_gflop_per_clip", "encode GFLOP/clip"), ("encode_s_per_clip", "encode s/clip"),
            ("render_s_per_clip", "render s/clip"), ("peak_mib", f"{mem} (MiB)")]
    return (f"Each recipe's config as written ({rows[0]['config']}, {rows[1]['config']}): stage preset and model "
            f"section, data options, batch_size, max_steps. Training loss DiffusionTrainTask.loss on the recipe's "
            f"rendered clips (latent: encoded by {ae}), AdamW + grad clip, {precision}, median of {args.steps} steps "
            f"after {args.warmup} warm-up (and one discarded run of the first recipe), one recipe after the other in "
            f"one process.{scaled} FLOPs: FlopCounterMode, one forward + backward (optimizer not counted). The latent "
            f"cache is filled once: each of data.num_clips clips through the encoder, {ENCODE_BATCH} at a time, on the "
            f"CPU (where cascade train fills it). Achieved {rows[0]['achieved_tflops']:.3g} / "
            f"{rows[1]['achieved_tflops']:.3g} TFLOP/s (pixel / latent) against a peak of {peak:.3g} "
            f"({peak_source}).\n\n" + common.table(rows, cols))


def comparison(pixel: dict, latent: dict, ratios: dict) -> str:
    lines = [("output pixels per clip", "output_pixels"), ("training GFLOP per sample", "train_gflop_per_sample"),
             ("training TFLOP per run", "train_tflop_per_run"),
             ("TFLOP per run with the one-time encoding", "tflop_per_run_with_encoding"),
             ("seconds per optimizer step", "step_s"), ("training seconds per run", "train_s_per_run"),
             ("seconds per run with the one-time encoding", "s_per_run_with_encoding"),
             ("seconds per run with encoding and rendering the clips drawn", "s_per_run_with_data")]
    rows = [{"what": what, "pixel": pixel[k], "latent": latent[k], "ratio": ratios.get(k)} for what, k in lines]
    return common.table(rows, [("what", "per clip, sample, step or run"), ("pixel", "pixel"), ("latent", "latent"),
                               ("ratio", "latent / pixel")]) + (
        f"\n\nA run: batch x max_steps samples. Encoding: per clip x data.num_clips, once. Rendering: each clip a run "
        f"draws (min(data.num_clips, batch x max_steps): {pixel['clips_drawn']:,} pixel, {latent['clips_drawn']:,} "
        f"latent) is rendered once and kept in memory (the latent ones while the cache fills).")


if __name__ == "__main__":
    main()
