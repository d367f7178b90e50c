"""Photos probe: read the camera motion and the photographed subject out of a clip by classical registration.

Method, per clip (uint8 frames (F, H, W, 3)):
1. Motion: frames go grey and at most MOTION_SIDE pixels; the clip is cut into up to MOTION_SEGMENTS steps, and
   each step (frame a -> frame b) is registered over a grid of zoom factors: frame a (or b, for a zoom out) is
   magnified about the centre, and phase correlation with the other frame gives a sub-pixel translation and a
   peak height; the zoom with the highest peak wins. The median step, per frame, times the clip's length gives
   its translation and log zoom (a step that lost track, as on featureless sky, is outvoted).
   Displacements in frame sides (translation / side, |log zoom| / 2 at the frame's edge) pick pan, zoom or still;
   the picture sliding right means the camera panned left (cascade.data.photos' convention).
2. Subject: a few frames shrunk to THUMB pixels are matched against every photograph shrunk to the scales a
   camera window can have (cascade.data.photos' usable box), at every position: normalised cross-correlation
   less a penalty for a different mean colour. The photograph with the best mean match wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from cascade.data.photos import SUBJECTS, load_photo, usable_box

ATTRIBUTES = ("subject", "motion")
MOTION_SIDE = 64  # frames are registered at most this many pixels square
MOTION_SEGMENTS = 4  # registration steps per clip: each spans a few frames, so its shift stays well under half a frame
ZOOM_GRID = np.exp(np.linspace(-0.3, 0.3, 31))  # candidate zoom factors per step: 2% apart, x0.74 to x1.35
STILL_MAX = 0.04  # frame sides; a clip whose picture moves less than this is still
THUMB = 12  # subject matching resolution (pixels per frame side)
WINDOW_SIDES = np.exp(np.linspace(np.log(0.28), np.log(1.0), 10))  # camera window / usable short side, searched
COLOUR_WEIGHT = 1.0  # correlation lost per unit (0..1 RGB) of distance between a frame's and a patch's mean colour
SUBJECT_FRAMES = 3  # frames matched per clip (first, middle, last)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # Rec. 601 weights
MOSAIC_WIDTH = 512  # pixels; the references of all subjects are packed into one canvas this wide
FFT_ROUND = 32  # the canvas height is a multiple of this (a quick FFT size)


def _grey(frames: np.ndarray) -> np.ndarray:
    """float32 (F, S, S) luma, shrunk (antialiased) to at most MOTION_SIDE pixels."""
    luma = np.ascontiguousarray(frames, dtype=np.float32) @ LUMA  # (F, H, W)
    h, w = luma.shape[1:]
    if max(h, w) > MOTION_SIDE:
        scale = MOTION_SIDE / max(h, w)
        luma = F.interpolate(torch.from_numpy(luma)[:, None], size=(round(h * scale), round(w * scale)),
                             mode="bilinear", antialias=True, align_corners=False)[:, 0].numpy()
    return luma


def _magnify(images: np.ndarray, zooms: np.ndarray) -> np.ndarray:
    """(N, H, W): each image of (N, H, W) magnified about its centre by its factor (> 1 shows a smaller part)."""
    n, h, w = images.shape
    xs = ((2 * np.arange(w) + 1) / w - 1).astype(np.float32)  # pixel centres in grid_sample's [-1, 1]
    ys = ((2 * np.arange(h) + 1) / h - 1).astype(np.float32)
    inv = (1.0 / zooms).astype(np.float32)[:, None, None]  # (N, 1, 1)
    grid = np.stack(np.broadcast_arrays(xs[None, None, :] * inv, ys[None, :, None] * inv), axis=-1)  # (N, H, W, 2)
    out = F.grid_sample(torch.from_numpy(images)[:, None], torch.from_numpy(grid), mode="bilinear",
                        padding_mode="border", align_corners=False)
    return out[:, 0].numpy()


def _phase_correlate(moving: np.ndarray, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair of (N, H, W) images: peak height, and the sub-pixel (dx, dy) that carries moving onto fixed."""
    n, h, w = moving.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    a = np.fft.rfft2((moving - moving.mean(axis=(1, 2), keepdims=True)) * win)
    b = np.fft.rfft2((fixed - fixed.mean(axis=(1, 2), keepdims=True)) * win)
    cross = b * a.conj()
    corr = np.fft.irfft2(cross / np.maximum(np.abs(cross), 1e-9), s=(h, w))  # (N, H, W) phase-only correlation
    py, px = np.divmod(corr.reshape(n, -1).argmax(axis=1), w)
    i = np.arange(n)
    peak = corr[i, py, px]

    def refine(cm: np.ndarray, cp: np.ndarray) -> np.ndarray:  # vertex of the parabola through 3 samples
        den = cm - 2 * peak + cp
        return np.clip(0.5 * (cm - cp) / np.where(np.abs(den) > 1e-12, den, np.inf), -0.5, 0.5)

    dx = px + refine(corr[i, py, (px - 1) % w], corr[i, py, (px + 1) % w])
    dy = py + refine(corr[i, (py - 1) % h, px], corr[i, (py + 1) % h, px])
    return peak, (dx + w / 2) % w - w / 2, (dy + h / 2) % h - h / 2  # shifts wrapped to [-size/2, size/2)


def _register(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(S, 3) dx, dy, log zoom carrying each start frame (S, H, W) onto its end frame: end(p) ~
    start(c + (p - c - d) / zoom). A zoom in magnifies the start frame, a zoom out the end frame."""
    grow, shrink = ZOOM_GRID[ZOOM_GRID >= 1.0], ZOOM_GRID[ZOOM_GRID < 1.0]
    s, zg, zs = len(starts), len(grow), len(shrink)
    moving = np.concatenate([np.repeat(starts, zg, axis=0), np.repeat(ends, zs, axis=0)])
    fixed = np.concatenate([np.repeat(ends, zg, axis=0), np.repeat(starts, zs, axis=0)])
    zooms = np.concatenate([np.tile(grow, s), np.tile(1.0 / shrink, s)])
    peak, dx, dy = _phase_correlate(_magnify(moving, zooms), fixed)
    out = np.empty((s, 3))
    for k in range(s):
        g = slice(k * zg, (k + 1) * zg)
        sh = slice(s * zg + k * zs, s * zg + (k + 1) * zs)
        bg, bs = int(peak[g].argmax()), int(peak[sh].argmax())
        if peak[g][bg] >= peak[sh][bs]:
            out[k] = dx[g][bg], dy[g][bg], np.log(grow[bg])
        else:  # the end frame was magnified onto the start frame: undo its zoom to express the shift
            out[k] = -dx[sh][bs] * shrink[bs], -dy[sh][bs] * shrink[bs], np.log(shrink[bs])
    return out


def camera_motion(frames: np.ndarray) -> dict:
    """{"motion", "shift" (dx, dy) of the picture in frame sides over the clip, "log_zoom"} of uint8 frames
    (F, H, W, 3); the picture moving right reads as pan_left, growing as zoom_in."""
    g = _grey(frames)  # (F, S, S)
    n, side = len(g), max(g.shape[1:])
    if n > 1:
        cuts = np.unique(np.round(np.linspace(0, n - 1, min(MOTION_SEGMENTS, n - 1) + 1)).astype(int))
        rates = _register(g[cuts[:-1]], g[cuts[1:]]) / np.diff(cuts)[:, None]  # (S, 3) per frame
        dx, dy, log_zoom = (float(v) for v in np.median(rates, axis=0) * (n - 1))  # one bad step is outvoted
    else:
        dx = dy = log_zoom = 0.0
    pan, zoom = np.hypot(dx, dy) / side, abs(log_zoom) / 2  # frame sides moved: by the centre / at the edge
    if max(pan, zoom) < STILL_MAX:
        motion = "still"
    elif zoom > pan:
        motion = "zoom_in" if log_zoom > 0 else "zoom_out"
    elif abs(dx) >= abs(dy):
        motion = "pan_left" if dx > 0 else "pan_right"  # picture slides right: the camera moved left
    else:
        motion = "pan_up" if dy > 0 else "pan_down"
    return {"motion": motion, "shift": (dx / side, dy / side), "log_zoom": log_zoom}


def _thumb(img: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(3, h, w) antialiased resize of (3, H, W)."""
    return F.interpolate(img[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0]


def _references(subject: str) -> list[torch.Tensor]:
    """The usable box of the photo at each WINDOW_SIDES scale, a window's side being THUMB pixels: (3, h, w) each."""
    photo = torch.from_numpy(np.array(load_photo(subject))).permute(2, 0, 1).float()  # (3, H, W)
    x0, y0, x1, y1 = (int(round(v)) for v in usable_box(subject))
    box = photo[:, y0:y1, x0:x1]
    short = min(box.shape[-2:])
    refs = []
    for s in WINDOW_SIDES:
        scale = THUMB / (s * short)
        refs.append(_thumb(box, max(THUMB, round(box.shape[1] * scale)), max(THUMB, round(box.shape[2] * scale))))
    return refs


@dataclass(frozen=True)
class _Mosaic:
    """Every reference of every subject packed into one canvas, with what a template needs of each patch."""

    spectrum: np.ndarray  # (3, Hc, Wc // 2 + 1) rfft2 of the canvas
    shape: tuple[int, int]  # (Hc, Wc)
    flat: np.ndarray  # (P,) top-left corner of each valid THUMB x THUMB patch in the flattened canvas, by subject
    means: np.ndarray  # (3, P) mean colour of each valid patch
    norms: np.ndarray  # (P,) zero-mean norm of each valid patch (all channels together)
    starts: np.ndarray  # (S,) where each subject's patches begin in P


@lru_cache(maxsize=1)
def _mosaic() -> _Mosaic:
    """Shelf-pack all references into a canvas MOSAIC_WIDTH wide; a patch is valid inside one reference only."""
    refs = sorted(((k, r) for k, key in enumerate(SUBJECTS) for r in _references(key)), key=lambda kr: -kr[1].shape[1])
    places, x, y, shelf = [], 0, 0, 0
    for k, r in refs:
        h, w = r.shape[1:]
        if x + w > MOSAIC_WIDTH:
            x, y, shelf = 0, y + shelf, 0
        places.append((k, r, y, x))
        x, shelf = x + w, max(shelf, h)
    height = -(-(y + shelf) // FFT_ROUND) * FFT_ROUND
    canvas = torch.zeros(3, height, MOSAIC_WIDTH)
    owner = np.full((height, MOSAIC_WIDTH), -1)
    for k, r, ry, rx in places:
        h, w = r.shape[1:]
        canvas[:, ry:ry + h, rx:rx + w] = r
        owner[ry:ry + h - THUMB + 1, rx:rx + w - THUMB + 1] = k  # top-left corners of patches inside r
    box = torch.full((3, 1, THUMB, THUMB), 1.0 / THUMB ** 2)
    means = F.conv2d(canvas[None], box, groups=3)[0].numpy()  # (3, H', W') patch mean colour
    sq = F.conv2d(canvas[None] ** 2, box, groups=3)[0].sum(0).numpy()  # (H', W') mean square, summed over channels
    norms = np.sqrt(np.maximum(3 * THUMB * THUMB * (sq / 3 - means.mean(0) ** 2), 1e-6))  # (H', W')
    valid = owner[:means.shape[1], :means.shape[2]]
    ys, xs = np.nonzero(valid >= 0)
    order = np.argsort(valid[ys, xs], kind="stable")  # group the patches by subject
    ys, xs = ys[order], xs[order]
    starts = np.searchsorted(valid[ys, xs], np.arange(len(SUBJECTS)))
    return _Mosaic(np.fft.rfft2(canvas.numpy()), (height, MOSAIC_WIDTH), ys * MOSAIC_WIDTH + xs, means[:, ys, xs],
                   norms[ys, xs], starts)


def match_subject(frames: np.ndarray) -> dict:
    """{"subject", "scores" per subject (mean best match of SUBJECT_FRAMES frames)} of uint8 (F, H, W, 3).

    A match is the normalised cross-correlation of a frame's thumbnail with a patch of a reference, less
    COLOUR_WEIGHT times the distance between their mean colours; the cross-correlation with every patch at
    once is one FFT product with the mosaic.
    """
    pick = np.unique(np.round(np.linspace(0, len(frames) - 1, SUBJECT_FRAMES)).astype(int))
    x = torch.from_numpy(np.ascontiguousarray(frames[pick])).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    tmpl = F.interpolate(x, size=(THUMB, THUMB), mode="bilinear", antialias=True, align_corners=False).numpy()
    tz = tmpl - tmpl.mean(axis=(1, 2, 3), keepdims=True)
    tz /= np.maximum(np.sqrt((tz ** 2).sum(axis=(1, 2, 3), keepdims=True)), 1e-6)  # (T, 3, t, t) unit norm
    m = _mosaic()
    spec = np.fft.fft(np.fft.rfft(tz, n=m.shape[1], axis=-1), n=m.shape[0], axis=-2)  # rfft2 of the padded tz
    corr = np.fft.irfft2((m.spectrum[None] * spec.conj()).sum(1), s=m.shape)  # (T, Hc, Wc)
    ncc = corr.reshape(len(pick), -1)[:, m.flat] / m.norms  # (T, P)
    colour = np.sqrt(((m.means[None] - tmpl.mean(axis=(2, 3))[:, :, None]) ** 2).mean(1)) / 255.0  # (T, P)
    best = np.maximum.reduceat(ncc - COLOUR_WEIGHT * colour, m.starts, axis=1)  # (T, S)
    scores = {key: float(v) for key, v in zip(SUBJECTS, best.mean(axis=0))}
    return {"subject": max(scores, key=scores.get), "scores": scores}


def analyze_clip(frames: np.ndarray) -> dict:
    """{"subject", "motion", "subject_conf", "shift", "log_zoom"} of uint8 frames (F, H, W, 3);
    subject_conf is the winning match's lead over the runner-up."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"analyze_clip expects uint8 frames (F, H, W, 3), got shape {frames.shape}")
    with torch.no_grad():
        motion = camera_motion(frames)
        subject = match_subject(frames)
    ranked = sorted(subject["scores"].values(), reverse=True)
    return {"subject": subject["subject"], "motion": motion["motion"], "subject_conf": ranked[0] - ranked[1],
            "shift": motion["shift"], "log_zoom": motion["log_zoom"]}


def score(results: Sequence[dict], targets: Sequence) -> dict[str, float]:
    """Per-attribute accuracy and all-attributes accuracy; targets are dicts or tuples in ATTRIBUTES order."""
    from cascade.eval.suites.base import attribute_accuracy

    return attribute_accuracy(results, targets, ATTRIBUTES)
