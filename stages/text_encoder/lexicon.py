"""Prompt expansion with a lexicon: every lexicon word in a prompt is followed by its gloss before encoding.

A small frozen sentence encoder places common words well and rare ones badly: MiniLM puts "wedge" nearer "square"
than "triangle", so no base stage trained on captions that never name it can draw a wedge from its text alone. A lexicon supplies
what the encoder lacks, in words it does know: "a red wedge moving up" is encoded as
"a red wedge moving up (wedge: any shape that is triangular in cross section)". Training captions are expanded the
same way, so the base stage learns to read the glosses (the lexicon is part of the text spec the graph checks).
The idea is prompt expansion (DALL-E 3 and Sora rewrite prompts before encoding them), done with a dictionary.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from cascade.errors import CascadeError

PACKAGED = {name: Path(__file__).parent / "lexicons" / f"{name}.json"
            for name in ("wordnet-shapes", "wordnet", "wordnet-screen")}


class Lexicon:
    """{word: gloss} and {inflected form: word}; `expand` appends " (word: gloss)" for each lexicon word, phrase or
    form a prompt contains ("plummeting" is glossed as "plummet"), in order of first appearance, longest phrase
    first, case-insensitive, whole words only."""

    def __init__(self, entries: dict[str, str], forms: dict[str, str] | None = None):
        self.entries = {k.lower(): v for k, v in entries.items()}
        self.forms = {k.lower(): v.lower() for k, v in (forms or {}).items() if v.lower() in self.entries}
        words = sorted(set(self.entries) | set(self.forms), key=lambda k: -len(k))  # "square shape" before "square"
        self._pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b") if words else None

    def names_in(self, prompt: str) -> list[str]:
        """The lexicon words and phrases `prompt` contains, in order of first appearance (lower case)."""
        if self._pattern is None:
            return []
        return list(dict.fromkeys(m.group(1) for m in self._pattern.finditer(prompt.lower())))

    def gloss(self, name: str) -> str:
        """The gloss of a lexicon word or of one of its forms."""
        name = name.lower()
        return self.entries[self.forms.get(name, name)]

    def expand(self, prompt: str) -> str:
        return prompt + "".join(f" ({w}: {self.gloss(w)})" for w in self.names_in(prompt))

    def __len__(self) -> int:
        return len(self.entries)


@lru_cache(maxsize=8)
def load_lexicon(name: str) -> Lexicon:
    """A packaged lexicon by name (wordnet-shapes, wordnet, wordnet-screen) or a JSON file: {"entries": {word:
    gloss}, "forms": {inflected form: word}} (forms optional) or {word: gloss}."""
    path = PACKAGED.get(name) or Path(name).expanduser()
    if not path.is_file():
        raise CascadeError(f"lexicon '{name}' is neither a packaged lexicon ({', '.join(PACKAGED)}) nor a JSON "
                           f"file; pass a file holding {{word: gloss}}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CascadeError(f"lexicon {path} could not be read as JSON ({e})") from None
    entries = data.get("entries", data) if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(k, str) and isinstance(v, str) and k.strip()
                                                for k, v in entries.items()):
        raise CascadeError(f"lexicon {path} must map words to glosses ({{\"entries\": {{word: gloss}}}})")
    forms = data.get("forms", {}) if "entries" in data else {}
    if not isinstance(forms, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in forms.items()):
        raise CascadeError(f"lexicon {path}: forms must map inflected forms to words ({{\"forms\": {{form: word}}}})")
    return Lexicon(entries, forms)
