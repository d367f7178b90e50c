"""The words a cascade's weights saw in training, and the content words of a prompt outside them.

A cascade records its training vocabulary in cascade.json at assembly (`vocabulary`); a render of a prompt with
content words outside it (and outside the text encoder's lexicon) warns with PromptVocabularyWarning, naming them.
"""

from __future__ import annotations

import re
from typing import Iterable

WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")  # letters, with inner hyphens and apostrophes ("three-sided")
# English function words: they carry no content a text-to-video model must have seen
FUNCTION_WORDS = frozenset("""
a an the this that these those there here it its is are was were be been being am do does did has have had
and or but nor so yet of to in on at by for from with into onto over under as than then while when where who
which what how very just also too not no one some any each every all both either neither its itself their them
they he she his her we us our you your i me my up down left right
""".split()) - {"up", "down", "left", "right"}


class PromptVocabularyWarning(UserWarning):
    """A prompt names content words that the cascade's weights never saw in training; they may be ignored."""


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def caption_vocabulary(captions: Iterable[str]) -> list[str]:
    """The sorted words of a set of training captions (what cascade.json records)."""
    return sorted({w for c in captions for w in words(c)})


def unknown_words(prompt: str, vocabulary: Iterable[str]) -> list[str]:
    """The prompt's content words outside `vocabulary`, in prompt order, each once."""
    known = set(vocabulary)
    return list(dict.fromkeys(w for w in words(prompt) if w not in known and w not in FUNCTION_WORDS))
