"""Read the intended colour, shape and motion out of a shapes-domain prompt (synonyms included)."""

from __future__ import annotations

import re

from cascade.data.shapes import HELD_OUT_SHAPE_WORDS, SHAPE_WORDS

_COLOURS = ("red", "green", "blue", "yellow", "magenta", "cyan")
# every name the shapes data uses, in training (SHAPE_WORDS; "round shape" is read by "round") or held out, plus a few
_SHAPES = {s: tuple(dict.fromkeys([n.split()[0] for n in SHAPE_WORDS[s] + HELD_OUT_SHAPE_WORDS[s]] + list(extra)))
           for s, extra in (("circle", ["disk", "orb", "globe"]), ("square", ["rectangle"]), ("triangle", []))}
_MOTIONS = {"left": ("left", "leftward", "leftwards", "westward"),
            "right": ("right", "rightward", "rightwards", "eastward"),
            "up": ("up", "upward", "upwards", "rising", "rises", "rise", "climbing", "climbs", "ascending", "top"),
            "down": ("down", "downward", "downwards", "falling", "falls", "fall", "sinking", "sinks",
                     "descending", "dropping", "bottom")}


def parse_prompt(prompt: str) -> dict[str, str] | None:
    """{"colour", "shape", "motion"} if each is named exactly once in the prompt, else None."""
    words = re.findall(r"[a-z]+(?:-[a-z]+)*", prompt.lower())  # "three-sided" is one word
    colour = [c for c in _COLOURS if c in words]
    shape = [s for s, syn in _SHAPES.items() if any(w in words for w in syn)]
    motion = [m for m, syn in _MOTIONS.items() if any(w in words for w in syn)]
    if len(colour) != 1 or len(shape) != 1 or len(motion) != 1:
        return None
    return {"colour": colour[0], "shape": shape[0], "motion": motion[0]}
