"""What every suite of a generated world shares: attribute accuracy, preview metrics and the Fréchet distance with
its real-vs-real range, given the world's probe, prompt parser, real clips and clip features."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

FD_SEEDS = (12, 13, 14, 15, 16)  # real reference set, then the real-vs-real floor and three sets for its range
FD_COMBO_SEED = 11
FEW_CLIPS_FOR_FD = 100


def attribute_accuracy(results: Sequence[dict], targets: Sequence, attributes: Sequence[str]) -> dict[str, float]:
    """Per-attribute accuracy and all-attributes accuracy; targets are dicts or tuples in `attributes` order."""
    if len(results) != len(targets):
        raise ValueError(f"{len(results)} results but {len(targets)} targets")
    if not results:
        return {**{k: 0.0 for k in attributes}, "all": 0.0, "n": 0}
    hits = {k: 0 for k in attributes}
    all_hits = 0
    for r, t in zip(results, targets):
        t = t if isinstance(t, dict) else dict(zip(attributes, t))
        ok = [r.get(k) == t.get(k) for k in attributes]
        for k, good in zip(attributes, ok):
            hits[k] += good
        all_hits += all(ok)
    n = len(results)
    return {**{k: hits[k] / n for k in attributes}, "all": all_hits / n, "n": n}


class GeneratedWorldSuite:
    """Subclasses set `name`, `attributes`, `combos` (every target), `fd_name`, and implement `cases`, `file_cases`,
    `groups`, `analyze`, `parse_prompt`, `real_clips` and `features` (N, D) of clips (N, 3, F, H, W) in [-1, 1]."""

    name: str
    attributes: tuple[str, ...]
    combos: list[tuple]
    fd_name: str

    held_out: list[tuple]  # the combinations never trained on

    def score(self, results, targets) -> dict:
        return attribute_accuracy(results, targets, self.attributes)

    def seen_cases(self, seeds: int, prompt_of) -> list[dict]:
        """Every combination `seeds` times in the training wording `prompt_of(combo)` (template "seen")."""
        held = set(self.held_out)
        return [{"prompt": prompt_of(combo), "target": combo, "seed_group": s,
                 "split": "held_out" if combo in held else "trained", "template": "seen"}
                for s in range(seeds) for combo in self.combos]

    def file_cases(self, prompts: list[str], seeds: int) -> list[dict]:
        """Cases for the user's own prompts: the target is what the prompt parser reads (None when it reads none)."""
        held = set(self.held_out)
        cases = []
        for s in range(seeds):
            for p in prompts:
                parsed = self.parse_prompt(p)
                target = tuple(parsed[a] for a in self.attributes) if parsed else None
                cases.append({"prompt": p, "target": target, "seed_group": s, "template": "file",
                              "split": None if target is None else ("held_out" if target in held else "trained")})
        return cases

    def groups(self, rows: list[dict]) -> dict[str, list[dict]]:
        """The report's groups every world has: trained and held-out combinations, seen and unseen wordings."""
        return {"overall": rows,
                "trained": [r for r in rows if r["split"] == "trained"],
                "held_out": [r for r in rows if r["split"] == "held_out"],
                "seen_template": [r for r in rows if r["template"] == "seen"],
                "unseen_sentence": [r for r in rows if r["template"] == "unseen_sentence"],
                "unseen_template": [r for r in rows if r["template"] == "unseen"],
                "held_out_unseen_template": [r for r in rows if r["split"] == "held_out" and r["template"] == "unseen"]}

    def preview_metrics(self, prompts: list[str], video) -> dict[str, float]:
        """Per-attribute probe accuracy of a training preview over the prompts the probe can read."""
        hits = {k: 0 for k in self.attributes}
        n = 0
        for i, p in enumerate(prompts):
            target = self.parse_prompt(p)
            if target is None:
                continue
            n += 1
            got = self.analyze(video.frames[i].numpy())
            for k in hits:
                hits[k] += int(got.get(k) == target.get(k))
        return {f"preview_{k}_acc": v / n for k, v in hits.items()} if n else {}

    def frechet(self, videos: torch.Tensor, spec) -> dict:
        """Fréchet distance of generated clips (N, 3, F, H, W) to N real clips of random targets, beside what chance
        alone gives between independent real sets."""
        from cascade.eval.metrics import frechet_distance

        n = len(videos)
        if n < 2:  # a covariance needs two samples
            return {"skipped": f"the Fréchet distance needs at least 2 clips; this evaluation rendered {n}"}
        rng = np.random.default_rng(FD_COMBO_SEED)

        def real_features(seed: int) -> np.ndarray:
            targets = [self.combos[i] for i in rng.integers(len(self.combos), size=n)]
            return self.features(self.real_clips(spec, n, seed, targets=targets)[0])

        fa = real_features(FD_SEEDS[0])
        floor = [frechet_distance(real_features(seed), fa) for seed in FD_SEEDS[1:]]
        return {"name": self.fd_name, "generated_vs_real": frechet_distance(self.features(videos), fa),
                "real_vs_real": floor[0], "real_vs_real_range": [min(floor), max(floor)],
                "real_vs_real_std": float(np.std(floor)), "clips": n, **self.fd_extra(),
                **({"note": f"{n} clips are too few to read this distance: chance alone moves it over the "
                            f"real-vs-real range; compare settings at the same, larger clip count (288 or more)"}
                   if n < FEW_CLIPS_FOR_FD else {})}

    def fd_extra(self) -> dict:
        """Extra fields of the Fréchet report (e.g. the feature network's sha256)."""
        return {}
