"""The shapes attribute probe reads colour, shape and motion from rendered clips, clean and degraded."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cascade.data.shapes import ALL_COMBOS, COLOURS, MOTIONS, SHAPES, render_clip
from cascade.data.shapes_dataset import ShapesDataset
from cascade.eval.suites.shapes.probe import analyze_batch, analyze_clip, score


def _blur_noise(frames: np.ndarray, sigma: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur (sigma in pixels) then additive Gaussian noise, like an imperfect generated video."""
    k = int(2 * round(3 * sigma) + 1)
    r = torch.arange(k, dtype=torch.float32) - k // 2
    g = torch.exp(-r ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    x = torch.from_numpy(frames).float().permute(0, 3, 1, 2)  # (F, 3, H, W)
    x = F.pad(x, (k // 2,) * 4, mode="replicate")
    x = F.conv2d(x, g.view(1, 1, 1, k).repeat(3, 1, 1, 1), groups=3)
    x = F.conv2d(x, g.view(1, 1, k, 1).repeat(3, 1, 1, 1), groups=3)
    x = x.permute(0, 2, 3, 1).numpy() + rng.normal(0.0, noise, size=frames.shape)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _accuracy(frames: int, size: int, fps: float, *, degrade: bool, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    results, targets = [], []
    for _ in range(3):  # 3 random clips per combination: 216 clips
        for combo in ALL_COMBOS:
            clip = render_clip(*combo, frames=frames, size=size, fps=fps, rng=rng)
            assert clip.shape == (frames, size, size, 3)
            if degrade:
                clip = _blur_noise(clip, sigma=size / 64, noise=6.0, rng=rng)
            results.append(analyze_clip(clip))
            targets.append(combo)
    return score(results, targets)


@pytest.mark.parametrize("frames,size,fps", [(8, 32, 4.0), (16, 64, 8.0)])
@pytest.mark.parametrize("degrade", [False, True])
def test_probe_accuracy_on_ground_truth(frames, size, fps, degrade):
    acc = _accuracy(frames, size, fps, degrade=degrade, seed=7 + size + degrade)
    assert acc["n"] == 216
    for k in ("colour", "shape", "motion"):
        assert acc[k] >= 0.99, (k, acc)


def test_probe_confidences_and_features():
    rng = np.random.default_rng(0)
    r = analyze_clip(render_clip("blue", "triangle", "down", frames=16, size=64, fps=8.0, rng=rng))
    assert (r["found"], r["colour"], r["shape"], r["motion"]) == (True, "blue", "triangle", "down")
    assert r["skew"] < -0.4  # mass low: pointing up
    assert 0.40 * 15 / 16 - 0.03 <= r["travel"] <= 0.50 * 15 / 16 + 0.03  # frame sides over 15 frame steps
    for k in ("colour_conf", "shape_conf", "motion_conf"):
        assert 0.5 < r[k] <= 1.0
    sq = analyze_clip(render_clip("cyan", "square", "left", rng=rng))
    circ = analyze_clip(render_clip("cyan", "circle", "left", rng=rng))
    assert sq["squareness"] > 0.95 and circ["squareness"] < 0.72


def test_probe_reversed_clip_reverses_motion():
    rng = np.random.default_rng(1)
    opposite = {"left": "right", "right": "left", "up": "down", "down": "up"}
    for m in MOTIONS:
        clip = render_clip("green", "circle", m, frames=8, size=32, fps=4.0, rng=rng)
        assert analyze_clip(clip)["motion"] == m
        assert analyze_clip(clip[::-1])["motion"] == opposite[m]


def test_probe_blank_clip_finds_nothing():
    blank = np.full((8, 32, 32, 3), 16, np.uint8)
    blank += np.random.default_rng(0).integers(0, 3, blank.shape, dtype=np.uint8)
    r = analyze_clip(blank)
    assert r["found"] is False and r["colour"] is None and r["shape"] is None and r["motion"] is None
    assert score([r], [("red", "circle", "left")]) == {"colour": 0.0, "shape": 0.0, "motion": 0.0, "all": 0.0, "n": 1}


def test_analyze_batch_accepts_tensors_and_score_counts():
    ds = ShapesDataset(4, frames=8, size=32, fps=4.0, seed=5)
    items = [ds[i] for i in range(4)]
    video = torch.stack([it["video"] for it in items])  # (B, 3, F, H, W) in [-1, 1]
    from_tensor = analyze_batch(video)
    from_uint8 = analyze_batch(np.stack([ds.clip(i) for i in range(4)]))
    truth = [(it["colour"], it["shape"], it["motion"]) for it in items]
    assert [(r["colour"], r["shape"], r["motion"]) for r in from_tensor] == truth
    assert [(r["colour"], r["shape"], r["motion"]) for r in from_uint8] == truth
    wrong = [dict(r) for r in from_tensor]
    wrong[0]["shape"] = "square" if truth[0][1] != "square" else "circle"
    s = score(wrong, [dict(zip(("colour", "shape", "motion"), t)) for t in truth])
    assert s == {"colour": 1.0, "shape": 0.75, "motion": 1.0, "all": 0.75, "n": 4}
    with pytest.raises(ValueError):
        score(wrong, truth[:2])
    with pytest.raises(ValueError):
        analyze_clip(np.zeros((8, 32, 32), np.uint8))


def test_every_attribute_value_is_rendered_and_identified():
    rng = np.random.default_rng(3)
    seen = {"colour": set(), "shape": set(), "motion": set()}
    for colour in COLOURS:
        for shape in SHAPES:
            for motion in MOTIONS:
                r = analyze_clip(render_clip(colour, shape, motion, frames=8, size=32, fps=4.0, rng=rng))
                for k, v in (("colour", colour), ("shape", shape), ("motion", motion)):
                    if r[k] == v:
                        seen[k].add(v)
    assert seen == {"colour": set(COLOURS), "shape": set(SHAPES), "motion": set(MOTIONS)}


def test_probe_still_or_grey_object_gets_no_motion_or_colour():
    rng = np.random.default_rng(4)
    clip = render_clip("red", "square", "up", frames=8, size=32, fps=4.0, rng=rng)
    still = np.repeat(clip[:1], 8, axis=0)  # the first frame held: no motion to read
    r = analyze_clip(still)
    assert r["motion"] is None and r["colour"] == "red" and r["shape"] == "square"
    grey = clip.mean(axis=-1, keepdims=True).repeat(3, axis=-1).astype(np.uint8)  # same clip in grey
    r = analyze_clip(grey)
    assert r["colour"] is None and r["motion"] == "up" and r["shape"] == "square"
