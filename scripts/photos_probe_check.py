"""How often the photos probe reads the subject and camera motion of ground-truth clips right, per size (seconds).

Renders N clips per (size, frames) setting, cycling through every subject x motion combo with random windows and
speeds, runs cascade.eval.suites.photos.probe.analyze_clip on each and prints accuracy, timings and the confusions.

    python scripts/photos_probe_check.py                        # 168 clips at each of 32/64/128 px, 8 and 16 frames
    python scripts/photos_probe_check.py --clips 840 --threads 1
    python scripts/photos_probe_check.py --long 24              # also pans read on 8-frame windows of long clips
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cascade.data.photos import ALL_COMBOS, long_clip_windows, render_clip, render_windows  # noqa: E402
from cascade.eval.suites.photos.probe import analyze_clip, camera_motion, score  # noqa: E402

SETTINGS = [(32, 8, 4.0), (32, 16, 8.0), (64, 8, 4.0), (64, 16, 8.0), (128, 8, 4.0), (128, 16, 8.0)]
SEED = 20240601  # the check's clips; a fixed seed keeps the table reproducible
LONG_FRAMES, LONG_FPS, LONG_SIZE = 96, 8.0, 64
AXIS_RATIO = 2.0  # a long-clip window counts as a pan along one axis when it moves this much more along it


def check(size: int, frames: int, fps: float, clips: int, seed: int) -> dict:
    """Accuracy and timings of the probe on `clips` ground-truth clips of one setting."""
    rng = np.random.default_rng([seed, size, frames])
    results, targets, render_s, probe_s = [], [], 0.0, 0.0
    for i in range(clips):
        subject, motion = ALL_COMBOS[i % len(ALL_COMBOS)]
        t0 = time.perf_counter()
        clip = render_clip(subject, motion, frames=frames, size=size, fps=fps, rng=rng)
        t1 = time.perf_counter()
        results.append(analyze_clip(clip))
        probe_s += time.perf_counter() - t1
        render_s += t1 - t0
        targets.append((subject, motion))
    s = score(results, targets)
    misses = Counter((t, (r["subject"], r["motion"])) for r, t in zip(results, targets)
                     if (r["subject"], r["motion"]) != t)
    margin = min(r["subject_conf"] for r in results)
    return {**s, "render_s": render_s / clips, "probe_s": probe_s / clips, "misses": misses, "margin": margin}


def check_long(clips: int, seed: int) -> tuple[int, int]:
    """(right, total): the probe's pan direction on 8-frame windows of long clips, away from turns and diagonals."""
    right = total = 0
    subjects = sorted({s for s, _ in ALL_COMBOS})
    for i in range(clips):
        subject = subjects[i % len(subjects)]
        x, y, side = long_clip_windows(subject, frames=LONG_FRAMES, fps=LONG_FPS, rng=[seed, i])
        clip = render_windows(subject, x, y, side, LONG_SIZE)
        for a in range(0, LONG_FRAMES - 8, 8):
            dx, dy = np.diff(x[a:a + 8]), np.diff(y[a:a + 8])
            if (np.sign(dx) != np.sign(dx[0])).any() or (np.sign(dy) != np.sign(dy[0])).any():
                continue  # the camera turns inside this window
            if max(abs(dx[0]), abs(dy[0])) < AXIS_RATIO * min(abs(dx[0]), abs(dy[0])):
                continue  # diagonal: no one pan direction is right
            if abs(dx[0]) >= abs(dy[0]):
                truth = "pan_right" if dx[0] > 0 else "pan_left"
            else:
                truth = "pan_down" if dy[0] > 0 else "pan_up"
            right += camera_motion(clip[a:a + 8])["motion"] == truth
            total += 1
    return right, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=2 * len(ALL_COMBOS), help="clips per setting")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="only these sizes")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--long", type=int, default=0, help="also check this many long clips")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{'size':>4} {'frames':>6} {'fps':>4} {'n':>5} {'motion':>7} {'subject':>7} {'both':>7} "
          f"{'margin':>6} {'render s':>8} {'probe s':>7}")
    for size, frames, fps in SETTINGS:
        if args.sizes and size not in args.sizes:
            continue
        r = check(size, frames, fps, args.clips, args.seed)
        print(f"{size:>4} {frames:>6} {fps:>4g} {r['n']:>5} {r['motion']:>7.2%} {r['subject']:>7.2%} {r['all']:>7.2%} "
              f"{r['margin']:>6.3f} {r['render_s']:>8.4f} {r['probe_s']:>7.4f}", flush=True)
        for (truth, got), count in r["misses"].most_common(10):
            print(f"     {count} x {truth[0]}/{truth[1]} read as {got[0]}/{got[1]}")
    if args.long:
        right, total = check_long(args.long, args.seed)
        print(f"long clips ({LONG_SIZE} px): pan direction right on {right}/{total} 8-frame windows "
              f"(no turn, no diagonal)")


if __name__ == "__main__":
    main()
