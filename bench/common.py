"""Shared benchmark plumbing: CLI flags, machine description, timing, peak memory, FLOP counting, tables, JSON.

Benchmarks are scripts, not library code: they print a markdown table and write a JSON result.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as _dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:  # `python bench/NAME.py` from anywhere: cascade, stages and bench importable
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MiB = 2**20
H100_BF16_DENSE_TFLOPS = 989.0  # NVIDIA H100 SXM datasheet, dense bf16 tensor-core peak


# -- command line ------------------------------------------------------------------------------
def parser(name: str, description: str) -> argparse.ArgumentParser:
    """argparse with the flags every benchmark takes: --quick, --device, --out."""
    p = argparse.ArgumentParser(prog=f"bench/{name}.py", description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: proves the script runs, in seconds, on a CPU")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda when available)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"JSON result [default: bench/results/{name}.json; with --quick {name}.quick.json]")
    p.set_defaults(bench_name=name)
    return p


def finish_args(args: argparse.Namespace) -> argparse.Namespace:
    """Resolve --device and the default --out (quick runs never overwrite a full result)."""
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device} was asked for but CUDA is not available here; use --device cpu")
    if args.out is None:
        args.out = RESULTS / f"{args.bench_name}{'.quick' if args.quick else ''}.json"
    return args


# -- the machine ---------------------------------------------------------------------------------
def machine(device: str | torch.device = "cpu") -> dict[str, Any]:
    """Where and when the numbers were taken: platform, CPUs, load, torch, GPU, git commit, date."""
    dev = torch.device(device)
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(dev),
        "gpu": None,
        "git": _git_commit(),
    }
    try:
        import diffusers

        info["diffusers"] = diffusers.__version__
    except ImportError:
        pass
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info["gpu"] = props.name
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["cuda"] = torch.version.cuda
    return info


def describe(info: dict[str, Any]) -> str:
    """One markdown line naming the machine and the date."""
    gpu = f"GPU {info['gpu']} ({info.get('gpu_memory_gib')} GiB, CUDA {info.get('cuda')})" if info["gpu"] else "no GPU"
    return (f"_{info['date']} on {info['host']}: {info['platform']}, {info['processor']}, "
            f"{info['cpus_usable']}/{info['cpu_count']} CPUs usable, {info['torch_threads']} torch threads, "
            f"load {info['load_avg_1m']}, {gpu}; python {info['python']}, torch {info['torch']}, "
            f"diffusers {info.get('diffusers', '-')}, git {info['git']}_")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{head}{'+dirty' if dirty else ''}" if head else None
    except (OSError, subprocess.SubprocessError):
        return None


# -- timing ----------------------------------------------------------------------------------------
def sync(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], Any], *, device: str | torch.device, warmup: int = 1, repeats: int = 5) -> list[float]:
    """Seconds per call of `fn` after `warmup` untimed calls; CUDA is synchronised around each call."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times


def median(xs: Iterable[float]) -> float:
    xs = list(xs)
    return statistics.median(xs) if xs else float("nan")


def autocast(device: str | torch.device):
    """bf16 autocast on CUDA (as training runs there); fp32 on the CPU."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# -- memory ----------------------------------------------------------------------------------------
class PeakMemory:
    """Peak memory of a region, above what was in use when it began.

    CUDA: torch.cuda.max_memory_allocated after reset_peak_memory_stats (allocator bytes, not the cache).
    CPU: the process's peak resident set (VmHWM, reset through /proc/self/clear_refs so each region has its
    own peak) minus the resident set at the start, after gc and malloc_trim. Where the peak cannot be reset,
    ru_maxrss is used and the number is an upper bound (`exact` is False).
    """

    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        self.peak_bytes = 0
        self.exact = True

    def __enter__(self) -> "PeakMemory":
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            _malloc_trim()
            self.exact = _reset_rss_peak()
            self.start = _rss_bytes()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            peak = _rss_peak_bytes() if self.exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak_bytes = max(0, peak - self.start)

    @property
    def mib(self) -> float:
        return self.peak_bytes / MiB


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss_peak_bytes() -> int:
    kib = _status_kib("VmHWM")
    return kib * 1024 if kib is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_rss_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmHWM") is not None
    except OSError:
        return False


def _malloc_trim() -> None:
    """Hand freed heap back to the OS so the next region's baseline is honest (glibc only)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# -- FLOPs -----------------------------------------------------------------------------------------
def _cpu_sdpa_formulas() -> dict:
    """FlopCounterMode has no formula for the CPU flash-attention kernels (it would count attention as 0)."""
    from torch.utils import flop_counter as fc

    aten = torch.ops.aten
    out = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        def fwd(query, key, value, *args, out_shape=None, **kwargs) -> int:
            return fc.sdpa_flop_count(query, key, value)

        def bwd(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
            return fc.sdpa_backward_flop_count(grad_out, query, key, value)

        out[aten._scaled_dot_product_flash_attention_for_cpu] = fwd
        out[aten._scaled_dot_product_flash_attention_for_cpu_backward] = bwd
    return out


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs (multiply-add = 2) of the matmuls, convolutions and attention run inside fn (backward included)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=_cpu_sdpa_formulas()) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak_tflops(device: str | torch.device, *, n: int = 2048, repeats: int = 5) -> float:
    """Measured dense matmul rate (TFLOP/s): fp32 on the CPU, bf16 on CUDA; best of `repeats`."""
    dev = torch.device(device)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    best = min(time_calls(lambda: a @ b, device=dev, warmup=1, repeats=repeats))
    return 2 * n**3 / best / 1e12


def peak_tflops(args_value: float | None, device: str | torch.device, *, quick: bool) -> tuple[float, str]:
    """The FLOP/s denominator of MFU and where it came from."""
    if args_value is not None:
        return args_value, "--peak-tflops"
    if torch.device(device).type == "cuda":
        return H100_BF16_DENSE_TFLOPS, "H100 bf16 dense datasheet"
    n = 1024 if quick else 2048
    return matmul_peak_tflops(device, n=n), f"measured fp32 {n}x{n} matmul, {torch.get_num_threads()} threads"


# -- models ----------------------------------------------------------------------------------------
def num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- output ----------------------------------------------------------------------------------------
def table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """Markdown table of `rows`; columns are (key, header). Floats get 3 significant digits."""
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            if v != v:
                return "nan"
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(h for _, h in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join(lines)


def report(args: argparse.Namespace, info: dict, title: str, body: str, payload: dict) -> None:
    """Print the markdown report and write the JSON result (machine, arguments, rows, extras)."""
    print(f"## {title}\n\n{describe(info)}\n\n{body}\n")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run_args = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    data = {"benchmark": args.bench_name, "machine": info, "args": run_args, **payload}
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(out)
    print(f"wrote {out}")
