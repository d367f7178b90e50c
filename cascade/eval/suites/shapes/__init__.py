"""The shapes eval suite: 72 colour x shape x motion combinations in trained and held-out wordings, read back by a
classical probe (probe.py), with a Fréchet distance over a small trained feature network (features.py).

Cases: every combination `seeds` times with the canonical training wording "a {colour} {shape} moving {motion}"
(template "seen"), plus each combination once with a wording never used in training, rotating through
HELD_OUT_TEMPLATES: once with the shape named by a held-out synonym too (template "unseen", "green ball going down";
also scored per name as "unseen_word_<word>"), once with its own name (template "unseen_sentence"). Each case is
split into combinations seen in training ("trained") and the held-out ones ("held_out").
"""

from __future__ import annotations

import re

import numpy as np
import torch

from cascade.data.shapes import (ALL_COMBOS, HELD_OUT, HELD_OUT_COLOUR_WORDS, HELD_OUT_DIRECTION_WORDS,
                                 HELD_OUT_MOTION_VERBS, HELD_OUT_SHAPE_WORDS, HELD_OUT_TEMPLATES, caption, render_clips)
from cascade.data.shapes_dataset import frames_to_tensor
from cascade.eval.suites.base import GeneratedWorldSuite
from cascade.eval.suites.shapes.probe import ATTRIBUTES, analyze_clip
from cascade.eval.suites.shapes.prompts import parse_prompt

CANONICAL = "a {colour} {shape} moving {motion}"
WORDING = "a {colour} {shape} {verbing} {dirword}"
WORDING_GROUPS = ("unseen_colour_word", "unseen_direction_phrase", "unseen_motion_verb", "unseen_all_three")


def wording_cases(seeds: int) -> list[dict]:
    """Each combination once per WORDING_GROUPS group, its held-out words taken in turn (the i-th combination of a
    colour or a motion takes that class's i-th word, wrapping round)."""
    held, cases = set(HELD_OUT), []
    for i, combo in enumerate(ALL_COMBOS):
        colour, shape, motion = combo
        colours, directions = HELD_OUT_COLOUR_WORDS[colour], HELD_OUT_DIRECTION_WORDS[motion]
        colour_word = colours[i % len(colours)] if colours else None
        direction = directions[i % len(directions)]
        verbs = HELD_OUT_MOTION_VERBS[motion if motion in HELD_OUT_MOTION_VERBS else "how"]
        verb = verbs[i % len(verbs)]
        says_where = motion in HELD_OUT_MOTION_VERBS  # plummeting needs no direction; gliding does
        prompts = {
            "unseen_colour_word": caption(*combo, CANONICAL, colour_word=colour_word) if colour_word else None,
            "unseen_direction_phrase": caption(*combo, WORDING, dirword=direction),
            "unseen_motion_verb": caption(*combo, WORDING, verb=verb, dirword="" if says_where else None),
            "unseen_all_three": caption(*combo, WORDING, colour_word=colour_word, verb=verb, dirword=direction)
            if colour_word else None,
        }
        words = {"unseen_colour_word": colour_word, "unseen_direction_phrase": direction,
                 "unseen_motion_verb": verb, "unseen_all_three": f"{colour_word} / {verb} / {direction}"}
        for g, (group, prompt) in enumerate(prompts.items()):
            if prompt is not None:
                cases.append({"prompt": prompt, "target": combo, "seed_group": seeds + 2 + g,
                              "split": "held_out" if combo in held else "trained", "template": group,
                              "wording": words[group]})
    return cases


class ShapesSuite(GeneratedWorldSuite):
    name = "shapes"
    attributes = ATTRIBUTES
    combos, held_out = ALL_COMBOS, HELD_OUT
    fd_name = "Frechet Shapes-video Distance (not FVD; see cascade/eval/suites/shapes/features.py)"
    _net = None

    def cases(self, seeds: int) -> list[dict]:
        held = set(HELD_OUT)
        cases = self.seen_cases(seeds, lambda combo: caption(*combo, CANONICAL))
        for i, combo in enumerate(ALL_COMBOS):
            # motion varies fastest in ALL_COMBOS: the i // 4 shift lets every template meet every motion
            template = HELD_OUT_TEMPLATES[(i + i // 4) % len(HELD_OUT_TEMPLATES)]
            prompt = caption(*combo, template)
            word = next(w for w in HELD_OUT_SHAPE_WORDS[combo[1]] if w in re.findall(r"[a-z]+", prompt))
            split = "held_out" if combo in held else "trained"
            cases.append({"prompt": prompt, "target": combo, "seed_group": seeds, "split": split,
                          "template": "unseen", "shape_word": word})
            # the same new sentence with the shape's own name ("a blue square sliding to the right")
            cases.append({"prompt": caption(*combo, re.sub(r"\{shape_syn2?\}", "{shape}", template)), "target": combo,
                          "seed_group": seeds + 1, "split": split, "template": "unseen_sentence"})
        return cases + wording_cases(seeds)

    def groups(self, rows: list[dict]) -> dict[str, list[dict]]:
        groups = super().groups(rows)
        for word in dict.fromkeys(r["shape_word"] for r in rows if r.get("shape_word")):  # each held-out name
            groups[f"unseen_word_{word}"] = [r for r in rows if r.get("shape_word") == word]
        for group in WORDING_GROUPS:
            groups[group] = [r for r in rows if r["template"] == group]
        return groups

    def analyze(self, frames: np.ndarray) -> dict:
        return analyze_clip(frames)

    def real_clips(self, spec, n: int, seed: int, targets=None) -> tuple[torch.Tensor, list[str]]:
        """n real clips at `spec` (default: the held-out combinations in turn) and their canonical captions."""
        combos = list(targets) if targets is not None else [HELD_OUT[i % len(HELD_OUT)] for i in range(n)]
        videos = frames_to_tensor(render_clips(combos, frames=spec.frames, size=spec.height, fps=spec.fps, rng=seed))
        return videos, [caption(*c, CANONICAL) for c in combos]

    def features(self, videos: torch.Tensor) -> np.ndarray:
        from cascade.eval.suites.shapes.features import clip_features, load_feature_net

        if self._net is None:
            self._net = load_feature_net()
        return clip_features(self._net, videos)

    def frechet(self, videos: torch.Tensor, spec) -> dict:
        from cascade.eval.suites.shapes.features import ASSET

        if not ASSET.exists():
            return {"skipped": f"feature network {ASSET} not found (python -m cascade.eval.suites.shapes.features "
                               f"trains it)"}
        return super().frechet(videos, spec)

    def fd_extra(self) -> dict:
        from cascade.eval.suites.shapes.features import ASSET
        from cascade.io_utils import sha256_file

        return {"feature_net_sha256": sha256_file(ASSET)}

    def parse_prompt(self, prompt: str) -> dict | None:
        return parse_prompt(prompt)


SUITE = ShapesSuite()
