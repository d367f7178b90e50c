"""Read the intended colour, shape and motion out of a shapes-domain prompt (synonyms included)."""

from __future__ import annotations

import re

_COLOURS = ("red", "green", "blue", "yellow", "magenta", "cyan")
_SHAPES = {"circle": ("circle", "ball", "disc", "disk", "dot", "round", "circular", "orb", "sphere", "coin"),
           "square": ("square", "box", "block", "cube", "rectangle", "tile", "crate", "brick"),
           "triangle": ("triangle", "pyramid", "wedge", "triangular", "three-sided", "cone", "arrowhead", "delta",
                        "spike", "tent")}
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
