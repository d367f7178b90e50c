"""PhotosDataset: camera moves over real photographs rendered on the fly (no disk), clip i a function of (seed, i)."""

from __future__ import annotations

from cascade.data.generated import GeneratedClips
from cascade.data.photos import (HELD_OUT, TRAIN_COMBOS, TRAIN_TEMPLATES, PhotoClipParams, caption, indexed_params,
                                 indexed_subject_word, indexed_wording, render_params)


class PhotosDataset(GeneratedClips):
    """In-memory photos data for training (GeneratedClips). Captions name the subject by one of SUBJECT_WORDS when
    `varied_words` (half the time the canonical name), else always by the canonical name; with `varied_wordings`
    pans are also said in other words (cascade.data.photos.indexed_wording)."""

    def __init__(self, *args, varied_wordings: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.varied_wordings = varied_wordings

    world = "photos"
    train_combos, held_out_combos, train_templates = TRAIN_COMBOS, HELD_OUT, TRAIN_TEMPLATES

    def indexed_params(self, index: int) -> tuple[PhotoClipParams, int]:
        return indexed_params(self.seed, index, combos=self.combos, num_templates=len(self.templates),
                              frames=self.frames, fps=self.fps)

    def render_params(self, params: PhotoClipParams):
        return render_params(params, self.frames, self.size, self.fps)

    def item(self, p: PhotoClipParams, template: str, index: int) -> dict:
        word = indexed_subject_word(self.seed, index, p.subject, varied=self.varied_words)
        wording = indexed_wording(self.seed, index, p.motion, varied=self.varied_wordings)
        template = wording.pop("template", template)
        return {"caption": caption(p.subject, p.motion, template, word, **wording), "subject": p.subject,
                "motion": p.motion}
