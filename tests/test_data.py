"""Procedural shapes data (in memory and on disk), captioned video and image folders, collate."""

import csv
import json
import logging
from itertools import combinations

import numpy as np
import pytest
import torch

from cascade.data import collate
from cascade.data.image_folder import ImageTextDataset
from cascade.data.shapes import (ALL_COMBOS, COLOURS, HELD_OUT, HELD_OUT_SHAPE_WORDS, HELD_OUT_TEMPLATES, MOTIONS,
                                 SHAPE_WORDS, SHAPES, TRAIN_COMBOS, TRAIN_TEMPLATES, caption, indexed_params,
                                 indexed_shape_word, render_clip, render_params, sample_params)
from cascade.data.shapes_dataset import ShapesDataset
from cascade.data.shapes_writer import write_shapes_dataset
from cascade.data.video_folder import VideoTextDataset, source_index
from cascade.errors import CascadeError
from cascade.eval.suites.shapes.probe import analyze_clip
from cascade.eval.suites.shapes.prompts import parse_prompt

ATTRS = ("colour", "shape", "motion")


# -- vocabulary and captions -----------------------------------------------------------------------
def test_combos_and_held_out_split():
    assert len(ALL_COMBOS) == 72 == len(set(ALL_COMBOS))
    assert len(HELD_OUT) == 12 == len(set(HELD_OUT)) and set(HELD_OUT) <= set(ALL_COMBOS)
    assert len(TRAIN_COMBOS) == 60 and not set(TRAIN_COMBOS) & set(HELD_OUT)
    for i, values in enumerate((COLOURS, SHAPES, MOTIONS)):
        assert {c[i] for c in HELD_OUT} == set(values)  # every value is held out somewhere...
        assert {c[i] for c in TRAIN_COMBOS} == set(values)  # ...and still trained on elsewhere
    for a, b in combinations(range(3), 2):  # every pair of a held-out combo is seen in training
        train_pairs = {(c[a], c[b]) for c in TRAIN_COMBOS}
        assert all((c[a], c[b]) in train_pairs for c in HELD_OUT)


def test_captions_read_well_and_parse_back():
    assert caption("red", "circle", "up", "a {colour} {shape} moves {direction}") == "a red circle moves upward"
    assert caption("red", "circle", "left", "a {colour} {shape} moves {direction}") == "a red circle moves to the left"
    assert len(TRAIN_TEMPLATES) >= 8 and len(HELD_OUT_TEMPLATES) >= 4
    train_words = {w for t in TRAIN_TEMPLATES for w in t.split()}
    for t in HELD_OUT_TEMPLATES:
        assert t not in TRAIN_TEMPLATES and set(t.split()) - train_words  # new wording, not a reshuffle
    for combo in ALL_COMBOS:
        for t in TRAIN_TEMPLATES + HELD_OUT_TEMPLATES:
            text = caption(*combo, t)
            assert "to the up" not in text and "to the down" not in text
            assert parse_prompt(text) == dict(zip(ATTRS, combo)), text


def test_training_shape_names_parse_back_and_never_use_a_held_out_name():
    held_words = {w for ws in HELD_OUT_SHAPE_WORDS.values() for w in ws}
    assert set(SHAPE_WORDS) == set(SHAPES) == set(HELD_OUT_SHAPE_WORDS)
    for shape, words in SHAPE_WORDS.items():
        assert words[0] == shape and len(words) == len(set(words)) >= 4
        combos = [c for c in TRAIN_COMBOS[::7] if c[1] == shape]
        for word, template, combo in ((w, t, c) for w in words for t in TRAIN_TEMPLATES for c in combos):
            text = caption(*combo, template, word)
            assert not held_words & set(text.replace(",", " ").split()), text  # held-out names stay unseen
            assert parse_prompt(text) == dict(zip(ATTRS, combo)), text
    for combo in ALL_COMBOS:  # every held-out wording names the shape by a held-out synonym, never the canonical word
        for t in HELD_OUT_TEMPLATES:
            text = caption(*combo, t)
            assert combo[1] not in text and any(w in text for w in HELD_OUT_SHAPE_WORDS[combo[1]])


def test_indexed_shape_word_is_a_pure_function_canonical_half_the_time():
    words = [indexed_shape_word(5, i, "triangle") for i in range(2000)]
    assert words == [indexed_shape_word(5, i, "triangle") for i in range(2000)]
    assert words != [indexed_shape_word(6, i, "triangle") for i in range(2000)]
    assert set(words) == set(SHAPE_WORDS["triangle"])  # every name is used...
    assert 0.45 < words.count("triangle") / len(words) < 0.55  # ...the canonical one half the time
    assert {indexed_shape_word(5, i, "circle", varied=False) for i in range(200)} == {"circle"}


# -- rendering ---------------------------------------------------------------------------------------
def test_render_is_deterministic_exact_and_inside_the_frame():
    a = render_clip("magenta", "square", "right", frames=8, size=32, fps=4.0, rng=np.random.default_rng(11))
    b = render_clip("magenta", "square", "right", frames=8, size=32, fps=4.0, rng=np.random.default_rng(11))
    c = render_clip("magenta", "square", "right", frames=8, size=32, fps=4.0, rng=np.random.default_rng(12))
    assert a.shape == (8, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    rng = np.random.default_rng(0)
    for combo in ALL_COMBOS:
        p = sample_params(rng, [combo])
        assert 0.28 <= p.size_frac <= 0.40 and 0.40 <= 2 * p.speed <= 0.50  # 40-50% of the frame over 2 s
        assert all(abs(v - ref) <= 3 for v, ref in zip(p.bg, (16, 16, 20)))
        t = np.arange(16) / 8.0
        cx, cy = p.centre(t)
        half = p.size_frac / 2
        assert (cx - half >= -1e-6).all() and (cx + half <= 1 + 1e-6).all()
        assert (cy - half >= -1e-6).all() and (cy + half <= 1 + 1e-6).all()
        clip = render_params(p, 16, 64, 8.0)
        x, y = int(cx[0] * 64), int(cy[0] * 64 + 0.1 * p.size_frac * 64)  # inside every shape
        assert tuple(clip[0, y, x]) == COLOURS[combo[0]]  # exact colour inside
        fg = np.abs(clip.astype(int) - np.array(p.bg)).sum(-1) > 30  # (F, H, W)
        alpha_ratio = fg.mean() / p.size_frac ** 2
        expected = {"circle": np.pi / 4, "square": 1.0, "triangle": 0.5}[combo[1]]
        assert abs(alpha_ratio - expected) < 0.12, (combo, alpha_ratio)


def test_render_is_antialiased():
    clip = render_clip("yellow", "circle", "down", frames=2, size=32, fps=8.0, rng=np.random.default_rng(2))
    levels = np.unique(clip[..., 0])
    assert len(levels) > 4  # edge pixels take intermediate values, not just background and colour


def test_same_path_at_4fps_and_8fps():
    lo = ShapesDataset(5, frames=8, size=32, fps=4.0, seed=9)
    hi = ShapesDataset(5, frames=16, size=64, fps=8.0, seed=9)
    for i in range(5):
        assert lo.params(i) == hi.params(i)  # same scene and caption at any rate and size
        a, b = lo.clip(i), hi.clip(i)
        for k in (0, 7):  # frame k at 4 fps and frame 2k at 8 fps show the same time
            ca, cb = _centroid(a[k], lo.params(i)[0].bg), _centroid(b[2 * k], hi.params(i)[0].bg)
            assert np.allclose(ca / 32, cb / 64, atol=0.01), (i, k, ca / 32, cb / 64)
        total = np.abs(_centroid(a[7], lo.params(i)[0].bg) - _centroid(a[0], lo.params(i)[0].bg)).max() / 32
        assert 0.40 * 7 / 8 - 0.02 <= total <= 0.50 * 7 / 8 + 0.02  # 1.75 s at 0.20-0.25 frame sides/s


def _centroid(frame: np.ndarray, bg) -> np.ndarray:
    w = np.abs(frame.astype(float) - np.array(bg)).sum(-1)  # (H, W)
    ys, xs = np.mgrid[: frame.shape[0], : frame.shape[1]] + 0.5
    return np.array([(w * xs).sum(), (w * ys).sum()]) / w.sum()


# -- ShapesDataset -------------------------------------------------------------------------------------
def test_shapes_dataset_items_deterministic_and_held_out_excluded():
    ds = ShapesDataset(120, frames=8, size=16, fps=4.0, seed=3)
    again = ShapesDataset(120, frames=8, size=16, fps=4.0, seed=3, cache=False)
    other = ShapesDataset(120, frames=8, size=16, fps=4.0, seed=4)
    item = ds[7]
    assert item["video"].shape == (3, 8, 16, 16) and item["video"].dtype == torch.float32
    assert -1.0 <= float(item["video"].min()) < -0.8 and float(item["video"].max()) <= 1.0
    assert torch.equal(item["video"], again[7]["video"]) and item["caption"] == again[7]["caption"]
    assert item["index"] == 7 and not torch.equal(item["video"], other[7]["video"])
    combos = [(ds[i]["colour"], ds[i]["shape"], ds[i]["motion"]) for i in range(120)]
    assert not set(combos) & set(HELD_OUT)
    assert len(set(combos[:60])) == 60  # balanced: every training combo once per 60 clips
    captions = {ds[i]["caption"] for i in range(120)}
    for i in range(0, 120, 7):
        assert parse_prompt(ds[i]["caption"]) == {k: ds[i][k] for k in ATTRS}
    assert len({c.split(" ")[0] for c in captions}) > 2  # several templates in use
    r = analyze_clip(ds.clip(7))
    assert (r["colour"], r["shape"], r["motion"]) == (item["colour"], item["shape"], item["motion"])
    with pytest.raises(IndexError):
        ds[120]
    assert torch.equal(ds[-1]["video"], ds[119]["video"])


def test_shapes_dataset_custom_combos_and_templates():
    ds = ShapesDataset(6, frames=4, size=16, fps=4.0, combos=HELD_OUT[:2], templates=HELD_OUT_TEMPLATES[:1])
    assert {(ds[i]["colour"], ds[i]["shape"], ds[i]["motion"]) for i in range(6)} == set(HELD_OUT[:2])
    assert all("sliding" in ds[i]["caption"] for i in range(6))
    assert ds.params(0) == indexed_params(0, 0, combos=HELD_OUT[:2], num_templates=1, frames=4, fps=4.0)


def test_shapes_dataset_shape_words_varied_or_canonical():
    varied = ShapesDataset(200, frames=4, size=16, fps=4.0, seed=1)
    canonical = ShapesDataset(200, frames=4, size=16, fps=4.0, seed=1, varied_words=False)
    names = {w for ws in SHAPE_WORDS.values() for w in ws[1:]}
    assert sum(any(n in varied[i]["caption"] for n in names) for i in range(200)) > 60
    for i in range(200):
        a, b = varied[i], canonical[i]
        assert torch.equal(a["video"], b["video"]) and a["shape"] == b["shape"]  # only the name differs
        assert a["shape"] in b["caption"] and parse_prompt(a["caption"]) == {k: a[k] for k in ATTRS}


# -- write_shapes_dataset ------------------------------------------------------------------------------
def test_write_shapes_dataset(tmp_path):
    from cascade.video_io import read_video

    out = tmp_path / "shapes"
    summary = write_shapes_dataset(out, 6, frames=16, size=64, fps=8.0, seed=2, progress=False)
    assert summary["clips"] == 6 and sorted(p.name for p in tmp_path.iterdir()) == ["shapes"]  # no temp left
    rows = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert [r["file"] for r in rows] == [f"clips/{i:06d}.mp4" for i in range(6)]
    ds = ShapesDataset(6, frames=16, size=64, fps=8.0, seed=2)
    for i, r in enumerate(rows):
        assert r["caption"] == ds[i]["caption"] and len(r["captions"]) == len(TRAIN_TEMPLATES)
        assert (r["colour"], r["shape"], r["motion"]) not in HELD_OUT
        frames, fps = read_video(out / r["file"])
        assert frames.shape == (16, 64, 64, 3) and fps == pytest.approx(8.0)
        assert np.abs(frames.astype(float) - ds.clip(i)).mean() < 6  # lossy, but the same clip
        got = analyze_clip(frames)
        assert (got["colour"], got["shape"], got["motion"]) == (r["colour"], r["shape"], r["motion"])
    held = json.loads((out / "held_out.json").read_text())
    assert [tuple(c[k] for k in ATTRS) for c in held["combinations"]] == HELD_OUT
    assert held["templates"] == HELD_OUT_TEMPLATES
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["frames"], meta["size"], meta["fps"], meta["seed"]) == (16, 64, 8.0, 2)
    with pytest.raises(CascadeError, match="size must be even .* got 9"):  # wrote 10x10 clips, meta said 9
        write_shapes_dataset(tmp_path / "odd", 1, size=9, progress=False)
    assert not (tmp_path / "odd").exists()


# -- VideoTextDataset ----------------------------------------------------------------------------------
def _ramp_video(path, n: int, fps: float, h: int = 48, w: int = 64):
    """Frame k is flat grey 10 + 7k: after time resampling, the grey level tells which frame was picked."""
    from cascade.video_io import write_video

    frames = np.stack([np.full((h, w, 3), 10 + 7 * k, np.uint8) for k in range(n)])
    frames[:, :, : w // 8] = 0  # dark bars left and right: removed by the centre crop
    frames[:, :, -w // 8:] = 0
    return write_video(path, frames, fps=fps)


@pytest.fixture
def video_folder(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    _ramp_video(root / "a.mp4", 16, 8.0)
    _ramp_video(root / "b.mp4", 32, 16.0)  # 16 fps: needs every 4th frame for 4 fps
    _ramp_video(root / "c.gif", 20, 10.0)  # 10 fps gif: frames 0, 2 (2.5 -> even), 5, 8, 10, 12, 15, 18
    _ramp_video(root / "short.mp4", 4, 8.0)  # too short for 8 frames at 4 fps
    (root / "empty.mp4").write_bytes(b"")
    (root / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
    return root


def test_video_folder_skips_bad_files(video_folder, caplog):
    names = ("a.mp4", "b.mp4", "c.gif", "short.mp4", "empty.mp4", "corrupt.mp4")
    rows = [{"file": f, "caption": f"clip {f}"} for f in names]
    rows.append({"video": "gone.mp4", "text": "missing file"})
    (video_folder / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level(logging.WARNING, logger="cascade"):
        ds = VideoTextDataset(video_folder, frames=8, size=32, fps=4.0)
    assert len(ds) == 3
    assert {k: len(v) for k, v in ds.skipped.items()} == {"corrupt": 1, "empty": 1, "too short": 1, "missing": 1}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 4 of 7 videos" in warnings[0] and "< 8 frames at 4 fps" in warnings[0]
    named = {r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG}
    assert not named  # which files: only with -v
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="cascade"):
        VideoTextDataset(video_folder, frames=8, size=32, fps=4.0)
    named = {r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG}
    assert f"skipped {video_folder / 'corrupt.mp4'} (corrupt)" in named and "skipped gone.mp4 (missing)" in named
    picks = {"a.mp4": [2 * j for j in range(8)], "b.mp4": [4 * j for j in range(8)],  # 8 and 16 fps -> 4 fps
             "c.gif": [0, 2, 5, 8, 10, 12, 15, 18]}
    for i in range(3):
        item = ds[i]
        name = item["caption"].removeprefix("clip ")
        assert item["video"].shape == (3, 8, 32, 32) and item["file"].endswith(name)
        grey = (item["video"].mean(dim=(0, 2, 3)) + 1) * 127.5  # (F,) mean level per frame
        expected = torch.tensor([10 + 7 * k for k in picks[name]], dtype=torch.float32)
        assert torch.allclose(grey, expected, atol=4), (grey, expected)  # bars cropped away, right frames
    batch = collate([ds[0], ds[1]])
    assert batch["video"].shape == (2, 3, 8, 32, 32) and batch["caption"] == [ds[0]["caption"], ds[1]["caption"]]


def test_webvid_csv_and_captionless(video_folder):
    with open(video_folder / "results_2M_val.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["videoid", "name", "page_dir", "duration"])
        w.writerow(["a", "a grey fade", "000", "2"])
        w.writerow(["b", "a faster fade", "000", "1"])
        w.writerow(["corrupt", "broken", "000", "1"])
    ds = VideoTextDataset(video_folder, frames=4, size=16, fps=4.0)
    assert sorted(ds[i]["caption"] for i in range(len(ds))) == ["a faster fade", "a grey fade"]
    assert ds.skipped["corrupt"] and ds[0]["video"].shape == (3, 4, 16, 16)
    ds = VideoTextDataset(video_folder, frames=4, size=16, fps=4.0, captions="results_2M_val.csv")  # beside them
    assert len(ds) == 2
    (video_folder / "results_2M_val.csv").unlink()
    with pytest.raises(CascadeError, match="no captions .*data.captions in a training config"):
        VideoTextDataset(video_folder, frames=4, size=16, fps=4.0)
    free = VideoTextDataset(video_folder, frames=4, size=16, fps=4.0, require_captions=False)
    assert len(free) == 3 and {free[i]["caption"] for i in range(3)} == {""}  # a, b, c; short still too short
    assert free.skipped["too short"] == [str(video_folder / "short.mp4")]


def test_video_folder_errors(tmp_path):
    with pytest.raises(CascadeError, match="does not exist"):
        VideoTextDataset(tmp_path / "nope", frames=8, size=32, fps=4.0)
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    (tmp_path / "captions.jsonl").write_text(json.dumps({"file": "bad.mp4", "caption": "x"}) + "\n")
    with pytest.raises(CascadeError, match=r"no usable video .*1 corrupt\); each needs .* and must decode"):
        VideoTextDataset(tmp_path, frames=8, size=32, fps=4.0)


def test_source_index_picks_nearest_timestamp():
    assert source_index(4, 4.0, 8.0).tolist() == [0, 2, 4, 6]
    assert source_index(4, 8.0, 4.0).tolist() == [0, 0, 1, 2]  # np.rint: half to even; upsampling repeats
    assert source_index(3, 10.0, 25.0).tolist() == [0, 2, 5]


# -- ImageTextDataset -------------------------------------------------------------------------------
def test_image_folder(tmp_path, caplog):
    from PIL import Image

    root = tmp_path / "images"
    root.mkdir()
    Image.fromarray(np.full((40, 60, 3), (200, 20, 20), np.uint8)).save(root / "red.png")
    Image.fromarray(np.full((50, 30, 3), (20, 20, 200), np.uint8)).save(root / "blue.jpg", quality=95)
    (root / "empty.png").write_bytes(b"")
    (root / "broken.webp").write_bytes(b"RIFF....WEBPjunk")
    rows = [{"image": n, "caption": n.split(".")[0]} for n in ("red.png", "blue.jpg", "empty.png", "broken.webp")]
    (root / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level(logging.WARNING, logger="cascade"):
        ds = ImageTextDataset(root, size=24)
    assert len(ds) == 2 and {k: len(v) for k, v in ds.skipped.items()} == {"corrupt": 1, "empty": 1}
    assert any("skipped 2 of 4 images" in r.getMessage() for r in caplog.records)
    by_caption = {ds[i]["caption"]: ds[i]["video"] for i in range(2)}
    red = by_caption["red"]
    assert red.shape == (3, 1, 24, 24)
    assert torch.allclose(red[:, 0].mean(dim=(1, 2)), torch.tensor([200, 20, 20]) / 127.5 - 1, atol=0.03)
    assert float(by_caption["blue"][2].mean()) > 0.4 > float(by_caption["blue"][0].mean())
    batch = collate([ds[0], ds[1]])
    assert batch["video"].shape == (2, 3, 1, 24, 24) and batch["index"].tolist() == [0, 1]


def test_data_config_shape_words_reach_the_dataset():
    from cascade.training.data import DataConfig, build_dataset
    from cascade.types import VideoSpec

    spec = VideoSpec(frames=4, height=16, width=16, fps=4.0)
    canonical = build_dataset(DataConfig(num_clips=40, shape_words="canonical"), spec, needs_text=True)
    varied = build_dataset(DataConfig(num_clips=40), spec, needs_text=True)  # the default
    assert all(canonical[i]["shape"] in canonical[i]["caption"] for i in range(40))
    assert any(varied[i]["shape"] not in varied[i]["caption"] for i in range(40))
    with pytest.raises(ValueError):
        DataConfig(shape_words="synonyms")
