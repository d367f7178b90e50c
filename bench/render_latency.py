"""Render latency of one prompt: per-stage and total seconds of CascadePipeline (pipe.last_timings), the
pipeline load time, and the wall time of `cascade render PROMPT -o tmp.mp4` as a fresh process (import,
load, render, mp4 encode). Medians over --repeats.

    python bench/render_latency.py [--quick] [--device cpu|cuda] [--weights weights] [--repeats 3]

Without --weights and without a weights/ directory, a cascade of the stage presets (--make default|tiny) with
random-init weights is assembled in a temporary directory: the architecture and sampling steps decide the
time, not the weight values. --quick uses the tiny presets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench import common  # noqa: E402

LEARNED = ("base_video", "temporal_sr", "spatial_sr")


def make_weights(out: Path, preset: str) -> Path:
    """text_encoder -> base_video -> temporal_sr -> spatial_sr from `preset`, learned stages random-init."""
    from cascade.assemble import assemble
    from cascade.registry import get_stage_class
    from cascade.stage import make_stage_config

    dirs = {}
    for name in LEARNED:
        cls = get_stage_class(name)
        torch.manual_seed(0)
        cls(make_stage_config(cls, preset, source=name)).save_pretrained(out / "stages" / name)
        dirs[name] = out / "stages" / name
    return assemble(out / "weights", {"text_encoder": f"preset:{preset}", **dirs},
                    manifest={"note": f"bench/render_latency.py: random-init {preset} presets"})


def cli_command() -> list[str]:
    exe = Path(sys.executable).with_name("cascade")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "cascade.cli"]


def main() -> None:
    p = common.parser("render_latency", __doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, default=None, help="cascade weights directory [default: weights/]")
    p.add_argument("--make", choices=("default", "tiny"), default=None,
                   help="assemble random-init presets when there are no weights [default: tiny with --quick]")
    p.add_argument("--prompt", default="a red circle moving left")
    p.add_argument("--repeats", type=int, default=3, help="timed renders (median reported), after 1 warm-up")
    p.add_argument("--dtype", default="float32", help="pipeline dtype: float32, bfloat16, float16")
    p.add_argument("--steps", type=int, default=None, help="sampling steps override [default: each stage's own]")
    p.add_argument("--no-cli", action="store_true", help="skip the `cascade render` subprocess timing")
    args = p.parse_args()
    if args.quick:
        args.repeats = 1
    args = common.finish_args(args)

    from cascade.pipeline import CascadePipeline

    info = common.machine(args.device)
    tmp = Path(tempfile.mkdtemp(prefix="bench_render_"))
    try:
        weights, source = args.weights, "given"
        if weights is None and args.make is None and not args.quick and (common.ROOT / "weights").is_dir():
            weights, source = common.ROOT / "weights", "shipped"
        if weights is None:
            preset = args.make or ("tiny" if args.quick else "default")
            weights, source = make_weights(tmp, preset), f"random-init {preset} presets"

        loads, runs = [], []
        for i in range(args.repeats + 1):  # the first load + render warms caches and is not counted
            t0 = time.perf_counter()
            pipe = CascadePipeline.from_pretrained(weights, device=args.device, dtype=args.dtype)
            common.sync(args.device)
            load = time.perf_counter() - t0
            t0 = time.perf_counter()
            video = pipe(args.prompt, seed=0, steps=args.steps, progress=False)
            common.sync(args.device)
            total = time.perf_counter() - t0
            if i:
                loads.append(load)
                runs.append({**pipe.last_timings, "__total__": total})
        stages = list(pipe.graph.order)
        steps = {n: getattr(getattr(st.config, "sampling", None), "steps", None) for n, st in pipe.stages.items()}
        modes = {n: "learned" if st.network is not None and st.config.has_weights else "-"
                 for n, st in pipe.stages.items()}
        rows = [{"step": n, "what": f"{pipe.stages[n].config.type}"
                 + (f", {args.steps or steps[n]} sampling steps" if steps[n] and modes[n] == "learned" else ""),
                 "params": pipe.stages[n].num_parameters(), "seconds": common.median(r[n] for r in runs)}
                for n in stages]
        rows.append({"step": "pipeline total", "what": f"sum of stages + glue, output {video.spec.describe()}",
                     "seconds": common.median(r["__total__"] for r in runs)})
        rows.append({"step": "load", "what": "CascadePipeline.from_pretrained (sha256 check + weights)",
                     "seconds": common.median(loads)})

        cli = []
        if not args.no_cli:
            env = dict(os.environ, TQDM_DISABLE="1")
            cmd = cli_command() + ["render", args.prompt, "-o", str(tmp / "out.mp4"), "--weights", str(weights),
                                   "--device", args.device, "--dtype", args.dtype, "--seed", "0", "-q"]
            if args.steps:
                cmd += ["--steps", str(args.steps)]
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
                cli.append(time.perf_counter() - t0)
                if r.returncode != 0:
                    raise SystemExit(f"`{' '.join(cmd)}` failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
            rows.append({"step": "`cascade render` wall", "what": "fresh process: import + load + render + mp4",
                         "seconds": common.median(cli)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    body = (f"Prompt {args.prompt!r}, seed 0, {args.device} {args.dtype}, weights: {source}"
            f"{'' if source.startswith('random') else f' ({weights})'}; median of {args.repeats} after 1 warm-up.\n\n"
            + common.table(rows, [("step", "step"), ("what", "what"), ("params", "params"), ("seconds", "seconds")]))
    common.report(args, info, f"render latency ({args.device})", body,
                  {"rows": rows, "weights": str(weights), "weights_source": source, "runs": runs, "loads": loads,
                   "cli_wall_s": cli})


if __name__ == "__main__":
    main()
