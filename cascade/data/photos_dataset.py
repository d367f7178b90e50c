"""PhotosDataset: camera moves over real photographs rendered on the fly (no disk), clip i a function of (seed, i)."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from cascade.data.photos import (HELD_OUT, TRAIN_COMBOS, TRAIN_TEMPLATES, PhotoClipParams, caption, indexed_params,
                                 indexed_subject_word, render_params)
from cascade.errors import CascadeError
from cascade.video_ops import frames_to_tensor


class PhotosDataset(Dataset):
    """In-memory photos data for training; by default the HELD_OUT combos never appear.

    The same (seed, index) gives the same camera path at any size and at any frames/fps lasting up to 2 s, so a
    base stage (8 frames at 4 fps, 32x32) and its super-resolution stages (16 frames at 8 fps, 64x64) see the
    same clip i: frame k at 4 fps is frame 2k at 8 fps. Captions name the subject by one of SUBJECT_WORDS when
    `varied_words` (half the time the canonical name), else always by the canonical name.
    """

    def __init__(self, num_clips: int, *, frames: int = 16, size: int = 64, fps: float = 8.0, seed: int = 0,
                 combos: list[tuple[str, str]] | None = None, templates: list[str] | None = None,
                 varied_words: bool = True, cache: bool = True):
        if num_clips < 1:
            raise CascadeError(f"num_clips must be at least 1, got {num_clips}")
        if seed < 0:
            raise CascadeError(f"the photos data seed must be >= 0, got {seed}")
        self.num_clips, self.frames, self.size, self.fps, self.seed = num_clips, frames, size, fps, seed
        self.combos = list(TRAIN_COMBOS if combos is None else combos)
        if not self.combos:
            raise CascadeError("PhotosDataset needs at least one (subject, motion) combo")
        self.templates = list(TRAIN_TEMPLATES if templates is None else templates)
        self.held_out = [c for c in HELD_OUT if c not in set(self.combos)]
        self.varied_words = varied_words
        self._cache: dict[int, np.ndarray] | None = {} if cache else None  # uint8 clips: 4x smaller than float

    def __len__(self) -> int:
        return self.num_clips

    def params(self, index: int) -> tuple[PhotoClipParams, int]:
        """(clip parameters, caption template index) of clip `index`."""
        return indexed_params(self.seed, index, combos=self.combos, num_templates=len(self.templates),
                              frames=self.frames, fps=self.fps)

    def clip(self, index: int) -> np.ndarray:
        """uint8 frames (F, H, W, 3) of clip `index`."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        frames = render_params(self.params(index)[0], self.frames, self.size, self.fps)
        if self._cache is not None:
            self._cache[index] = frames
        return frames

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            index += self.num_clips
        if not 0 <= index < self.num_clips:
            raise IndexError(f"clip {index} is out of range for {self.num_clips} clips")
        p, t = self.params(index)
        word = indexed_subject_word(self.seed, index, p.subject, varied=self.varied_words)
        return {"video": frames_to_tensor(self.clip(index)),  # (3, F, H, W)
                "caption": caption(p.subject, p.motion, self.templates[t], word),
                "subject": p.subject, "motion": p.motion, "index": index}
