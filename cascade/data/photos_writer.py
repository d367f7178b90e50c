"""Write the photos data set to disk: clips/*.mp4, captions.jsonl, held_out.json, meta.json (atomically)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tqdm.auto import tqdm

from cascade.data.photos import (HELD_OUT, HELD_OUT_SUBJECT_WORDS, HELD_OUT_TEMPLATES, MOTIONS, SUBJECT_WORDS,
                                 SUBJECTS, TRAIN_COMBOS, TRAIN_TEMPLATES, caption, indexed_params,
                                 indexed_subject_word, render_params)
from cascade.errors import CascadeError
from cascade.io_utils import atomic_dir

log = logging.getLogger(__name__)
PARALLEL_FROM = 64  # clips; fewer are written in this process


def _write_clip(job: tuple[str, int, int, int, float, int]) -> dict:
    """Render and encode clip `index` (same scene and caption as PhotosDataset(seed=seed)[index])."""
    from cascade.video_io import write_video

    root, index, frames, size, fps, seed = job
    p, t = indexed_params(seed, index, frames=frames, fps=fps)
    rel = f"clips/{index:06d}.mp4"
    write_video(Path(root) / rel, render_params(p, frames, size, fps), fps=fps)
    word = indexed_subject_word(seed, index, p.subject)
    return {"file": rel, "caption": caption(p.subject, p.motion, TRAIN_TEMPLATES[t], word),
            "captions": [caption(p.subject, p.motion, tt, word) for tt in TRAIN_TEMPLATES],
            "subject": p.subject, "motion": p.motion}


def held_out_manifest() -> dict:
    """The combos and wordings never trained on, with one ready prompt per held-out combo."""
    return {"combinations": [{"subject": s, "motion": m} for s, m in HELD_OUT],
            "templates": list(HELD_OUT_TEMPLATES),
            "subject_words": {s: list(w) for s, w in HELD_OUT_SUBJECT_WORDS.items()},
            "prompts": [caption(s, m, TRAIN_TEMPLATES[0]) for s, m in HELD_OUT]}


def sources() -> dict:
    """Where each photograph comes from and under which licence, with the installed package versions."""
    versions = {}
    for package in sorted({s.package for s in SUBJECTS.values()}):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {"packages": versions,
            "photos": {k: {"package": s.package, "source": s.source, "file": s.file, "licence": s.licence,
                           "usable_box": list(s.roi)} for k, s in SUBJECTS.items()}}


def write_photos_dataset(out_dir: str | Path, num_clips: int, *, frames: int = 16, size: int = 64, fps: float = 8.0,
                         seed: int = 0, progress: bool = True, workers: int | None = None) -> dict:
    """Write `num_clips` training clips (held-out combos excluded) to out_dir; returns a summary dict.

    The folder appears only when complete (built beside it, then renamed). `workers` encode in parallel
    (default: up to 2 processes when there are at least PARALLEL_FROM clips).
    """
    if num_clips < 1:
        raise CascadeError(f"num_clips must be at least 1, got {num_clips}")
    if seed < 0:
        raise CascadeError(f"the photos data seed must be >= 0, got {seed}")
    if size % 2:  # H.264 yuv420p would pad it by a row and a column, and meta.json would not say the truth
        raise CascadeError(f"the clip size must be even for H.264 mp4s, got {size}; use {size + 1} or {size - 1}")
    out_dir = Path(out_dir)
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if num_clips >= PARALLEL_FROM else 1
    start = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        (tmp / "clips").mkdir()
        jobs = [(str(tmp), i, frames, size, fps, seed) for i in range(num_clips)]
        bar = dict(total=num_clips, desc="photos clips", unit="clip", disable=not progress)
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                records = list(tqdm(pool.map(_write_clip, jobs, chunksize=16), **bar))
        else:
            records = [_write_clip(j) for j in tqdm(jobs, **bar)]
        (tmp / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        (tmp / "held_out.json").write_text(json.dumps(held_out_manifest(), indent=1))
        meta = {"dataset": "cascade photos", "num_clips": num_clips, "frames": frames, "size": size, "fps": fps,
                "seed": seed, "subjects": list(SUBJECTS), "motions": list(MOTIONS),
                "train_combinations": len(TRAIN_COMBOS), "held_out_combinations": len(HELD_OUT),
                "subject_words": {s: list(w) for s, w in SUBJECT_WORDS.items()}, "sources": sources()}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    seconds = time.perf_counter() - start
    log.info("wrote %d photos clips (%d frames, %dx%d, %g fps) to %s in %.1f s", num_clips, frames, size, size,
             fps, out_dir, seconds)
    return {"out_dir": str(out_dir), "clips": num_clips, "frames": frames, "size": size, "fps": fps, "seed": seed,
            "held_out": len(HELD_OUT), "seconds": round(seconds, 2)}
