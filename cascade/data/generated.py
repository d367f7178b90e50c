"""GeneratedClips: the in-memory dataset of a generated world, clip i a pure function of (seed, i).

A world subclasses it with its tables (training combinations and templates, held-out combinations), how clip i's
parameters are drawn (`indexed_params`), rendered (`render_params`) and captioned (`item`).
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from cascade.errors import CascadeError
from cascade.video_ops import frames_to_tensor


class GeneratedClips(Dataset):
    """The same (seed, index) gives the same clip at any size and at any frames/fps lasting up to 2 s, so a base
    stage (8 frames at 4 fps, 32x32) and its super-resolution stages (16 frames at 8 fps, 64x64) see the same clip
    i: frame k at 4 fps is frame 2k at 8 fps. By default the world's held-out combinations never appear."""

    world: str  # "shapes", "photos": named in errors
    train_combos: list[tuple]
    held_out_combos: list[tuple]
    train_templates: list[str]

    def __init__(self, num_clips: int, *, frames: int = 16, size: int = 64, fps: float = 8.0, seed: int = 0,
                 combos: list[tuple] | None = None, templates: list[str] | None = None, varied_words: bool = True,
                 cache: bool = True):
        if num_clips < 1:
            raise CascadeError(f"num_clips must be at least 1, got {num_clips}")
        if seed < 0:
            raise CascadeError(f"the {self.world} data seed must be >= 0, got {seed}")
        self.num_clips, self.frames, self.size, self.fps, self.seed = num_clips, frames, size, fps, seed
        self.combos = list(self.train_combos if combos is None else combos)
        if not self.combos:
            raise CascadeError(f"{type(self).__name__} needs at least one combination to draw clips from")
        self.templates = list(self.train_templates if templates is None else templates)
        self.held_out = [c for c in self.held_out_combos if c not in set(self.combos)]
        self.varied_words = varied_words
        self._cache: dict[int, np.ndarray] | None = {} if cache else None  # uint8 clips: 4x smaller than float

    # -- the world's part -------------------------------------------------------------------------------------
    def indexed_params(self, index: int):
        """(clip parameters, caption template index) of clip `index`."""
        raise NotImplementedError

    def render_params(self, params) -> np.ndarray:
        raise NotImplementedError

    def item(self, params, template: str, index: int) -> dict:
        """The caption and labels of clip `index` (everything but the video)."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.num_clips

    def params(self, index: int):
        return self.indexed_params(index)

    def clip(self, index: int) -> np.ndarray:
        """uint8 frames (F, H, W, 3) of clip `index`."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        frames = self.render_params(self.params(index)[0])
        if self._cache is not None:
            self._cache[index] = frames
        return frames

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            index += self.num_clips
        if not 0 <= index < self.num_clips:
            raise IndexError(f"clip {index} is out of range for {self.num_clips} clips")
        p, t = self.params(index)
        return {"video": frames_to_tensor(self.clip(index)),  # (3, F, H, W)
                **self.item(p, self.templates[t], index), "index": index}
