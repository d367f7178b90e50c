"""The `cascade` command line: render, info, data, train, export, eval. Only this module talks to the terminal."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cascade.errors import CascadeError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Cascaded text-to-video diffusion: render with shipped weights, train each stage, evaluate.")
console = Console(stderr=True, markup=False)  # messages carry paths and prompts: "[x]" must print as written
out_console = Console(markup=False)

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def _print_version(value: bool) -> None:
    if value:
        from cascade import __version__

        out_console.print(f"cascade {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")):
    """Cascaded text-to-video diffusion: render with shipped weights, train each stage, evaluate."""


def default_weights() -> Path:
    env = os.environ.get("CASCADE_WEIGHTS")
    if env:
        return Path(env)
    return DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_dir() else Path("weights")


class Format(str, Enum):
    mp4 = "mp4"
    gif = "gif"


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


def _fail(msg: str) -> None:
    console.print(Text.assemble(("error:", "bold red"), " ", msg), highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def slugify(prompt: str, limit: int = 60) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")
    return (s[:limit].rstrip("_") or "prompt")


def plan_outputs(prompts: list[str], out: Path, fmt: Optional[Format], *, as_dir: bool = False) -> list[Path]:
    """One prompt: `out` is a file. Several (or `as_dir`, for a name typed with a trailing /): `out` is a directory
    with one file per prompt; a file name there (the default out.mp4, or clips.gif) stands for the directory of its
    stem and the container of its suffix."""
    from cascade.video_io import check_writable, refuse_special_file

    if out.is_symlink():  # write the file the link points to; the link stays a link
        out = out.resolve()
    refuse_special_file(out)  # before a --format suffix turns /dev/full into /dev/full.mp4
    suffix = out.suffix.lower()
    if fmt is not None and suffix in (".mp4", ".gif") and suffix != f".{fmt.value}":
        raise CascadeError(f"--format {fmt.value} disagrees with -o {out}; drop one of them")
    if len(prompts) == 1 and not as_dir:
        if out.is_dir():
            raise CascadeError(f"{out} is an existing directory; give a file name such as {out / 'out.mp4'}")
        if fmt is not None and out.suffix == "":
            out = out.with_suffix(f".{fmt.value}")
        if out.suffix.lower() not in (".mp4", ".gif"):
            raise CascadeError(f"unsupported output extension '{out.suffix or '(none)'}' for {out}; "
                               f"use .mp4 or .gif")
        check_writable(out)
        return [out]
    if suffix in (".mp4", ".gif") and not out.is_dir() and not as_dir:
        out, fmt = out.with_suffix(""), Format(suffix[1:])
    if out.exists() and not out.is_dir():
        raise CascadeError(f"{out} is a file, and {len(prompts)} prompt(s) here go into a directory; pass -o DIR/")
    ext = (fmt or Format.mp4).value
    paths, seen = [], {}
    for p in prompts:
        stem = slugify(p)
        seen[stem] = seen.get(stem, 0) + 1
        name = stem if seen[stem] == 1 else f"{stem}_{seen[stem]}"
        paths.append(out / f"{name}.{ext}")
    for p in paths:
        check_writable(p)
    return paths


@app.command()
def render(
    prompts: List[str] = typer.Argument(..., help="One or more prompts, e.g. \"a red circle moving left\"."),
    out: str = typer.Option("out.mp4", "-o", "--out", metavar="PATH", help="Output file (one prompt) or directory (several, or a name ending in /; -o clips.gif writes clips/<prompt>.gif)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Cascade weights directory.", show_default="$CASCADE_WEIGHTS, else the shipped weights/"),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed, device and prompt list give the same videos."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Sampling steps for every diffusion stage.", show_default="each stage's own"),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Classifier-free guidance scale.", show_default="each stage's own"),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N, mps or auto."),
    dtype: str = typer.Option("auto", "--dtype", help="float32, bfloat16, float16 or auto (float32)."),
    fmt: Optional[Format] = typer.Option(None, "--format", help="Container: mp4 (H.264) or gif."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Per-stage timings and debug logs."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bars or messages; errors still print."),
):
    """Render prompts to video with a cascade (text encoder -> base -> temporal SR -> spatial SR)."""
    _setup_logging(verbose, quiet)
    try:
        from cascade.pipeline import (CascadePipeline, check_prompts, check_sampling_args, check_seed, resolve_device,
                                      resolve_dtype)
        from cascade.vocabulary import PromptVocabularyWarning

        prompts = check_prompts(prompts)
        check_sampling_args(steps, guidance)
        check_seed(seed)
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        paths = plan_outputs(prompts, Path(out), fmt, as_dir=out.endswith(("/", os.sep)))  # before any compute
        t0 = time.perf_counter()
        pipe = CascadePipeline.from_pretrained(weights or default_weights(), device=dev, dtype=dt)
        t_load = time.perf_counter() - t0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PromptVocabularyWarning)
            video = pipe(prompts, seed=seed, steps=steps, guidance=guidance, progress=not quiet)
        for w in caught:  # one line each, before the files are written
            if issubclass(w.category, PromptVocabularyWarning) and not quiet:
                console.print(Text.assemble(("warning:", "bold yellow"), " ", str(w.message)), highlight=False,
                              soft_wrap=True)
            elif not issubclass(w.category, PromptVocabularyWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        for i, path in enumerate(paths):
            video.save(path, index=i)
    except CascadeError as e:
        _fail(str(e))
    total = time.perf_counter() - t0
    if verbose:
        table = Table(title="timings (s)")
        table.add_column("step")
        table.add_column("seconds", justify="right")
        table.add_row("load", f"{t_load:.2f}")
        for name, sec in pipe.last_timings.items():
            table.add_row(name, f"{sec:.2f}")
        table.add_row("total", f"{total:.2f}")
        console.print(table)
    if not quiet:
        for p in paths:
            console.print(f"wrote {p}  ({video.spec.frames} frames, {video.spec.width}x{video.spec.height}, "
                          f"{video.fps:g} fps)", highlight=False)


@app.command()
def info(
    weights: Optional[Path] = typer.Argument(None, help="Cascade weights directory.", show_default="$CASCADE_WEIGHTS, else the shipped weights/"),
):
    """Print the stage graph: each stage, its type, input and output spec, parameter count."""
    _setup_logging(False, True)
    try:
        from cascade.pipeline import CascadePipeline

        pipe = CascadePipeline.from_pretrained(weights or default_weights(), device="cpu")
    except CascadeError as e:
        _fail(str(e))
    table = Table(title=f"cascade graph ({weights or default_weights()})")
    for col in ("stage", "type", "inputs", "output", "params"):
        table.add_column(col, overflow="fold")
    counts = pipe.num_parameters()
    for row in pipe.graph.describe():
        table.add_row(row["stage"], row["type"], row["inputs"], row["output"], f"{counts[row['stage']]:,}")
    out_console.print(table)
    out_console.print(f"output: {pipe.graph.output}")


data_app = typer.Typer(no_args_is_help=True, help="Make training data.")
app.add_typer(data_app, name="data")


MAX_DATA_CLIPS = 1_000_000  # clips one `cascade data` call writes
MAX_DATA_FRAMES = 1024
MAX_DATA_SIZE = 1024
BYTES_PER_PIXEL_MP4 = 0.15  # H.264 at crf 18 on these worlds, measured with room to spare: a disk-space estimate


def _write_data(world: str, out: Path, clips: int, frames: int, size: int, fps: float, seed: int, quiet: bool):
    """The checks every generated world shares (seed, limits, free space, an empty --out), then its writer."""
    import shutil

    from cascade.io_utils import check_writable_path
    from cascade.pipeline import check_seed

    check_seed(seed)
    for what, value, limit in (("--clips", clips, MAX_DATA_CLIPS), ("--frames", frames, MAX_DATA_FRAMES),
                               ("--size", size, MAX_DATA_SIZE)):
        if value > limit:
            raise CascadeError(f"{what} {value} is more than the {limit:,} one call writes; ask for less")
    check_writable_path(out)
    if out.exists() and any(out.iterdir()):
        raise CascadeError(f"{out} exists and is not empty; pass a new --out directory")
    need = clips * frames * size * size * BYTES_PER_PIXEL_MP4
    parent = next(p for p in [out, *out.parents] if p.exists())
    free = shutil.disk_usage(parent).free
    if need > free:
        raise CascadeError(f"{clips} clips of {frames} frames at {size}x{size} need about {need / 2**30:.1f} GB and "
                           f"{parent} has {free / 2**30:.1f} GB free; ask for fewer or smaller clips")
    if world == "shapes":
        from cascade.data import write_shapes_dataset as write
    else:
        from cascade.data.photos_writer import write_photos_dataset as write
    return write(out, clips, frames=frames, size=size, fps=fps, seed=seed, progress=not quiet)


@data_app.command("shapes")
def data_shapes(
    out: Path = typer.Option(..., "--out", help="Directory to write clips/, captions.jsonl, held_out.json."),
    clips: int = typer.Option(1000, "--clips", min=1, help="Number of clips."),
    frames: int = typer.Option(16, "--frames", min=1, help="Frames per clip."),
    size: int = typer.Option(64, "--size", min=8, help="Frame height and width."),
    fps: float = typer.Option(8.0, "--fps", min=0.1, help="Frames per second."),
    seed: int = typer.Option(0, "--seed", help="Random seed (output is a pure function of it)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
):
    """Write the procedural shapes data set (coloured shapes moving on a dark background) as mp4 + captions."""
    _setup_logging(False, quiet)
    try:
        summary = _write_data("shapes", out, clips, frames, size, fps, seed, quiet)
    except CascadeError as e:
        _fail(str(e))
    if not quiet:
        console.print(f"wrote {clips} clips to {out}", highlight=False)
    return summary


@data_app.command("photos")
def data_photos(
    out: Path = typer.Option(..., "--out", help="Directory to write clips/, captions.jsonl, held_out.json, meta.json."),
    clips: int = typer.Option(1000, "--clips", min=1, help="Number of clips."),
    frames: int = typer.Option(16, "--frames", min=1, help="Frames per clip."),
    size: int = typer.Option(64, "--size", min=8, help="Frame height and width."),
    fps: float = typer.Option(8.0, "--fps", min=0.1, help="Frames per second."),
    seed: int = typer.Option(0, "--seed", help="Random seed (output is a pure function of it)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
):
    """Write the photos data set (a camera panning and zooming over real photographs) as mp4 + captions."""
    _setup_logging(False, quiet)
    try:
        summary = _write_data("photos", out, clips, frames, size, fps, seed, quiet)
    except CascadeError as e:
        _fail(str(e))
    if not quiet:
        console.print(f"wrote {clips} clips to {out}", highlight=False)
    return summary


@app.command()
def train(
    stage: str = typer.Argument(..., help="Stage type to train, e.g. base_video, temporal_sr, spatial_sr (any registered type that offers training)."),
    config: Path = typer.Option(..., "--config", help="Training config: a YAML or JSON file (configs/ holds one per stage)."),
    out: Path = typer.Option(..., "--out", help="Run directory: checkpoints, metrics.jsonl, samples, export."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the run directory's last checkpoint."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop at this global step."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config field, e.g. --set optim.lr=1e-3."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto (under accelerate launch: ignored)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the config's seed."),
    dtype: str = typer.Option("auto", "--dtype", help="Mixed precision: auto (bf16 on GPU), float32, bfloat16, float16."),
    latent_cache: Optional[Path] = typer.Option(None, "--latent-cache", help="Folder for a latent stage's encoded training clips (reused by runs on the same data and autoencoder).", show_default="RUN/latent_cache"),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Debug logs."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
):
    """Train one stage on its own (CPU, one GPU, or many through `accelerate launch -m cascade.cli train ...`)."""
    other_rank = os.environ.get("RANK", "0") not in ("", "0")  # under accelerate launch: one process speaks
    quiet = quiet or other_rank
    _setup_logging(verbose and not other_rank, quiet)
    logging.getLogger("cascade").setLevel(logging.ERROR if other_rank else logging.DEBUG if verbose else logging.INFO)
    try:
        from cascade.io_utils import check_writable_path
        from cascade.registry import get_stage_class, trainable_stages
        from cascade.training import Trainer, apply_overrides, load_config
        from cascade.training.build import build_task

        if not callable(getattr(get_stage_class(stage), "train_task", None)):  # an unknown name lists the types
            raise CascadeError(f"stage type '{stage}' has nothing to train (it is frozen or training-free); "
                               f"trainable types: {', '.join(trainable_stages())}")
        from cascade.training.config import MAX_TRAIN_STEPS

        if max_steps is not None and max_steps > MAX_TRAIN_STEPS:
            raise CascadeError(f"--max-steps {max_steps} is more than the {MAX_TRAIN_STEPS:,} a run may take")
        check_writable_path(out)
        cfg = load_config(config)
        sets = list(overrides)
        if seed is not None:
            sets.append(f"seed={seed}")
        precision = {"auto": None, "float32": "no", "fp32": "no", "bfloat16": "bf16", "bf16": "bf16",
                     "float16": "fp16", "fp16": "fp16"}
        if dtype not in precision:
            raise CascadeError(f"unknown dtype '{dtype}'; use auto, float32, bfloat16 or float16")
        if precision[dtype]:
            sets.append(f"mixed_precision={precision[dtype]}")
            if precision[dtype] != "no" and (device == "cpu" or not _cuda_available()):
                logging.getLogger("cascade").warning(
                    "%s on a CPU is several times slower than float32 (CPUs lack fast half-precision kernels); use "
                    "--dtype float32 there", dtype)
        cfg = apply_overrides(cfg, sets) if sets else cfg
        if cfg.stage != stage:
            raise CascadeError(f"{config} trains stage '{cfg.stage}', not '{stage}'; pass the matching config")
        if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
            raise CascadeError(f"unknown device '{device}'; use cpu, cuda or auto")
        if device.startswith("cuda"):
            from cascade.pipeline import resolve_device

            resolve_device(device)
        _, task = build_task(cfg, source=f"{config}{' with --set' if overrides else ''}",
                             preview_metrics=_preview_metrics(cfg), latent_cache=latent_cache or out / "latent_cache")
        created = not out.exists()
        kwargs = {"cpu": True} if device == "cpu" else {}
        trainer, finished = Trainer(task, cfg, out, accelerator_kwargs=kwargs, progress=not quiet), False
        try:
            summary = trainer.fit(resume=resume, max_steps=max_steps)
            finished = True
        except KeyboardInterrupt:
            from cascade.training import load_latest

            ckpt = load_latest(out)
            where = (f"the newest checkpoint is {ckpt.path.name}; add --resume to the same command to continue"
                     if ckpt else "no checkpoint was written yet")
            if not other_rank:
                console.print(f"interrupted: {where}", highlight=False)
            raise typer.Exit(130) from None
        finally:
            trainer.end(synchronize=finished)
            if not finished and created and not other_rank:
                _remove_if_empty(out)  # a run that failed before writing anything leaves no folder behind
    except CascadeError as e:
        _fail(str(e))
    if not quiet:
        loss = "n/a" if summary["final_loss"] is None else f"{summary['final_loss']:.4g}"
        export = Path(summary["run_dir"]) / "export"
        where = (f"stage folder {export}" if (export / "config.json").is_file()
                 else f"no stage folder yet: cascade export {summary['run_dir']} --stage-dir DIR")
        console.print(f"trained {stage}: step {summary['steps']}, last loss {loss}, {summary['nan_skipped']} "
                      f"non-finite steps skipped, {summary['wall_s']:.0f} s; {where}", highlight=False)


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="A training run directory."),
    stage_dir: Path = typer.Option(..., "--stage-dir", help="Where to write the stage folder (config.json + model.safetensors)."),
):
    """Write a run's latest EMA weights as a stage folder the pipeline loads."""
    _setup_logging(False, True)
    try:
        from cascade.io_utils import check_writable_path
        from cascade.training import export_run, load_config
        from cascade.training.build import build_task

        check_writable_path(stage_dir)
        cfg_path = run_dir / "config.json"
        if not cfg_path.is_file():
            raise CascadeError(f"{cfg_path} is missing; is {run_dir} a training run directory?")
        _, task = build_task(load_config(cfg_path), source=str(cfg_path))
        export_run(run_dir, stage_dir, task)
    except CascadeError as e:
        _fail(str(e))
    console.print(f"wrote {stage_dir}", highlight=False)


@app.command()
def assemble(
    stages: List[str] = typer.Option(..., "--stage", help="NODE=SOURCE in cascade order; SOURCE is a stage folder or a training-free preset, preset:NAME of the node's type (spatial_sr_128=preset:bicubic) or preset:TYPE/NAME."),
    out: Path = typer.Option(..., "--out", help="Weights directory to write (replaced atomically)."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="JSON file with extra manifest fields (data, held_out, training)."),
):
    """Join separately trained stage folders into one cascade (cascade.json with graph and sha256 of each file)."""
    _setup_logging(False, True)
    try:
        import json

        from cascade.assemble import assemble as assemble_dirs
        from cascade.io_utils import check_writable_path

        check_writable_path(out)
        pairs = {}
        for item in stages:
            name, sep, d = item.partition("=")
            if not sep or not name or not d:
                raise CascadeError(f"--stage takes NAME=DIR, got '{item}'")
            pairs[name] = d
        extra = json.loads(manifest.read_text()) if manifest else {}
        assemble_dirs(out, pairs, manifest=extra)
    except CascadeError as e:
        _fail(str(e))
    console.print(f"wrote {out}", highlight=False)


@app.command("eval")
def eval_(
    weights: Optional[Path] = typer.Argument(None, help="Cascade weights directory.", show_default="$CASCADE_WEIGHTS, else the shipped weights/"),
    out: Path = typer.Option(..., "--out", help="Report directory: report.json, index.html, videos, contact sheets."),
    suite: str = typer.Option("shapes", "--suite", help="Eval suite: its prompts, probe and real clips (shapes)."),
    prompts: Optional[Path] = typer.Option(None, "--prompts", help="A file with one prompt per line instead of a suite (blank lines, # comments and repeats are skipped)."),
    seeds: int = typer.Option(2, "--seeds", min=1, help="Seeds per prompt."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Sampling steps override."),
    guidance: Optional[float] = typer.Option(None, "--guidance", min=0, help="Guidance override."),
    max_prompts: Optional[int] = typer.Option(None, "--max-prompts", min=1, help="Evaluate only the first N prompts."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
):
    """Measure prompt fidelity, temporal consistency, Fréchet shapes-video distance and per-stage metrics."""
    _setup_logging(False, quiet)
    try:
        from cascade.eval.run import evaluate
        from cascade.pipeline import check_sampling_args, resolve_device

        check_sampling_args(steps, guidance)
        dev = resolve_device(device)
        report = evaluate(weights or default_weights(), suite=suite, prompts_file=prompts, seeds=seeds, out_dir=out,
                          device=str(dev), steps=steps, guidance=guidance, progress=not quiet,
                          max_prompts=max_prompts)
    except CascadeError as e:
        _fail(str(e))
    fid = report.get("fidelity", {}).get("overall", {})
    if fid:
        clips = report.get("cases") or fid["n"]
        scored = f" (scored {fid['n']} of {clips} clips: the others are not prompts the probe reads)" \
            if fid["n"] < clips else ""
        out_console.print("fidelity: " + ", ".join(f"{k} {v:.1%}" for k, v in fid.items() if isinstance(v, float))
                          + scored)
    elif report.get("cases"):
        out_console.print("fidelity: none of the prompts is one the probe reads (colour, shape, motion)")
    out_console.print(f"report: {out / 'index.html'}")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _remove_if_empty(folder: Path) -> None:
    """Remove a folder this command made if it holds nothing a user would keep (lock files, empty folders)."""
    import shutil

    from cascade.training.lock import LOCK_FILE, OWNER_FILE

    if folder.is_dir() and all(p.name in (LOCK_FILE, OWNER_FILE) or p.is_dir() for p in folder.rglob("*")):
        shutil.rmtree(folder, ignore_errors=True)


def _preview_metrics(cfg):
    """The preview metrics of the eval suite that reads the training data's world (None when no suite does)."""
    from cascade.eval.suites import suite_for_data

    suite = suite_for_data(str(cfg.data.get("kind", "shapes")))
    return suite.preview_metrics if suite is not None else None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
