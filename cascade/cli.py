"""The `cascade` command line: render, info, data, train, export, eval. Only this module talks to the terminal."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from cascade.errors import CascadeError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Cascaded text-to-video diffusion: render with shipped weights, train each stage, evaluate.")
console = Console(stderr=True)
out_console = Console()

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


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
    console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def slugify(prompt: str, limit: int = 60) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")
    return (s[:limit].rstrip("_") or "prompt")


def plan_outputs(prompts: list[str], out: Path, fmt: Optional[Format]) -> list[Path]:
    """One prompt: `out` is a file. Several: `out` is a directory with one file per prompt."""
    from cascade.video_io import check_writable

    if len(prompts) == 1:
        if fmt is not None and out.suffix == "":
            out = out.with_suffix(f".{fmt.value}")
        if out.suffix.lower() not in (".mp4", ".gif"):
            raise CascadeError(f"unsupported output extension '{out.suffix or '(none)'}' for {out}; "
                               f"use .mp4 or .gif")
        check_writable(out)
        return [out]
    if out.exists() and not out.is_dir():
        raise CascadeError(f"{out} is a file but {len(prompts)} prompts need a directory; pass -o DIR")
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
    out: Path = typer.Option(Path("out.mp4"), "-o", "--out", help="Output file (one prompt) or directory (several)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Cascade weights directory [default: shipped weights/]."),
    seed: int = typer.Option(0, "--seed", help="Random seed; same seed and device give the same video."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Sampling steps for every diffusion stage [default: each stage's own]."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Classifier-free guidance scale [default: each stage's own]."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N, mps or auto."),
    dtype: str = typer.Option("auto", "--dtype", help="float32, bfloat16, float16 or auto (float32)."),
    fmt: Optional[Format] = typer.Option(None, "--format", help="Container: mp4 (H.264) or gif."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Per-stage timings and debug logs."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bars."),
):
    """Render prompts to video with a cascade (text encoder -> base -> temporal SR -> spatial SR)."""
    _setup_logging(verbose, quiet)
    try:
        from cascade.pipeline import CascadePipeline, check_prompts, check_sampling_args, resolve_device, resolve_dtype

        prompts = check_prompts(prompts)
        check_sampling_args(steps, guidance)
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        paths = plan_outputs(prompts, out, fmt)  # checked before any compute
        t0 = time.perf_counter()
        pipe = CascadePipeline.from_pretrained(weights or default_weights(), device=dev, dtype=dt)
        t_load = time.perf_counter() - t0
        video = pipe(prompts, seed=seed, steps=steps, guidance=guidance, progress=not quiet)
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
    weights: Optional[Path] = typer.Argument(None, help="Cascade weights directory [default: shipped weights/]."),
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
