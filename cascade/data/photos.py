"""Photos world: a virtual camera panning over and zooming into real photographs shipped inside scikit-image/-learn."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cascade.data.wordings import DIRECTION_WORDS, HELD_OUT_MOTION_VERBS, MOTION_VERBS, ing_form
from cascade.errors import CascadeError


@dataclass(frozen=True)
class Subject:
    """One photograph: its names, where it ships, its licence, and the part of it the camera may frame."""

    key: str
    words: tuple[str, ...]  # names used in training captions, the canonical one first
    held_out_words: tuple[str, ...]  # names never used in training captions
    package: str  # the Python package whose wheel holds the file
    source: str  # the public function that returns the photograph
    file: str  # the file inside the package's data folder
    licence: str
    roi: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # usable (x0, y0, x1, y1), photo fractions

    def path(self) -> Path:
        """The photograph's file inside the installed package (never downloaded)."""
        folder = {"scikit-image": ("skimage", "data"), "scikit-learn": ("sklearn", "datasets/images")}[self.package]
        spec = importlib.util.find_spec(folder[0])  # finds the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise CascadeError(f"the photos world needs {self.package}; install it with 'pip install {self.package}'")
        return Path(list(spec.submodule_search_locations)[0]) / folder[1] / self.file


# The scikit-image licences are quoted from each function's docstring (skimage/data/_fetchers.py); the
# scikit-learn ones from sklearn/datasets/images/README.txt.
_SUBJECTS = [
    Subject("astronaut", ("an astronaut", "an astronaut in an orange spacesuit", "a smiling astronaut",
                          "a portrait of an astronaut"),
            ("a space traveller", "a woman in a flight suit"),
            "scikit-image", "skimage.data.astronaut", "astronaut.png",
            "public domain (NASA Great Images; no known copyright restrictions)"),
    Subject("cat", ("a ginger cat", "a tabby cat", "the face of a cat", "a cat with green eyes"),
            ("a kitten", "an orange house cat"),
            "scikit-image", "skimage.data.chelsea", "chelsea.png",
            "CC0 (photographer Stefan van der Walt)"),
    Subject("coffee", ("a cup of coffee", "a coffee cup", "an espresso cup on a saucer",
                       "a cup of coffee on a wooden table"),
            ("a cappuccino", "a coffee on a red saucer"),
            "scikit-image", "skimage.data.coffee", "coffee.png",
            "CC0 (photographer Rachel Michetti, courtesy of Pikolo Espresso Bar)"),
    Subject("rocket", ("a rocket on the launch pad", "a rocket", "a rocket between launch towers",
                       "a launch pad at dusk"),
            ("a spacecraft before lift-off", "a space launch vehicle"),
            "scikit-image", "skimage.data.rocket", "rocket.jpg",
            "public domain (SpaceX photos)"),
    Subject("galaxies", ("deep space full of galaxies", "galaxies in deep space", "a field of distant galaxies",
                         "the night sky full of galaxies"),
            ("the distant universe", "a telescope view of the cosmos"),
            "scikit-image", "skimage.data.hubble_deep_field", "hubble_deep_field.jpg",
            "public domain (NASA, HubbleSite)"),
    Subject("retina", ("a human retina", "the back of an eye", "an eye fundus photograph",
                       "a retina with blood vessels"),
            ("the inside of an eyeball", "an ophthalmoscope image"),
            "scikit-image", "skimage.data.retina", "retina.jpg",
            "CC0 1.0 (Mikael Häggström, Wikimedia Commons)",
            roi=(0.17, 0.17, 0.83, 0.83)),  # the square inside the round fundus: no black corners
    Subject("tissue", ("stained tissue under a microscope", "a microscope slide of tissue", "stained cells",
                       "a tissue sample under a microscope"),
            ("a histology slide", "glands seen through a microscope"),
            "scikit-image", "skimage.data.immunohistochemistry", "ihc.png",
            "no known copyright restrictions (Center for Microscopy And Molecular Imaging)"),
    Subject("pagoda", ("a chinese pagoda", "a pagoda on a hill", "a temple tower among trees",
                       "a chinese temple"),
            ("an ancient tower by a lake", "a palace tower"),
            "scikit-learn", "sklearn.datasets.load_sample_images (china.jpg)", "china.jpg",
            "CC BY 2.0 (danielbuechele, flickr.com/photos/danielbuechele/6061409035)",
            roi=(0.15, 0.0, 0.8, 1.0)),  # around the pagoda
    Subject("flower", ("an orange flower", "a dahlia", "an orange dahlia", "a flower in bloom"),
            ("a blossom", "a peach-coloured bloom"),
            "scikit-learn", "sklearn.datasets.load_sample_images (flower.jpg)", "flower.jpg",
            "CC BY 2.0 (credited to danielbuechele in sklearn's README; flickr.com/photos/vultilion/6056698931)",
            roi=(0.12, 0.0, 0.88, 1.0)),  # around the dahlia
    Subject("coins", ("ancient coins", "old silver coins", "rows of coins", "greek coins"),
            ("a coin collection", "antique money"),
            "scikit-image", "skimage.data.coins", "coins.png",
            "no known copyright restrictions (Brooklyn Museum Collection)"),
    Subject("photographer", ("a photographer with a camera", "a cameraman on a field",
                             "a man with a camera on a tripod", "a photographer"),
            ("someone filming outdoors", "a person taking pictures"),
            "scikit-image", "skimage.data.camera", "camera.png",
            "CC0 (photographer Lav Varshney)",
            roi=(0.0, 0.0, 0.8, 1.0)),  # the photographer's side of the field
    Subject("bricks", ("a brick wall", "bricks", "a wall of bricks", "grey bricks"),
            ("brickwork", "a masonry wall"),
            "scikit-image", "skimage.data.brick", "brick.png",
            "CC0 (CC0Textures, Bricks25)"),
]
SUBJECTS: dict[str, Subject] = {s.key: s for s in _SUBJECTS}
SUBJECT_WORDS: dict[str, tuple[str, ...]] = {s.key: s.words for s in _SUBJECTS}
HELD_OUT_SUBJECT_WORDS: dict[str, tuple[str, ...]] = {s.key: s.held_out_words for s in _SUBJECTS}

# Camera convention: "pan left" means the camera moves left over the photo, so the picture slides right in the
# frame (and "pan up" slides it down); "zoom in" shrinks the framed window, so the picture grows.
MOTIONS: tuple[str, ...] = ("pan_left", "pan_right", "pan_up", "pan_down", "zoom_in", "zoom_out", "still")
PAN_DIRECTIONS: dict[str, tuple[int, int]] = {"pan_left": (-1, 0), "pan_right": (1, 0), "pan_up": (0, -1),
                                              "pan_down": (0, 1)}  # camera (window) velocity sign, y downward
ZOOM_SIGNS: dict[str, int] = {"zoom_in": -1, "zoom_out": 1}  # sign of d log(window side) / dt

ALL_COMBOS: list[tuple[str, str]] = list(product(SUBJECTS, MOTIONS))  # 84, subject-major order
HELD_OUT_COUNT = 14  # one sixth of the 84 combos
HELD_OUT_STRIDE = 3  # motion 3i mod 7: runs through all seven motions twice in 14 combos


def _held_out() -> list[tuple[str, str]]:
    """14 combos (i % 12, 3i % 7): every subject once (the first two twice), every motion twice."""
    keys = list(SUBJECTS)
    return [(keys[i % len(keys)], MOTIONS[HELD_OUT_STRIDE * i % len(MOTIONS)]) for i in range(HELD_OUT_COUNT)]


HELD_OUT: list[tuple[str, str]] = _held_out()
TRAIN_COMBOS: list[tuple[str, str]] = [c for c in ALL_COMBOS if c not in set(HELD_OUT)]

# Phrases a template may use, one per motion; each reads well in every template below.
_PHRASES: dict[str, dict[str, str]] = {
    "verb": {"pan_left": "pans left across", "pan_right": "pans right across", "pan_up": "pans up over",
             "pan_down": "pans down over", "zoom_in": "zooms in on", "zoom_out": "zooms out from",
             "still": "stays still on"},
    "gerund": {"pan_left": "panning left across", "pan_right": "panning right across", "pan_up": "panning up over",
               "pan_down": "panning down over", "zoom_in": "zooming in on", "zoom_out": "zooming out from",
               "still": "holding steady on"},
    "move": {"pan_left": "moving left across", "pan_right": "moving right across", "pan_up": "moving up over",
             "pan_down": "moving down over", "zoom_in": "moving in on", "zoom_out": "pulling back from",
             "still": "lingering on"},
    "shot": {"pan_left": "camera pans left", "pan_right": "camera pans right", "pan_up": "camera pans up",
             "pan_down": "camera pans down", "zoom_in": "zooming in", "zoom_out": "zooming out",
             "still": "still shot"},
    "label": {"pan_left": "pan left", "pan_right": "pan right", "pan_up": "pan up", "pan_down": "pan down",
              "zoom_in": "zoom in", "zoom_out": "zoom out", "still": "static camera"},
}
TRAIN_TEMPLATES: list[str] = [
    "the camera {verb} {subject}",
    "{gerund} {subject}",
    "slowly {move} {subject}",
    "{subject}, {shot}",
    "a video {gerund} {subject}",
    "{subject}: {label}",
    "a shot {gerund} {subject}",
    "a photo of {subject}, the camera {move} it",
]
# Wordings never seen in training.
HELD_OUT_TEMPLATES: list[str] = [
    "footage {gerund} {subject}",
    "a camera that {verb} {subject}",
    "gently {move} {subject}",
    "{subject} filmed while the camera {verb} it",
]

# A pan said in other words (cascade.data.wordings): a verb that says how and a direction ("the camera glides
# westward across a cat"), or, up and down, a verb that says where ("the camera rising over a cat").
PAN_WAY: dict[str, str] = {"pan_left": "left", "pan_right": "right", "pan_up": "up", "pan_down": "down"}
WORDING_TEMPLATES: list[str] = [
    "the camera {verbing} {dirword} across {subject}",
    "{subject}, the camera {verbing} {dirword}",
    "a shot {verbing} {dirword} over {subject}",
]

# the verbs of those: never one that is a word of this world's own camera phrases ("zoom" would be a zoom, "pan" is
# the training's own verb)
_OWN = {w for words in _PHRASES.values() for phrase in words.values() for w in phrase.split()} | {"pan", "zoom"}
PAN_VERBS: dict[str, tuple[str, ...]] = {k: tuple(v for v in vs if not set(v.split()) & _OWN)
                                         for k, vs in MOTION_VERBS.items()}
HELD_OUT_PAN_VERBS: dict[str, tuple[str, ...]] = {k: tuple(v for v in vs if not set(v.split()) & _OWN)
                                                  for k, vs in HELD_OUT_MOTION_VERBS.items()}

REFERENCE_SECONDS = 2.0  # 16 frames at 8 fps == 8 frames at 4 fps
PAN_WINDOW = (0.45, 0.65)  # window side / the photo's usable short side
PAN_SPEED = (0.18, 0.28)  # window sides per second: 36-56% of the frame over 2 s
ZOOM_WIDE = (0.62, 0.92)  # the zoom's widest window / the usable short side
ZOOM_SPEED = (0.2, 0.3)  # d log(window side) / dt: x1.5-1.8 over 2 s
STILL_WINDOW = (0.4, 0.8)  # window side / the usable short side
LONG_WINDOW = (0.3, 0.42)  # window side / the usable short side: room to glide
LONG_SPEED = (0.2, 0.35)  # window sides per second
SUPERSAMPLE = 2  # samples per output pixel along each axis, box-averaged
MIN_LEVEL_SIDE = 8  # the mip pyramid stops at this many pixels
FRAME_CHUNK_SAMPLES = 1 << 21  # supersamples rendered at once (bounds memory for long, large clips)


def caption(subject: str, motion: str, template: str, subject_word: str | None = None, *, verb: str = "pan",
            dirword: str | None = None) -> str:
    """Fill a caption template, e.g. caption("cat", "zoom_in", "{gerund} {subject}") == "zooming in on a ginger
    cat"; `subject_word` names the subject (default: its canonical name). In a WORDING_TEMPLATES caption of a pan,
    {verbing} is `verb`'s present participle and {dirword} `dirword` (default: the pan's way, "left")."""
    if subject not in SUBJECTS:
        raise CascadeError(f"unknown photo subject {subject!r}; choose one of {', '.join(SUBJECTS)}")
    if motion not in MOTIONS:
        raise CascadeError(f"unknown camera motion {motion!r}; choose one of {', '.join(MOTIONS)}")
    text = template.format(subject=subject_word or SUBJECT_WORDS[subject][0],
                           **{field: words[motion] for field, words in _PHRASES.items()}, verbing=ing_form(verb),
                           dirword=PAN_WAY.get(motion, "") if dirword is None else dirword)
    return " ".join(text.split()).replace(" ,", ",")


def indexed_wording(seed: int, index: int, motion: str, *, varied: bool = True) -> dict:
    """How clip `index` of a data set says its pan: a pure function of (seed, index), from its own stream. Half the
    pans a WORDING_TEMPLATES caption: for up and down, half of those with a verb that says where (rise, descend)
    and no direction, else with a verb that says how (pan, glide) and a training direction (left, westward).
    {} for the other half, for zooms and stills, and when not `varied` (the clip's own template)."""
    if not varied or motion not in PAN_WAY:
        return {}
    rng = np.random.default_rng([seed, index, 3])
    if rng.random() < 0.5:
        return {}
    pick = lambda words: words[int(rng.integers(len(words)))]  # noqa: E731
    way = PAN_WAY[motion]
    out = {"template": pick(WORDING_TEMPLATES)}
    if way in PAN_VERBS and rng.random() < 0.5:
        return out | {"verb": pick(PAN_VERBS[way]), "dirword": ""}
    return out | {"verb": pick(("pan",) + PAN_VERBS["how"]), "dirword": pick(DIRECTION_WORDS[way])}


@lru_cache(maxsize=None)
def load_photo(subject: str) -> np.ndarray:
    """uint8 (H, W, 3) photograph of `subject`, read from its package's data folder (greyscale made RGB)."""
    from PIL import Image

    if subject not in SUBJECTS:
        raise CascadeError(f"unknown photo subject {subject!r}; choose one of {', '.join(SUBJECTS)}")
    path = SUBJECTS[subject].path()
    if not path.is_file():
        raise CascadeError(f"{path} is missing; reinstall {SUBJECTS[subject].package}, whose wheel ships it")
    with Image.open(path) as im:
        photo = np.asarray(im.convert("RGB"))
    photo.setflags(write=False)
    return photo


def usable_box(subject: str) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in photo pixels: the part of the photo a camera window may show."""
    h, w = load_photo(subject).shape[:2]
    r = SUBJECTS[subject].roi
    return r[0] * w, r[1] * h, r[2] * w, r[3] * h


@dataclass(frozen=True)
class PhotoClipParams:
    """Everything that defines a clip, independent of its frames, pixels or fps.

    The camera frames a square window of the photo: `centre` (x, y) and `side` at t = 0 in photo pixels (x to
    the right, y downward); `speed` is in window sides per second for a pan and in d log(side)/dt for a zoom.
    """

    subject: str
    motion: str
    centre: tuple[float, float]
    side: float
    speed: float

    def windows(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Window centre x, y and side (photo pixels) at times t (seconds), each (T,)."""
        t = np.asarray(t, dtype=np.float64)
        x = np.full_like(t, self.centre[0])
        y = np.full_like(t, self.centre[1])
        side = np.full_like(t, self.side)
        if self.motion in PAN_DIRECTIONS:
            dx, dy = PAN_DIRECTIONS[self.motion]
            x, y = x + dx * self.speed * self.side * t, y + dy * self.speed * self.side * t
        elif self.motion in ZOOM_SIGNS:
            side = self.side * np.exp(ZOOM_SIGNS[self.motion] * self.speed * t)
        return x, y, side


def _check_inside(p: PhotoClipParams, duration: float) -> None:
    """Raise one sentence if the window leaves the photo's usable box within `duration` seconds."""
    x0, y0, x1, y1 = usable_box(p.subject)
    x, y, side = p.windows(np.array([0.0, duration]))
    slack = 1e-6 * max(x1, y1)
    if ((x - side / 2).min() < x0 - slack or (x + side / 2).max() > x1 + slack or (y - side / 2).min() < y0 - slack
            or (y + side / 2).max() > y1 + slack):
        raise CascadeError(f"the {p.motion} window of {p.subject} leaves the photo within {duration:g} s; "
                           f"give a smaller start window or a lower speed")


def sample_params(rng: np.random.Generator, combos: list[tuple[str, str]] | None = None, *,
                  duration: float = REFERENCE_SECONDS, speed: float | None = None,
                  start: tuple[float, float, float] | None = None) -> PhotoClipParams:
    """Random window and speed for a random combo; the window stays inside the usable box for `duration`
    seconds (speed is lowered only when a clip much longer than 2 s would not fit). `speed` and `start`
    ((x, y, side) in photo pixels) override the random ones and are checked."""
    combos = TRAIN_COMBOS if combos is None else combos
    subject, motion = combos[int(rng.integers(len(combos)))]
    x0, y0, x1, y1 = usable_box(subject)
    short = min(x1 - x0, y1 - y0)
    u = rng.uniform(size=4)  # always four draws, so overrides do not shift later streams
    if motion in PAN_DIRECTIONS:
        dx, dy = PAN_DIRECTIONS[motion]
        side = float(PAN_WINDOW[0] + u[0] * (PAN_WINDOW[1] - PAN_WINDOW[0])) * short
        extent = (x1 - x0) if dx else (y1 - y0)
        v = float(PAN_SPEED[0] + u[1] * (PAN_SPEED[1] - PAN_SPEED[0]))
        v = min(v, (extent - side) / (side * duration))
        path = v * side * duration
        lo_x, lo_y = x0 + side / 2, y0 + side / 2
        if dx:
            along = lo_x + u[2] * max(x1 - x0 - side - path, 0.0)
            cx = x1 - (along - x0) if dx < 0 else along  # moving toward x0: start near x1
            cy = lo_y + u[3] * (y1 - y0 - side)
        else:
            along = lo_y + u[2] * max(y1 - y0 - side - path, 0.0)
            cy = y1 - (along - y0) if dy < 0 else along
            cx = lo_x + u[3] * (x1 - x0 - side)
    elif motion in ZOOM_SIGNS:
        wide = float(ZOOM_WIDE[0] + u[0] * (ZOOM_WIDE[1] - ZOOM_WIDE[0])) * short
        v = float(ZOOM_SPEED[0] + u[1] * (ZOOM_SPEED[1] - ZOOM_SPEED[0]))
        side = wide if motion == "zoom_in" else wide * math.exp(-v * duration)
        cx = x0 + wide / 2 + u[2] * (x1 - x0 - wide)
        cy = y0 + wide / 2 + u[3] * (y1 - y0 - wide)
    else:
        side = float(STILL_WINDOW[0] + u[0] * (STILL_WINDOW[1] - STILL_WINDOW[0])) * short
        v = 0.0
        cx = x0 + side / 2 + u[2] * (x1 - x0 - side)
        cy = y0 + side / 2 + u[3] * (y1 - y0 - side)
    if start is not None:
        cx, cy, side = (float(s) for s in start)
    p = PhotoClipParams(subject, motion, (float(cx), float(cy)), float(side), float(v if speed is None else speed))
    if start is not None or speed is not None:
        _check_inside(p, duration)
    return p


@lru_cache(maxsize=None)
def _pyramid(subject: str) -> tuple[torch.Tensor, ...]:
    """Mip levels of the photo, float32 (1, 3, h, w) in 0..255, each an antialiased half of the one before."""
    level = torch.from_numpy(np.array(load_photo(subject))).permute(2, 0, 1)[None].float()  # (1, 3, H, W)
    levels = [level]
    while min(level.shape[-2:]) >= 2 * MIN_LEVEL_SIDE:
        h, w = level.shape[-2:]
        level = F.interpolate(level, size=(round(h / 2), round(w / 2)), mode="bilinear", antialias=True,
                              align_corners=False)
        levels.append(level)
    return tuple(levels)


def render_windows(subject: str, x: np.ndarray, y: np.ndarray, side: np.ndarray, size: int) -> np.ndarray:
    """uint8 (F, size, size, 3): square windows (centres x, y and sides in photo pixels, each (F,)) of the photo.

    Each output pixel averages SUPERSAMPLE^2 bilinear samples taken from the two mip levels around its footprint
    (trilinear), so a downscaled photo is antialiased and a window moving or zooming by a fraction of a pixel
    changes the frame by a fraction of a pixel's worth.
    """
    if not 1 <= size <= 4096:
        raise CascadeError(f"the clip size must be between 1 and 4096 pixels, got {size}")
    levels = _pyramid(subject)
    h, w = levels[0].shape[-2:]
    n = size * SUPERSAMPLE
    x, y, side = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (x, y, side))
    frames = len(x)
    u = (np.arange(n) + 0.5) / n - 0.5  # (n,) sample offsets in window sides
    gx = (2 * (x[:, None] + u[None, :] * side[:, None]) / w - 1).astype(np.float32)  # (F, n) grid_sample coords
    gy = (2 * (y[:, None] + u[None, :] * side[:, None]) / h - 1).astype(np.float32)  # (F, n), align_corners=False
    lam = np.clip(np.log2(np.maximum(side / n, 1.0)), 0.0, len(levels) - 1)  # (F,) mip level of each footprint
    lo = np.minimum(np.floor(lam).astype(int), len(levels) - 2) if len(levels) > 1 else np.zeros(frames, int)
    frac = lam - lo  # (F,) weight of level lo + 1
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    chunk = max(1, FRAME_CHUNK_SAMPLES // (n * n))
    for a in range(0, frames, chunk):
        b = min(frames, a + chunk)
        acc = torch.zeros(3, b - a, n, n)  # (3, f, n, n)
        for lvl in np.unique(np.concatenate([lo[a:b], lo[a:b] + 1])):
            if lvl >= len(levels):
                continue
            weight = np.where(lo[a:b] == lvl, 1 - frac[a:b], np.where(lo[a:b] + 1 == lvl, frac[a:b], 0.0))
            use = np.nonzero(weight > 0)[0]
            if not len(use):
                continue
            grid = np.stack(np.broadcast_arrays(gx[a + use][:, None, :], gy[a + use][:, :, None]), -1)  # (f, n, n, 2)
            grid = torch.from_numpy(grid.reshape(1, len(use) * n, n, 2))
            sample = F.grid_sample(levels[lvl], grid, mode="bilinear", padding_mode="border", align_corners=False)
            sample = sample.reshape(3, len(use), n, n) * torch.from_numpy(weight[use]).float()[None, :, None, None]
            if len(use) == b - a:
                acc += sample
            else:
                acc[:, use] += sample
        pooled = F.avg_pool2d(acc, SUPERSAMPLE) if SUPERSAMPLE > 1 else acc  # (3, f, size, size)
        out[a:b] = pooled.permute(1, 2, 3, 0).round().clamp(0, 255).to(torch.uint8).numpy()
    return out


def render_params(p: PhotoClipParams, frames: int = 16, size: int = 64, fps: float = 8.0) -> np.ndarray:
    """uint8 (F, H, W, 3); frame k shows time k / fps."""
    if p.subject not in SUBJECTS:
        raise CascadeError(f"unknown photo subject {p.subject!r}; choose one of {', '.join(SUBJECTS)}")
    if p.motion not in MOTIONS:
        raise CascadeError(f"unknown camera motion {p.motion!r}; choose one of {', '.join(MOTIONS)}")
    if frames < 1 or not fps > 0:
        raise CascadeError(f"a clip needs at least 1 frame and a positive fps, got {frames} frames at {fps} fps")
    return render_windows(p.subject, *p.windows(np.arange(frames) / fps), size)


def clip_duration(frames: int, fps: float) -> float:
    """Seconds a clip's camera path must fit in: at least REFERENCE_SECONDS, so 8 frames at 4 fps and 16 at 8
    fps share one path."""
    return max(frames / fps, REFERENCE_SECONDS)


def render_clip(subject: str, motion: str, *, frames: int = 16, size: int = 64, fps: float = 8.0,
                speed: float | None = None, start: tuple[float, float, float] | None = None,
                rng: np.random.Generator | int | None = None) -> np.ndarray:
    """One clip of (subject, motion): uint8 (F, size, size, 3). A random window and speed from `rng` (a
    Generator or seed), unless `speed` (window sides per second, or d log side / dt for a zoom) or `start`
    ((x, y, side) of the window at t = 0, photo pixels) is given."""
    p = sample_params(np.random.default_rng(rng), [(subject, motion)], duration=clip_duration(frames, fps),
                      speed=speed, start=start)
    return render_params(p, frames, size, fps)


def indexed_params(seed: int, index: int, *, combos: list[tuple[str, str]] | None = None,
                   num_templates: int = len(TRAIN_TEMPLATES), frames: int = 16,
                   fps: float = 8.0) -> tuple[PhotoClipParams, int]:
    """Clip `index` of a data set: a pure function of (seed, index), shared by the in-memory and on-disk sets.

    Combos are balanced (cascade.data.world.indexed_combo). Returns the clip's parameters and which caption
    template it uses.
    """
    from cascade.data.world import indexed_combo

    combo, rng = indexed_combo(seed, index, TRAIN_COMBOS if combos is None else list(combos))
    p = sample_params(rng, [combo], duration=clip_duration(frames, fps))
    return p, int(rng.integers(num_templates))


def indexed_subject_word(seed: int, index: int, subject: str, *, varied: bool = True) -> str:
    """The name clip `index` gives its subject, from its own stream of (seed, index): the canonical name half
    the time (always when not `varied`), else one of the other training names."""
    words = SUBJECT_WORDS[subject]
    rng = np.random.default_rng([seed, index, 2])
    if not varied or rng.random() < 0.5:
        return words[0]
    return words[1 + int(rng.integers(len(words) - 1))]


def long_clip_windows(subject: str, *, frames: int = 64, fps: float = 8.0,
                      rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window centres x, y and sides (F,) of a camera gliding across the photo in a random direction at a
    random speed, turning back (reflecting) at the borders of the usable box."""
    rng = np.random.default_rng(rng)
    x0, y0, x1, y1 = usable_box(subject)
    side = float(rng.uniform(*LONG_WINDOW)) * min(x1 - x0, y1 - y0)
    speed = float(rng.uniform(*LONG_SPEED)) * side  # photo pixels per second
    angle = float(rng.uniform(0, 2 * math.pi))
    t = np.arange(frames) / fps

    def bounce(lo: float, hi: float, start: float, velocity: float) -> np.ndarray:
        span = max(hi - lo, 1e-9)
        q = np.mod(start - lo + velocity * t, 2 * span)  # position along the unfolded path
        return lo + np.where(q <= span, q, 2 * span - q)  # triangle wave: reflects at lo and hi

    x = bounce(x0 + side / 2, x1 - side / 2, x0 + side / 2 + rng.uniform() * (x1 - x0 - side),
               speed * math.cos(angle))
    y = bounce(y0 + side / 2, y1 - side / 2, y0 + side / 2 + rng.uniform() * (y1 - y0 - side),
               speed * math.sin(angle))
    return x, y, np.full(frames, side)


def render_long_clip(subject: str, *, frames: int = 64, size: int = 64, fps: float = 8.0,
                     rng: np.random.Generator | int | None = None) -> np.ndarray:
    """uint8 (F, size, size, 3): a long camera glide across the photo that turns at its borders (see
    long_clip_windows)."""
    if subject not in SUBJECTS:
        raise CascadeError(f"unknown photo subject {subject!r}; choose one of {', '.join(SUBJECTS)}")
    if frames < 1 or not fps > 0:
        raise CascadeError(f"a clip needs at least 1 frame and a positive fps, got {frames} frames at {fps} fps")
    return render_windows(subject, *long_clip_windows(subject, frames=frames, fps=fps, rng=rng), size)


def __getattr__(name):  # the dataset and the writer live in their own modules; import them on first use
    lazy = {"PhotosDataset": "cascade.data.photos_dataset", "write_photos_dataset": "cascade.data.photos_writer"}
    if name in lazy:
        from importlib import import_module

        return getattr(import_module(lazy[name]), name)
    raise AttributeError(f"module 'cascade.data.photos' has no attribute {name!r}")
