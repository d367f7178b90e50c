"""The photos eval suite: 12 real photographs x 7 camera motions in trained and held-out wordings, read back by a
classical probe (probe.py: phase correlation and log-polar zoom registration for the camera motion, normalised
cross-correlation against the source photographs for the subject), with a Fréchet distance over fixed colour,
edge, motion and thumbnail statistics.

Cases: every (subject, motion) combination `seeds` times with the training wording "the camera {verb} {subject}"
(template "seen"), plus each combination once in a wording never used in training (HELD_OUT_TEMPLATES, rotating):
with a subject name never used in training either (template "unseen", scored per name as "unseen_word_<name>"), and
with the subject's own name (template "unseen_sentence"). Split into trained and held-out combinations.

Pans in wordings never used in training (cascade.data.wordings, less this world's own camera words), each pan
combination once per group: "unseen_direction_phrase" ("the camera panning westwards across a ginger cat") and
"unseen_motion_verb" (up and down by a verb that says where, "the camera skyrocketing across a ginger cat"; left
and right by a verb that says how, "the camera coasting left across a ginger cat").
"""

from __future__ import annotations

import re

import numpy as np
import torch

from cascade.data.photos import (ALL_COMBOS, HELD_OUT, HELD_OUT_PAN_VERBS, HELD_OUT_SUBJECT_WORDS, HELD_OUT_TEMPLATES,
                                 MOTIONS, PAN_WAY, SUBJECT_WORDS, TRAIN_TEMPLATES, WORDING_TEMPLATES, caption,
                                 clip_duration, render_params, sample_params)
from cascade.data.wordings import HELD_OUT_DIRECTION_WORDS
from cascade.eval.suites.base import GeneratedWorldSuite
from cascade.eval.suites.photos.probe import ATTRIBUTES, analyze_clip
from cascade.video_ops import frames_to_tensor

CANONICAL = TRAIN_TEMPLATES[0]  # "the camera {verb} {subject}"
LUMA = (0.299, 0.587, 0.114)  # Rec. 601 weights
THUMB_SIDE = 4
FEATURE_SCALE = 10.0  # features in [0, 1] read as distances in tenths
# what a prompt says about the camera, read word by word (the training phrasings and the usual others)
_MOTION_WORDS = {"pan_left": ("left", "leftward", "leftwards"), "pan_right": ("right", "rightward", "rightwards"),
                 "pan_up": ("up", "upward", "upwards"), "pan_down": ("down", "downward", "downwards"),
                 "zoom_in": ("in", "closer", "push"), "zoom_out": ("out", "back", "away", "wider"),
                 "still": ("still", "steady", "static", "lingering", "stays", "holding", "fixed")}


def parse_prompt(prompt: str) -> dict[str, str] | None:
    """{"subject", "motion"} when the prompt names exactly one subject (any of its names) and one camera motion."""
    text = prompt.lower()
    words = re.findall(r"[a-z]+", text)
    subjects = [s for s in SUBJECT_WORDS if any(n.lower() in text for n in SUBJECT_WORDS[s] + HELD_OUT_SUBJECT_WORDS[s])]
    motions = [m for m, ws in _MOTION_WORDS.items() if any(w in words for w in ws)]
    if len(subjects) != 1 or len(motions) != 1:
        return None
    return {"subject": subjects[0], "motion": motions[0]}


WORDING_GROUPS = ("unseen_direction_phrase", "unseen_motion_verb")


def wording_cases(seeds: int) -> list[dict]:
    """Each pan combination once per WORDING_GROUPS group, its held-out words taken in turn."""
    held, cases = set(HELD_OUT), []
    pans = [c for c in ALL_COMBOS if c[1] in PAN_WAY]
    for i, combo in enumerate(pans):
        way = PAN_WAY[combo[1]]
        directions = HELD_OUT_DIRECTION_WORDS[way]
        verbs = HELD_OUT_PAN_VERBS[way if way in HELD_OUT_PAN_VERBS else "how"]
        verb = verbs[i % len(verbs)]
        template = WORDING_TEMPLATES[0]
        for g, (group, prompt, word) in enumerate((
                ("unseen_direction_phrase", caption(*combo, template, dirword=directions[i % len(directions)]),
                 directions[i % len(directions)]),
                ("unseen_motion_verb", caption(*combo, template, verb=verb,
                                               dirword="" if way in HELD_OUT_PAN_VERBS else None), verb))):
            cases.append({"prompt": prompt, "target": combo, "seed_group": seeds + 2 + g,
                          "split": "held_out" if combo in held else "trained", "template": group, "wording": word})
    return cases


class PhotosSuite(GeneratedWorldSuite):
    name = "photos"
    attributes = ATTRIBUTES
    combos, held_out = ALL_COMBOS, HELD_OUT
    fd_name = "Frechet Photo-video Distance over fixed colour, edge, motion and thumbnail statistics (not FVD)"

    def cases(self, seeds: int) -> list[dict]:
        held = set(HELD_OUT)
        cases = self.seen_cases(seeds, lambda combo: caption(*combo, CANONICAL))
        for i, combo in enumerate(ALL_COMBOS):
            # motion varies fastest in ALL_COMBOS: the i // 7 shift lets every template meet every motion
            template = HELD_OUT_TEMPLATES[(i + i // len(MOTIONS)) % len(HELD_OUT_TEMPLATES)]
            names = HELD_OUT_SUBJECT_WORDS[combo[0]]
            word = names[(i // len(MOTIONS)) % len(names)]
            split = "held_out" if combo in held else "trained"
            cases.append({"prompt": caption(*combo, template, word), "target": combo, "seed_group": seeds,
                          "split": split, "template": "unseen", "subject_word": word})
            cases.append({"prompt": caption(*combo, template), "target": combo, "seed_group": seeds + 1,
                          "split": split, "template": "unseen_sentence"})
        return cases + wording_cases(seeds)

    def groups(self, rows: list[dict]) -> dict[str, list[dict]]:
        groups = super().groups(rows)
        for motion in MOTIONS:
            groups[f"motion_{motion}"] = [r for r in rows if r["target"] is not None and r["target"][1] == motion]
        for group in WORDING_GROUPS:
            groups[group] = [r for r in rows if r["template"] == group]
        return groups

    def analyze(self, frames: np.ndarray) -> dict:
        return analyze_clip(frames)

    def real_clips(self, spec, n: int, seed: int, targets=None) -> tuple[torch.Tensor, list[str]]:
        """n real clips at `spec` (default: the held-out combinations in turn) and their canonical captions."""
        combos = list(targets) if targets is not None else [HELD_OUT[i % len(HELD_OUT)] for i in range(n)]
        rng = np.random.default_rng(seed)
        duration = clip_duration(spec.frames, spec.fps)
        clips = [render_params(sample_params(rng, [tuple(c)], duration=duration), spec.frames, spec.height, spec.fps)
                 for c in combos]
        return frames_to_tensor(np.stack(clips)), [caption(*c, CANONICAL) for c in combos]

    def features(self, videos: torch.Tensor) -> np.ndarray:
        """Fixed, training-free clip features (N, 24): mean and spread of each colour, edge strength (texture and
        sharpness), frame-to-frame change and its spread (motion), and a 4x4 luma thumbnail of the middle frame."""
        x = (videos.float() + 1) / 2  # (N, 3, F, H, W) in [0, 1]
        n, _, f = x.shape[:3]
        luma = (x * torch.tensor(LUMA).view(1, 3, 1, 1, 1)).sum(1)  # (N, F, H, W)
        edges = (luma[..., 1:, :] - luma[..., :-1, :]).abs().mean((1, 2, 3)) \
            + (luma[..., :, 1:] - luma[..., :, :-1]).abs().mean((1, 2, 3))
        change = (luma[:, 1:] - luma[:, :-1]).abs().mean((2, 3)) if f > 1 else torch.zeros(n, 1)
        thumb = torch.nn.functional.adaptive_avg_pool2d(luma[:, f // 2][:, None], THUMB_SIDE).flatten(1)
        feats = torch.cat([x.mean((2, 3, 4)), x.std((2, 3, 4)), edges[:, None], change.mean(1, keepdim=True),
                           change.std(1, keepdim=True) if change.shape[1] > 1 else torch.zeros(n, 1), thumb], dim=1)
        return (feats * FEATURE_SCALE).numpy().astype(np.float64)

    def parse_prompt(self, prompt: str) -> dict | None:
        return parse_prompt(prompt)


SUITE = PhotosSuite()
