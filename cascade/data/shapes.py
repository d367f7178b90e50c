"""Procedural shapes clips: one coloured circle, square or triangle moving on a dark background (numpy only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

import numpy as np

from cascade.data.wordings import (COLOUR_WORDS, DIRECTION_WORDS, HELD_OUT_COLOUR_WORDS,  # noqa: F401 (re-exported)
                                   HELD_OUT_DIRECTION_WORDS, HELD_OUT_MOTION_VERBS, ING, MOTION_VERBS, ing_form)

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 240),
    "yellow": (235, 220, 40),
    "magenta": (220, 50, 220),
    "cyan": (40, 210, 220),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
MOTIONS: tuple[str, ...] = ("left", "right", "up", "down")
BACKGROUND: tuple[int, int, int] = (16, 16, 20)

ALL_COMBOS: list[tuple[str, str, str]] = list(product(COLOURS, SHAPES, MOTIONS))  # 72, colour-major order


def _held_out() -> list[tuple[str, str, str]]:
    """12 combos (i//2, i%3, i%4): each colour twice, each shape 4x, each motion 3x, and every
    colour-shape, colour-motion and shape-motion pair still appears in training with another third attribute."""
    colours = list(COLOURS)
    return [(colours[i // 2], SHAPES[i % 3], MOTIONS[i % 4]) for i in range(12)]


HELD_OUT: list[tuple[str, str, str]] = _held_out()
TRAIN_COMBOS: list[tuple[str, str, str]] = [c for c in ALL_COMBOS if c not in set(HELD_OUT)]

# Fields a template may use; {direction} makes "moves to the left" and "moves upward" both read well.
_DIRECTION = {"left": "to the left", "right": "to the right", "up": "upward", "down": "downward"}
_ADVERB = {"left": "leftward", "right": "rightward", "up": "upward", "down": "downward"}
_SHAPE_SYN = {"circle": "ball", "square": "box", "triangle": "wedge"}
_SHAPE_SYN2 = {"circle": "disc", "square": "block", "triangle": "pyramid"}
HELD_OUT_SHAPE_WORDS: dict[str, tuple[str, ...]] = {s: (_SHAPE_SYN[s], _SHAPE_SYN2[s]) for s in _SHAPE_SYN}

# Names a training caption may give each shape: the canonical word half the time, else one of the others. A
# base model that only ever reads "circle" maps any other word to one fixed shape; several names per shape make it
# read the text encoder's sense of the word instead. They include WordNet noun.shape names of figures and solids
# drawn face-on as the shape. Disjoint from the held-out synonyms above, which stay wordings never seen in
# training, and no name shares its lexicon gloss with one of them (WordNet glosses orb, globe and ball alike, and
# disk, saucer and disc, cuneus and wedge). Why each name is here: docs/experiments.md.
SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "dot", "sphere", "coin", "round shape", "circular shape", "bead", "pellet"),
    "square": ("square", "cube", "tile", "crate", "square shape", "brick", "cuboid", "quadrate", "tetragon",
               "hexahedron"),
    "triangle": ("triangle", "triangular shape", "three-sided shape", "cone", "arrowhead", "delta", "spike", "tent",
                 "trigon", "taper", "tetrahedron"),
}

TRAIN_TEMPLATES: list[str] = [
    "a {colour} {shape} moving {motion}",
    "a {colour} {shape} moves {direction}",
    "{colour} {shape} heading {motion}",
    "a {shape} that is {colour}, moving {direction}",
    "the {colour} {shape} travels {direction}",
    "a {colour} {shape} on a dark background, moving {motion}",
    "a video of a {colour} {shape} moving {direction}",
    "{colour} {shape}, {adverb} motion",
]
# Wordings and shape synonyms never seen in training (every one parses with cascade.eval.suites.shapes.prompts).
HELD_OUT_TEMPLATES: list[str] = [
    "a {colour} {shape_syn} sliding {direction}",
    "{colour} {shape_syn} going {motion}",
    "watch the {shape_syn2}, coloured {colour}, drift {direction}",
    "one {colour} {shape_syn2} gliding {adverb}",
]

# Captions that say the motion with a verb of either kind (cascade.data.wordings), in the wordings above
WORDING_TEMPLATES: list[str] = [
    "a {colour} {shape} {verbing} {dirword}",
    "the {colour} {shape} is {verbing} {dirword}",
    "{colour} {shape} {verbing} {dirword}",
]

SIZE_RANGE = (0.28, 0.40)  # object side / frame side
SPEED_RANGE = (0.20, 0.25)  # frame sides per second: 40-50% of the frame over a 2 s clip
REFERENCE_SECONDS = 2.0  # 16 frames at 8 fps == 8 frames at 4 fps
SUPERSAMPLE = 4


def direction_phrases(motion: str) -> tuple[str, ...]:
    """The training's ways of saying where: the templates' own ("to the left", "leftward") and DIRECTION_WORDS."""
    return tuple(dict.fromkeys((_DIRECTION[motion], _ADVERB[motion], *DIRECTION_WORDS[motion])))


def training_captions() -> list[str]:
    """Every caption the shapes training data can show with the canonical colour and motion words (training
    combinations, templates and shape names), then one per training wording of a colour, a direction or a verb."""
    out = [caption(c, s, m, t, w) for c, s, m in TRAIN_COMBOS for t in TRAIN_TEMPLATES for w in SHAPE_WORDS[s]]
    for colour, shape, motion in TRAIN_COMBOS:
        out += [caption(colour, shape, motion, TRAIN_TEMPLATES[0], colour_word=w) for w in COLOUR_WORDS[colour]]
        for kind in ("how", motion):
            for verb in MOTION_VERBS.get(kind, ()):
                for d in direction_phrases(motion):
                    out.append(caption(colour, shape, motion, WORDING_TEMPLATES[0], verb=verb, dirword=d))
    return out


def caption(colour: str, shape: str, motion: str, template: str, shape_word: str | None = None, *,
            colour_word: str | None = None, verb: str = "move", dirword: str | None = None) -> str:
    """Fill a caption template, e.g. caption("red", "circle", "up", "a {colour} {shape} moves {direction}");
    `shape_word` names the shape in {shape} (default: the shape itself), `colour_word` the colour in {colour};
    {verbing} is `verb`'s present participle and {dirword} `dirword` (default: "to the left", "upward"; "" says
    no direction, for a verb that says it)."""
    text = template.format(colour=colour_word or colour, shape=shape_word or shape, motion=motion,
                           direction=_DIRECTION[motion], adverb=_ADVERB[motion], shape_syn=_SHAPE_SYN[shape],
                           shape_syn2=_SHAPE_SYN2[shape], verbing=ing_form(verb),
                           dirword=_DIRECTION[motion] if dirword is None else dirword)
    return re.sub(r"\b([Aa]) (?=[aeiou])", r"\1n ", " ".join(text.split()))  # "an aqua square"


def indexed_wording(seed: int, index: int, colour: str, motion: str, *, varied: bool = True) -> dict:
    """How clip `index` of a data set says its colour and motion: a pure function of (seed, index), drawn from its
    own stream. The canonical colour word half the time, else another of COLOUR_WORDS; the clip's own template
    half the time, else a WORDING_TEMPLATES caption with a verb: for up and down, half of those a verb that says
    where (rise, plunge) and no direction, else a verb that says how (glide) and a direction phrase. {} when not
    `varied` (the canonical words and the clip's template)."""
    if not varied:
        return {}
    rng = np.random.default_rng([seed, index, 3])
    pick = lambda words: words[int(rng.integers(len(words)))]  # noqa: E731
    out = {"colour_word": colour if rng.random() < 0.5 else pick(COLOUR_WORDS[colour][1:] or (colour,))}
    if rng.random() < 0.5:
        return out
    out["template"] = pick(WORDING_TEMPLATES)
    if motion in MOTION_VERBS and rng.random() < 0.5:
        out.update(verb=pick(MOTION_VERBS[motion]), dirword="")
    else:
        out.update(verb=pick(("move",) + MOTION_VERBS["how"]), dirword=pick(direction_phrases(motion)))
    return out


@dataclass(frozen=True)
class ClipParams:
    """Everything that defines a clip, independent of how many frames, pixels or fps it is rendered at.

    Positions are in frame-side units, x to the right and y downward; `start` is the object centre at t = 0.
    """

    colour: str
    shape: str
    motion: str
    size_frac: float
    start: tuple[float, float]
    speed: float  # frame sides per second
    bg: tuple[int, int, int]

    def centre(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Object centre (x, y) at times t (seconds): constant velocity along the motion axis."""
        dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[self.motion]
        return self.start[0] + dx * self.speed * t, self.start[1] + dy * self.speed * t


def sample_params(rng: np.random.Generator, combos: list[tuple[str, str, str]] | None = None, *,
                  duration: float = REFERENCE_SECONDS) -> ClipParams:
    """Random size, speed, start and background for a random combo; the path stays inside the frame for
    `duration` seconds (speed is lowered only if a clip much longer than 2 s would not fit)."""
    combos = TRAIN_COMBOS if combos is None else combos
    colour, shape, motion = combos[int(rng.integers(len(combos)))]
    size = float(rng.uniform(*SIZE_RANGE))
    speed = min(float(rng.uniform(*SPEED_RANGE)), (1.0 - size) / duration)
    half, path = size / 2, speed * duration
    u_along, u_across = rng.uniform(size=2)
    across = half + u_across * (1 - size)  # anywhere the object fits
    along = half + u_along * max(1 - size - path, 0.0)  # leaves room for the whole path
    if motion in ("left", "up"):
        along = 1.0 - along  # moving toward 0: start near the far side
    start = (along, across) if motion in ("left", "right") else (across, along)
    jitter = rng.integers(-3, 4, size=3)
    bg = tuple(int(b + j) for b, j in zip(BACKGROUND, jitter))
    return ClipParams(colour, shape, motion, size, (float(start[0]), float(start[1])), speed, bg)


def render_params(p: ClipParams, frames: int = 16, size: int = 64, fps: float = 8.0) -> np.ndarray:
    """uint8 (F, H, W, 3); frame k shows time k / fps; anti-aliased by 4x4 supersampling and box-averaging."""
    n = size * SUPERSAMPLE
    grid = (np.arange(n, dtype=np.float32) + 0.5) / n  # sub-pixel centres in frame-side units
    cx, cy = p.centre(np.arange(frames, dtype=np.float32) / fps)  # (F,), (F,)
    u = (grid[None, None, :] - cx[:, None, None].astype(np.float32)) / p.size_frac  # (F, 1, N): object spans [-0.5, 0.5]
    v = (grid[None, :, None] - cy[:, None, None].astype(np.float32)) / p.size_frac  # (F, N, 1)
    if p.shape == "circle":
        inside = u * u + v * v <= 0.25
    elif p.shape == "square":
        inside = (np.abs(u) <= 0.5) & (np.abs(v) <= 0.5)
    elif p.shape == "triangle":  # apex up at v = -0.5, base of full width at v = +0.5
        inside = (np.abs(v) <= 0.5) & (np.abs(u) <= (v + 0.5) / 2)
    else:
        raise ValueError(f"unknown shape {p.shape!r}; expected one of {SHAPES}")
    if p.colour not in COLOURS:
        raise ValueError(f"unknown colour {p.colour!r}; expected one of {tuple(COLOURS)}")
    alpha = inside.reshape(frames, size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(2, 4), dtype=np.float32)  # (F, H, W)
    bg = np.asarray(p.bg, dtype=np.float32)
    fg = np.asarray(COLOURS[p.colour], dtype=np.float32)
    out = bg + alpha[..., None] * (fg - bg)  # (F, H, W, 3)
    return np.rint(out).astype(np.uint8)


def render_clip(colour: str, shape: str, motion: str, *, frames: int = 16, size: int = 64, fps: float = 8.0,
                rng: np.random.Generator) -> np.ndarray:
    """Render one clip of the given combo with random size, start, speed and background: uint8 (F, H, W, 3)."""
    p = sample_params(rng, [(colour, shape, motion)], duration=max(frames / fps, REFERENCE_SECONDS))
    return render_params(p, frames, size, fps)


def render_clips(combos, *, frames: int = 16, size: int = 64, fps: float = 8.0, rng) -> np.ndarray:
    """render_clip for each (colour, shape, motion) in `combos`, drawing from one generator (or seed):
    uint8 (N, F, H, W, 3)."""
    rng = np.random.default_rng(rng)  # a Generator passes through unchanged
    return np.stack([render_clip(*c, frames=frames, size=size, fps=fps, rng=rng) for c in combos])


def indexed_params(seed: int, index: int, *, combos: list[tuple[str, str, str]] | None = None,
                   num_templates: int = len(TRAIN_TEMPLATES), frames: int = 16,
                   fps: float = 8.0) -> tuple[ClipParams, int]:
    """Clip `index` of a data set: a pure function of (seed, index), shared by the in-memory and on-disk sets.

    Combos are balanced (cascade.data.world.indexed_combo). Returns the clip's parameters and which caption
    template it uses.
    """
    from cascade.data.world import indexed_combo

    combo, rng = indexed_combo(seed, index, TRAIN_COMBOS if combos is None else list(combos))
    p = sample_params(rng, [combo], duration=max(frames / fps, REFERENCE_SECONDS))
    return p, int(rng.integers(num_templates))


def indexed_shape_word(seed: int, index: int, shape: str, *, varied: bool = True) -> str:
    """The name clip `index` of a data set gives its shape: a pure function of (seed, index), drawn from its own
    stream so that scenes and templates do not depend on it. The canonical word half the time (always when
    not `varied`), else one of the other SHAPE_WORDS."""
    words = SHAPE_WORDS[shape]
    rng = np.random.default_rng([seed, index, 2])
    if not varied or rng.random() < 0.5:
        return words[0]
    return words[1 + int(rng.integers(len(words) - 1))]
