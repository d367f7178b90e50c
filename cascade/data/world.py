"""What the generated worlds share without torch: the balanced draw of clip i's combination, and writing a data set
to disk (clips/*.mp4, captions.jsonl, held_out.json, meta.json, atomically)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from cascade.errors import CascadeError
from cascade.io_utils import atomic_dir

log = logging.getLogger(__name__)
PARALLEL_FROM = 64  # clips; fewer are written in this process


def indexed_combo(seed: int, index: int, combos: list[tuple]) -> tuple[tuple, np.random.Generator]:
    """Clip `index`'s combination and its own random stream, a pure function of (seed, index).

    Combos are balanced: each block of len(combos) consecutive indices holds every combo once, in an order drawn
    from (seed, block)."""
    block, pos = divmod(index, len(combos))
    order = np.random.default_rng([seed, block, 1]).permutation(len(combos))
    return combos[order[pos]], np.random.default_rng([seed, index, 0])


def write_world_dataset(world: str, write_clip: Callable[[tuple], dict], out_dir: str | Path, num_clips: int, *,
                        frames: int, size: int, fps: float, seed: int, progress: bool, workers: int | None,
                        held_out: dict, meta: dict) -> dict:
    """Write `num_clips` clips of `world` with `write_clip((root, index, frames, size, fps, seed)) -> caption record`
    (a module-level function, so worker processes can run it); `held_out` goes to held_out.json, `meta` after the
    common fields to meta.json. The folder appears only when complete. `workers` encode in parallel (default: up to
    2 processes from PARALLEL_FROM clips)."""
    if num_clips < 1:
        raise CascadeError(f"num_clips must be at least 1, got {num_clips}")
    if seed < 0:
        raise CascadeError(f"the {world} data seed must be >= 0, got {seed}")
    if size % 2:  # H.264 yuv420p would pad it by a row and a column, and meta.json would not say the truth
        raise CascadeError(f"the clip size must be even for H.264 mp4s, got {size}; use {size + 1} or {size - 1}")
    out_dir = Path(out_dir)
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if num_clips >= PARALLEL_FROM else 1
    start = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        (tmp / "clips").mkdir()
        jobs = [(str(tmp), i, frames, size, fps, seed) for i in range(num_clips)]
        bar = dict(total=num_clips, desc=f"{world} clips", unit="clip", disable=not progress)
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                records = list(tqdm(pool.map(write_clip, jobs, chunksize=16), **bar))
        else:
            records = [write_clip(j) for j in tqdm(jobs, **bar)]
        (tmp / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        (tmp / "held_out.json").write_text(json.dumps(held_out, indent=1))
        meta = {"dataset": f"cascade {world}", "num_clips": num_clips, "frames": frames, "size": size, "fps": fps,
                "seed": seed, **meta}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    seconds = time.perf_counter() - start
    log.info("wrote %d %s clips (%d frames, %dx%d, %g fps) to %s in %.1f s", num_clips, world, frames, size, size,
             fps, out_dir, seconds)
    return {"out_dir": str(out_dir), "clips": num_clips, "frames": frames, "size": size, "fps": fps, "seed": seed,
            "held_out": len(held_out["combinations"]), "seconds": round(seconds, 2)}
