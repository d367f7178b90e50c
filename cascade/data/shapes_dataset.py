"""ShapesDataset: procedural shapes clips rendered on the fly (no disk), clip i a pure function of (seed, i)."""

from __future__ import annotations

from cascade.data.generated import GeneratedClips
from cascade.data.shapes import (HELD_OUT, TRAIN_COMBOS, TRAIN_TEMPLATES, ClipParams, caption, indexed_params,
                                 indexed_shape_word, indexed_wording, render_params)
from cascade.video_ops import frames_to_tensor  # noqa: F401  (the shapes data's tensor form)


class ShapesDataset(GeneratedClips):
    """In-memory procedural shapes data for training (GeneratedClips). Captions name the shape by one of
    SHAPE_WORDS when `varied_words` (half the time the canonical word), else always by the canonical word; with
    `varied_wordings` they also say the colour and motion in other words (cascade.data.shapes.indexed_wording)."""

    def __init__(self, *args, varied_wordings: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.varied_wordings = varied_wordings

    world = "shapes"
    train_combos, held_out_combos, train_templates = TRAIN_COMBOS, HELD_OUT, TRAIN_TEMPLATES

    def indexed_params(self, index: int) -> tuple[ClipParams, int]:
        return indexed_params(self.seed, index, combos=self.combos, num_templates=len(self.templates),
                              frames=self.frames, fps=self.fps)

    def render_params(self, params: ClipParams):
        return render_params(params, self.frames, self.size, self.fps)

    def item(self, p: ClipParams, template: str, index: int) -> dict:
        word = indexed_shape_word(self.seed, index, p.shape, varied=self.varied_words)
        wording = indexed_wording(self.seed, index, p.colour, p.motion, varied=self.varied_wordings)
        template = wording.pop("template", template)
        return {"caption": caption(p.colour, p.shape, p.motion, template, word, **wording),
                "colour": p.colour, "shape": p.shape, "motion": p.motion}
