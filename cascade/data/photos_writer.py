"""Write the photos data set to disk: clips/*.mp4, captions.jsonl, held_out.json, meta.json (atomically)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cascade.data.photos import (HELD_OUT, HELD_OUT_SUBJECT_WORDS, HELD_OUT_TEMPLATES, MOTIONS, SUBJECT_WORDS,
                                 SUBJECTS, TRAIN_COMBOS, TRAIN_TEMPLATES, caption, indexed_params,
                                 indexed_subject_word, render_params)
from cascade.data.world import write_world_dataset


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
    """Write `num_clips` training clips (held-out combos excluded) to out_dir (cascade.data.world); returns a
    summary dict."""
    meta = {"subjects": list(SUBJECTS), "motions": list(MOTIONS), "train_combinations": len(TRAIN_COMBOS),
            "held_out_combinations": len(HELD_OUT), "subject_words": {s: list(w) for s, w in SUBJECT_WORDS.items()},
            "sources": sources()}
    return write_world_dataset("photos", _write_clip, out_dir, num_clips, frames=frames, size=size, fps=fps,
                               seed=seed, progress=progress, workers=workers, held_out=held_out_manifest(), meta=meta)
