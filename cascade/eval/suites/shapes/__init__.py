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

from cascade.data.shapes import ALL_COMBOS, HELD_OUT, HELD_OUT_SHAPE_WORDS, HELD_OUT_TEMPLATES, caption, render_clips
from cascade.data.shapes_dataset import frames_to_tensor
from cascade.eval.suites.shapes.probe import ATTRIBUTES, analyze_clip, score
from cascade.eval.suites.shapes.prompts import parse_prompt

CANONICAL = "a {colour} {shape} moving {motion}"
FSD_SEEDS = (12, 13, 14, 15, 16)  # real reference set, then the real-vs-real floor and three sets for its range
FSD_COMBO_SEED = 11
FEW_CLIPS_FOR_FSD = 100


class ShapesSuite:
    name = "shapes"
    attributes = ATTRIBUTES

    def cases(self, seeds: int) -> list[dict]:
        held = set(HELD_OUT)
        cases = []
        for s in range(seeds):
            for combo in ALL_COMBOS:
                cases.append({"prompt": caption(*combo, CANONICAL), "target": combo, "seed_group": s,
                              "split": "held_out" if combo in held else "trained", "template": "seen"})
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
        return cases

    def file_cases(self, prompts: list[str], seeds: int) -> list[dict]:
        held = set(HELD_OUT)
        cases = []
        for s in range(seeds):
            for p in prompts:
                parsed = parse_prompt(p)
                target = tuple(parsed[a] for a in ATTRIBUTES) if parsed else None
                cases.append({"prompt": p, "target": target, "seed_group": s, "template": "file",
                              "split": None if target is None else ("held_out" if target in held else "trained")})
        return cases

    def groups(self, rows: list[dict]) -> dict[str, list[dict]]:
        groups = {"overall": rows,
                  "trained": [r for r in rows if r["split"] == "trained"],
                  "held_out": [r for r in rows if r["split"] == "held_out"],
                  "seen_template": [r for r in rows if r["template"] == "seen"],
                  "unseen_sentence": [r for r in rows if r["template"] == "unseen_sentence"],
                  "unseen_template": [r for r in rows if r["template"] == "unseen"],
                  "held_out_unseen_template": [r for r in rows
                                               if r["split"] == "held_out" and r["template"] == "unseen"]}
        for word in dict.fromkeys(r["shape_word"] for r in rows if r.get("shape_word")):  # each held-out name
            groups[f"unseen_word_{word}"] = [r for r in rows if r.get("shape_word") == word]
        return groups

    def analyze(self, frames: np.ndarray) -> dict:
        return analyze_clip(frames)

    def score(self, results, targets) -> dict:
        return score(results, targets)

    def real_clips(self, spec, n: int, seed: int, targets=None) -> tuple[torch.Tensor, list[str]]:
        """n real clips at `spec` (default: the held-out combinations in turn) and their canonical captions."""
        combos = list(targets) if targets is not None else [HELD_OUT[i % len(HELD_OUT)] for i in range(n)]
        videos = frames_to_tensor(render_clips(combos, frames=spec.frames, size=spec.height, fps=spec.fps, rng=seed))
        return videos, [caption(*c, CANONICAL) for c in combos]

    def frechet(self, videos: torch.Tensor, spec) -> dict:
        """Fréchet Shapes-video Distance of generated clips (N, 3, F, H, W) to real ones of random combinations."""
        from cascade.eval.suites.shapes.features import ASSET, clip_features, frechet_distance, load_feature_net
        from cascade.io_utils import sha256_file

        if not ASSET.exists():
            return {"skipped": f"feature network {ASSET} not found (python -m cascade.eval.suites.shapes.features "
                               f"trains it)"}
        n = len(videos)
        if n < 2:  # a covariance needs two samples
            return {"skipped": f"the Fréchet distance needs at least 2 clips; this evaluation rendered {n}"}
        net = load_feature_net()
        rng = np.random.default_rng(FSD_COMBO_SEED)

        def real_features(seed: int) -> np.ndarray:  # n real clips of random combinations
            combos = [ALL_COMBOS[i] for i in rng.integers(len(ALL_COMBOS), size=n)]
            return clip_features(net, self.real_clips(spec, n, seed, targets=combos)[0])

        fa = real_features(FSD_SEEDS[0])
        floor = [frechet_distance(real_features(seed), fa) for seed in FSD_SEEDS[1:]]
        return {"name": "Frechet Shapes-video Distance (not FVD; see cascade/eval/suites/shapes/features.py)",
                "generated_vs_real": frechet_distance(clip_features(net, videos), fa),
                "real_vs_real": floor[0],
                "real_vs_real_range": [min(floor), max(floor)], "real_vs_real_std": float(np.std(floor)),
                "clips": n, "feature_net_sha256": sha256_file(ASSET),
                **({"note": f"{n} clips are too few to read this distance: chance alone moves it over the "
                            f"real-vs-real range; compare settings at the same, larger clip count (288 or more)"}
                   if n < FEW_CLIPS_FOR_FSD else {})}

    def preview_metrics(self, prompts: list[str], video) -> dict[str, float]:
        """Per-attribute probe accuracy of a training preview over the prompts the probe can read."""
        hits = {k: 0 for k in ATTRIBUTES}
        n = 0
        for i, p in enumerate(prompts):
            target = parse_prompt(p)
            if target is None:
                continue
            n += 1
            got = analyze_clip(video.frames[i].numpy())
            for k in hits:
                hits[k] += int(got.get(k) == target.get(k))
        return {f"preview_{k}_acc": v / n for k, v in hits.items()} if n else {}


SUITE = ShapesSuite()
