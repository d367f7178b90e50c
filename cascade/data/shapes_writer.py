"""Write the shapes data set to disk: clips/*.mp4, captions.jsonl, held_out.json, meta.json (atomically)."""

from __future__ import annotations

from pathlib import Path

from cascade.data.shapes import (COLOURS, HELD_OUT, HELD_OUT_SHAPE_WORDS, HELD_OUT_TEMPLATES, MOTIONS, SHAPE_WORDS,
                                 SHAPES, TRAIN_COMBOS, TRAIN_TEMPLATES, caption, indexed_params, indexed_shape_word,
                                 render_params)
from cascade.data.world import write_world_dataset


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
    """Write `num_clips` training clips (held-out combos excluded) to out_dir (cascade.data.world); returns a
    summary dict."""
    meta = {"colours": COLOURS, "shapes": list(SHAPES), "motions": list(MOTIONS), "train_combinations": len(TRAIN_COMBOS),
            "held_out_combinations": len(HELD_OUT), "shape_words": {s: list(w) for s, w in SHAPE_WORDS.items()}}
    return write_world_dataset("shapes", _write_clip, out_dir, num_clips, frames=frames, size=size, fps=fps,
                               seed=seed, progress=progress, workers=workers, held_out=held_out_manifest(), meta=meta)
