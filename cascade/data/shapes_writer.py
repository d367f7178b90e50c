"""Write the shapes data set to disk: clips/*.mp4, captions.jsonl, held_out.json, meta.json (atomically)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from cascade.data.shapes import (COLOURS, HELD_OUT, HELD_OUT_SHAPE_WORDS, HELD_OUT_TEMPLATES, MOTIONS, SHAPE_WORDS,
                                 SHAPES, TRAIN_COMBOS, TRAIN_TEMPLATES, caption, indexed_params, indexed_shape_word,
                                 render_params)
from cascade.errors import CascadeError
from cascade.io_utils import atomic_dir

log = logging.getLogger(__name__)


def _write_clip(job: tuple[str, int, int, int, float, int]) -> dict:
    """Render and encode clip `index` (same scene and caption as ShapesDataset(seed=seed)[index])."""
    from cascade.video_io import write_video

    root, index, frames, size, fps, seed = job
    p, t = indexed_params(seed, index, frames=frames, fps=fps)
    rel = f"clips/{index:06d}.mp4"
    write_video(Path(root) / rel, render_params(p, frames, size, fps), fps=fps)
    word = indexed_shape_word(seed, index, p.shape)
    return {"file": rel, "caption": caption(p.colour, p.shape, p.motion, TRAIN_TEMPLATES[t], word),
            "captions": [caption(p.colour, p.shape, p.motion, tt, word) for tt in TRAIN_TEMPLATES],
            "colour": p.colour, "shape": p.shape, "motion": p.motion}


def held_out_manifest() -> dict:
    """The combos and wordings never trained on, with one ready prompt per held-out combo."""
    return {"combinations": [{"colour": c, "shape": s, "motion": m} for c, s, m in HELD_OUT],
            "templates": list(HELD_OUT_TEMPLATES),
            "shape_words": {s: list(HELD_OUT_SHAPE_WORDS[s]) for s in SHAPES},
            "prompts": [caption(c, s, m, TRAIN_TEMPLATES[0]) for c, s, m in HELD_OUT]}


def write_shapes_dataset(out_dir: str | Path, num_clips: int, *, frames: int = 16, size: int = 64, fps: float = 8.0,
                         seed: int = 0, progress: bool = True, workers: int | None = None) -> dict:
    """Write `num_clips` training clips (held-out combos excluded) to out_dir; returns a summary dict.

    The folder appears only when complete (built beside it, then renamed). `workers` encode in parallel
    (default: up to 2 processes when there are at least 64 clips).
    """
    if num_clips < 1:
        raise CascadeError(f"num_clips must be at least 1, got {num_clips}")
    if seed < 0:
        raise CascadeError(f"the shapes data seed must be >= 0, got {seed}")
    if size % 2:  # H.264 yuv420p would pad it by a row and a column, and meta.json would not say the truth
        raise CascadeError(f"the clip size must be even for H.264 mp4s, got {size}; use {size + 1} or {size - 1}")
    out_dir = Path(out_dir)
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if num_clips >= 64 else 1
    start = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        (tmp / "clips").mkdir()
        jobs = [(str(tmp), i, frames, size, fps, seed) for i in range(num_clips)]
        bar = dict(total=num_clips, desc="shapes clips", unit="clip", disable=not progress)
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                records = list(tqdm(pool.map(_write_clip, jobs, chunksize=16), **bar))
        else:
            records = [_write_clip(j) for j in tqdm(jobs, **bar)]
        (tmp / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        (tmp / "held_out.json").write_text(json.dumps(held_out_manifest(), indent=1))
        meta = {"dataset": "cascade shapes", "num_clips": num_clips, "frames": frames, "size": size, "fps": fps,
                "seed": seed, "colours": COLOURS, "shapes": list(SHAPES), "motions": list(MOTIONS),
                "train_combinations": len(TRAIN_COMBOS), "held_out_combinations": len(HELD_OUT),
                "shape_words": {s: list(w) for s, w in SHAPE_WORDS.items()}}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    seconds = time.perf_counter() - start
    log.info("wrote %d shapes clips (%d frames, %dx%d, %g fps) to %s in %.1f s", num_clips, frames, size, size,
             fps, out_dir, seconds)
    return {"out_dir": str(out_dir), "clips": num_clips, "frames": frames, "size": size, "fps": fps, "seed": seed,
            "held_out": len(HELD_OUT), "seconds": round(seconds, 2)}
