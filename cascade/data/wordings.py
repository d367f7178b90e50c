"""How else people say a colour, a direction or a motion, read off WordNet by scripts/build_lexicon.py into
wordings.json (every word is an entry of the `wordnet` lexicon, so it reaches the encoder with its gloss):
  - colour nouns under each of six colour synsets (ruby -> red, teal -> green);
  - direction adverbs by the direction their gloss names, on screen or on a map (westward -> left, skyward -> up);
  - motion verbs under rise/ascend ("up") and descend ("down"), which say where, and everyday motion verbs that
    say how, not where ("how": glide, drift), which a caption pairs with a direction.
A fixed third of each class is held out of training (never one of a world's own names); the eval suites ask for
them. The shapes world uses all three; the photos world the directions and verbs for its pans.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

WORDINGS: dict = json.loads((Path(__file__).parent / "wordings.json").read_text(encoding="utf-8"))
COLOUR_WORDS: dict[str, tuple[str, ...]] = {c: tuple(v["train"]) for c, v in WORDINGS["colour"].items()}
HELD_OUT_COLOUR_WORDS: dict[str, tuple[str, ...]] = {c: tuple(v["held_out"]) for c, v in WORDINGS["colour"].items()}
DIRECTION_WORDS: dict[str, tuple[str, ...]] = {d: tuple(v["train"]) for d, v in WORDINGS["direction"].items()}
HELD_OUT_DIRECTION_WORDS: dict[str, tuple[str, ...]] = {d: tuple(v["held_out"])
                                                        for d, v in WORDINGS["direction"].items()}
MOTION_VERBS: dict[str, tuple[str, ...]] = {k: tuple(v["train"]) for k, v in WORDINGS["motion_verb"].items()}
HELD_OUT_MOTION_VERBS: dict[str, tuple[str, ...]] = {k: tuple(v["held_out"])
                                                     for k, v in WORDINGS["motion_verb"].items()}


def ing_form(verb: str) -> str:
    """The present participle of a (possibly multi-word) verb: plummet -> plummeting, drop -> dropping,
    skydive -> skydiving, go up -> going up."""
    head, _, rest = verb.partition(" ")
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", head):  # one syllable ending consonant-vowel-consonant
        head += head[-1]
    elif re.search(r"[^aeioy]e$", head):
        head = head[:-1]
    return head + "ing" + (f" {rest}" if rest else "")


ING: dict[str, str] = {v: ing_form(v) for table in (MOTION_VERBS, HELD_OUT_MOTION_VERBS) for vs in table.values()
                       for v in vs}
