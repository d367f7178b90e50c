"""Shapes attribute probe: read colour, shape and motion out of a clip by classical image analysis (no model).

Method, per clip (uint8 frames (F, H, W, 3)):
1. Background = per-channel median of a thin border over all frames; a pixel's foreground weight (soft alpha)
   is its RGB distance from the background, scaled between the border's noise floor and the object's level.
2. Colour = nearest named hue to the mean colour of the object's core pixels (hue ignores brightness, so a
   dim or washed-out generated object still reads right).
3. Shape from the object's moments per frame, median over frames, both unchanged in kind by blur:
   vertical skewness (a triangle pointing up has its mass low: about -0.57, circle and square 0) and
   mu22 / (mu20 mu02) (1 for an axis-aligned square, whose x and y are independent; 2/3 for a disc).
4. Motion = axis and sign of the least-squares slope of the centroid over all frames (y grows downward).
"""

from __future__ import annotations

import colorsys
from typing import Iterable, Sequence

import numpy as np

from cascade.data.shapes import COLOURS

ATTRIBUTES = ("colour", "shape", "motion")
_NAMES = list(COLOURS)
_HUES = np.array([colorsys.rgb_to_hsv(*(np.array(c) / 255.0))[0] * 360.0 for c in COLOURS.values()])  # degrees
MIN_PEAK = 40.0  # RGB distance below which nothing stands out from the background
SKEW_TRIANGLE = -0.25  # vertical skewness threshold between triangle (~-0.57) and symmetric shapes (0)
SQUARENESS_SPLIT = 0.84  # mu22 / (mu20 mu02): square 1.0, disc 0.67 (blur pulls both toward 1)
MIN_SATURATION = 0.2  # greyer than this is no named colour (all six have saturation > 0.8)
MIN_TRAVEL = 0.05  # frame sides over the clip; less is "not moving" (motion None), never a lucky guess


def _hue(rgb: np.ndarray) -> tuple[float, float]:
    """(hue in degrees, saturation in [0, 1]) of one RGB colour in 0..255."""
    h, s, _ = colorsys.rgb_to_hsv(*(np.clip(rgb, 0, 255) / 255.0))
    return h * 360.0, s


def _foreground(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Soft foreground weights (F, H, W) in [0, 1] from channel-first x (3, F, H, W), and the object's contrast."""
    _, f, h, w = x.shape
    b = max(1, min(h, w) // 16)
    border = np.concatenate([x[:, :, :b].reshape(3, -1), x[:, :, -b:].reshape(3, -1),
                             x[:, :, :, :b].reshape(3, -1), x[:, :, :, -b:].reshape(3, -1)], axis=1)  # (3, N)
    bg = np.median(border, axis=1)  # (3,); the object may touch the border, the median ignores it
    dist = np.sqrt(sum((x[c] - bg[c]) ** 2 for c in range(3)))  # (F, H, W)
    border_dist = np.sqrt(((border - bg[:, None]) ** 2).sum(0))
    med = float(np.median(border_dist))
    floor = med + 4.0 * 1.4826 * float(np.median(np.abs(border_dist - med)))  # noise level: median + 4 MAD-sigma
    peak = float(np.percentile(dist, 99.5))  # the object's level (it covers > 2% of pixels)
    if peak - floor < MIN_PEAK:
        return np.zeros_like(dist), peak - floor
    alpha = np.clip((dist - floor) / (0.8 * (peak - floor)), 0.0, 1.0)
    return alpha * _object_window(alpha), peak - floor


def _object_window(alpha: np.ndarray) -> np.ndarray:
    """(F, H, W) 0/1 box around the main object of each frame, to keep stray noise out of the moments."""
    f, h, w = alpha.shape
    solid = alpha > 0.5  # (F, H, W)
    count = solid.sum(axis=(1, 2))  # (F,)
    ys, xs = np.arange(h), np.arange(w)
    # robust centre: median of the solid pixels' rows and columns (from the cumulative row/column counts)
    rows, cols = solid.sum(axis=2).cumsum(axis=1), solid.sum(axis=1).cumsum(axis=1)  # (F, H), (F, W)
    half = np.maximum(count, 1)[:, None] / 2
    my = (rows < half).sum(axis=1)  # (F,)
    mx = (cols < half).sum(axis=1)
    radius = 1.3 * np.sqrt(count) + 2.0 + 0.04 * max(h, w)  # the object's half-extent, with room for blur
    inside_y = np.abs(ys[None, :] - my[:, None]) <= radius[:, None]  # (F, H)
    inside_x = np.abs(xs[None, :] - mx[:, None]) <= radius[:, None]  # (F, W)
    window = inside_y[:, :, None] & inside_x[:, None, :] & (_box3(alpha) > 0.25)  # isolated noise pixels fail
    window[count == 0] = False
    return window


def _box3(a: np.ndarray) -> np.ndarray:
    """3x3 box mean of each frame of (F, H, W), zero padded."""
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)))
    rows = p[:, :-2] + p[:, 1:-1] + p[:, 2:]  # (F, H, W + 2)
    return (rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]) / 9.0


def _classify_colour(x: np.ndarray, alpha: np.ndarray) -> tuple[str | None, float, float]:
    """(nearest named colour by hue or None if grey, confidence, hue) from channel-first x (3, F, H, W)."""
    core = alpha > 0.7
    if not core.any():
        core = alpha >= alpha.max()
    mean = x[:, core].mean(axis=1)  # (3,)
    hue, sat = _hue(mean)
    if sat < MIN_SATURATION:
        return None, 0.0, hue
    d = np.abs((_HUES - hue + 180.0) % 360.0 - 180.0)  # circular hue distance per named colour
    order = np.argsort(d)
    margin = (d[order[1]] - d[order[0]]) / max(d[order[1]], 1e-6)  # 1: right on a named hue, 0: halfway
    return _NAMES[order[0]], float(margin * min(1.0, sat / 0.5)), hue


def _moments(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: area, centroid x, y (pixels), vertical skewness, mu22 / (mu20 mu02)."""
    f, h, w = alpha.shape
    ys = np.arange(h, dtype=np.float32)[None, :, None]
    xs = np.arange(w, dtype=np.float32)[None, None, :]
    area = alpha.sum(axis=(1, 2))  # (F,)
    a = np.maximum(area, 1e-6)
    cx = (alpha * xs).sum(axis=(1, 2)) / a
    cy = (alpha * ys).sum(axis=(1, 2)) / a
    dx = xs - cx[:, None, None]  # (F, 1, W)
    dy = ys - cy[:, None, None]  # (F, H, 1)
    dx2, dy2 = dx * dx, dy * dy
    mu20 = (alpha * dx2).sum(axis=(1, 2)) / a
    mu02 = (alpha * dy2).sum(axis=(1, 2)) / a
    mu03 = (alpha * dy2 * dy).sum(axis=(1, 2)) / a
    mu22 = (alpha * dx2 * dy2).sum(axis=(1, 2)) / a
    skew = mu03 / np.maximum(mu02, 1e-6) ** 1.5
    squareness = mu22 / np.maximum(mu20 * mu02, 1e-6)
    return area, cx, cy, skew, squareness


def analyze_clip(frames: np.ndarray) -> dict:
    """Colour, shape and motion of the one object in uint8 frames (F, H, W, 3), with confidences in [0, 1].

    Returns {"found", "colour", "shape", "motion", "colour_conf", "shape_conf", "motion_conf", "hue",
    "skew", "squareness", "travel", "contrast"}; with no object found the attributes are None, and so are
    colour for a grey object and motion for a still one.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"analyze_clip expects uint8 frames (F, H, W, 3), got shape {frames.shape}")
    x = np.moveaxis(frames, -1, 0).astype(np.float32)  # (3, F, H, W): per-channel maths on contiguous planes
    _, f, h, w = x.shape
    alpha, contrast = _foreground(x)
    area, cx, cy, skew, squareness = _moments(alpha)
    seen = area >= 0.002 * h * w
    if not seen.any():
        return {"found": False, "colour": None, "shape": None, "motion": None, "colour_conf": 0.0,
                "shape_conf": 0.0, "motion_conf": 0.0, "hue": None, "skew": None, "squareness": None,
                "travel": 0.0, "contrast": contrast}
    colour, colour_conf, hue = _classify_colour(x, alpha)

    sk, sq = float(np.median(skew[seen])), float(np.median(squareness[seen]))
    if sk < SKEW_TRIANGLE:
        shape, shape_conf = "triangle", min(1.0, (SKEW_TRIANGLE - sk) / 0.25)
    else:
        shape = "square" if sq >= SQUARENESS_SPLIT else "circle"
        shape_conf = min(1.0, abs(sq - SQUARENESS_SPLIT) / 0.12, (sk - SKEW_TRIANGLE) / 0.25)

    t = np.nonzero(seen)[0].astype(np.float32)
    if len(t) >= 2:
        tc = t - t.mean()
        denom = float((tc * tc).sum())
        vx = float((tc * (cx[seen] - cx[seen].mean())).sum() / denom)  # pixels per frame, least squares
        vy = float((tc * (cy[seen] - cy[seen].mean())).sum() / denom)
    else:
        vx = vy = 0.0
    if abs(vx) >= abs(vy):
        motion = "right" if vx > 0 else "left"
    else:
        motion = "down" if vy > 0 else "up"
    motion_conf = abs(abs(vx) - abs(vy)) / max(abs(vx) + abs(vy), 1e-6)
    travel = float(np.hypot(vx, vy) * max(f - 1, 1) / max(h, w))  # frame sides covered over the clip
    if travel < MIN_TRAVEL:
        motion, motion_conf = None, 0.0
    return {"found": True, "colour": colour, "shape": shape, "motion": motion, "colour_conf": colour_conf,
            "shape_conf": float(shape_conf), "motion_conf": float(motion_conf), "hue": hue, "skew": sk,
            "squareness": sq, "travel": travel, "contrast": contrast}


def _as_uint8_clips(videos) -> Iterable[np.ndarray]:
    """Accept a cascade Video, a float tensor (B, 3, F, H, W) in [-1, 1], uint8 (B, F, H, W, 3) or a list."""
    if hasattr(videos, "frames") and hasattr(videos, "spec"):  # cascade.types.Video
        videos = videos.frames.numpy()  # (B, F, H, W, 3)
    elif hasattr(videos, "detach"):  # torch tensor
        import torch

        t = videos.detach().cpu()
        if t.is_floating_point():
            t = ((t.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            t = t.permute(0, 2, 3, 4, 1)  # (B, C, F, H, W) -> (B, F, H, W, C)
        videos = t.numpy()
    for v in videos:
        yield np.asarray(v)


def analyze_batch(videos) -> list[dict]:
    """analyze_clip for each clip of a batch (see _as_uint8_clips for the accepted forms)."""
    return [analyze_clip(v) for v in _as_uint8_clips(videos)]


def score(results: Sequence[dict], targets: Sequence) -> dict[str, float]:
    """Per-attribute accuracy and all-attributes accuracy; targets are dicts or tuples in ATTRIBUTES order."""
    from cascade.eval.suites.base import attribute_accuracy

    return attribute_accuracy(results, targets, ATTRIBUTES)
