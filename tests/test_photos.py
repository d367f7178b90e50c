"""Photos world (camera moves over real photographs) and its classical probe."""

import json
from collections import Counter

import numpy as np
import pytest
from skimage.registration import phase_cross_correlation

from cascade.data.photos import (ALL_COMBOS, HELD_OUT, HELD_OUT_SUBJECT_WORDS, HELD_OUT_TEMPLATES, MOTIONS,
                                 SUBJECT_WORDS, SUBJECTS, TRAIN_COMBOS, TRAIN_TEMPLATES, caption, indexed_params,
                                 load_photo, long_clip_windows, render_clip, render_long_clip, usable_box)
from cascade.data.photos_dataset import PhotosDataset
from cascade.data.photos_writer import write_photos_dataset
from cascade.errors import CascadeError
from cascade.eval.suites.photos.probe import analyze_clip, score
from cascade.video_io import read_video

PROBE_SETTINGS = [(32, 8, 4.0), (64, 16, 8.0), (128, 8, 4.0)]  # (size, frames, fps) the suite trains at


def _luma(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


# -- vocabulary, captions and sources ------------------------------------------------------------
def test_combos_and_held_out_split():
    assert len(SUBJECTS) == 12 and len(MOTIONS) == 7
    assert len(ALL_COMBOS) == 84 == len(set(ALL_COMBOS))
    assert len(HELD_OUT) == 14 == len(set(HELD_OUT)) and set(HELD_OUT) <= set(ALL_COMBOS)
    assert len(TRAIN_COMBOS) == 70 and not set(TRAIN_COMBOS) & set(HELD_OUT)
    for i, values in enumerate((SUBJECTS, MOTIONS)):
        assert {c[i] for c in HELD_OUT} == set(values)  # every subject and motion is held out somewhere...
        assert {c[i] for c in TRAIN_COMBOS} == set(values)  # ...and still trained on elsewhere


def test_captions_read_well_and_held_out_wordings_never_reach_training():
    assert caption("cat", "pan_left", "the camera {verb} {subject}") == "the camera pans left across a ginger cat"
    assert caption("coffee", "zoom_in", "{gerund} {subject}") == "zooming in on a cup of coffee"
    assert caption("rocket", "still", "{subject}, {shot}") == "a rocket on the launch pad, still shot"
    assert len(TRAIN_TEMPLATES) >= 8 and len(HELD_OUT_TEMPLATES) >= 4
    train_words = {w for t in TRAIN_TEMPLATES for w in t.split()}
    for t in HELD_OUT_TEMPLATES:
        assert t not in TRAIN_TEMPLATES and set(t.split()) - train_words  # new wording, not a reshuffle
    train_captions = {caption(s, m, t, w) for s, m in TRAIN_COMBOS for t in TRAIN_TEMPLATES for w in SUBJECT_WORDS[s]}
    for subject, held in HELD_OUT_SUBJECT_WORDS.items():
        assert len(SUBJECT_WORDS[subject]) >= 4 and len(held) >= 2 and not set(held) & set(SUBJECT_WORDS[subject])
        for word in held:
            assert not [c for c in train_captions if word in c], word
    for s, m in ALL_COMBOS:  # every wording fills in
        for t in TRAIN_TEMPLATES + HELD_OUT_TEMPLATES:
            assert "{" not in caption(s, m, t, HELD_OUT_SUBJECT_WORDS[s][0])
    with pytest.raises(CascadeError, match="unknown photo subject"):
        caption("dog", "still", TRAIN_TEMPLATES[0])


def test_photos_ship_inside_the_packages_with_a_licence():
    for key, subject in SUBJECTS.items():
        assert subject.path().is_file() and subject.licence and subject.source.startswith(("skimage.", "sklearn."))
        photo = load_photo(key)
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3 and min(photo.shape[:2]) >= 300
        x0, y0, x1, y1 = usable_box(key)
        assert 0 <= x0 < x1 <= photo.shape[1] and 0 <= y0 < y1 <= photo.shape[0]


# -- rendering -----------------------------------------------------------------------------------
def test_dataset_is_deterministic_in_seed_and_index():
    a, b = PhotosDataset(6, frames=4, size=32, fps=4.0, seed=3), PhotosDataset(6, frames=4, size=32, fps=4.0, seed=3)
    for i in (0, 5):
        x, y = a[i], b[i]
        assert x["video"].shape == (3, 4, 32, 32) and -1 <= x["video"].min() and x["video"].max() <= 1
        assert x["caption"] == y["caption"] and x["subject"] == y["subject"] and x["index"] == i
        assert np.array_equal(x["video"].numpy(), y["video"].numpy())
    assert indexed_params(3, 2) == indexed_params(3, 2) != indexed_params(4, 2)
    assert not np.array_equal(a.clip(1), PhotosDataset(6, frames=4, size=32, fps=4.0, seed=4).clip(1))


def test_same_scene_at_every_fps_and_size():
    base = PhotosDataset(len(TRAIN_COMBOS), frames=8, size=32, fps=4.0, seed=1, cache=False)
    sr = PhotosDataset(len(TRAIN_COMBOS), frames=16, size=32, fps=8.0, seed=1, cache=False)
    big = PhotosDataset(len(TRAIN_COMBOS), frames=16, size=64, fps=8.0, seed=1, cache=False)
    for i in range(0, len(TRAIN_COMBOS), 5):
        assert base.params(i) == sr.params(i) == big.params(i)
    for i in (0, 7, 20):
        assert np.array_equal(base.clip(i), sr.clip(i)[::2])  # frame k at 4 fps == frame 2k at 8 fps


def test_held_out_combos_never_appear_in_training():
    ds = PhotosDataset(2 * len(TRAIN_COMBOS), frames=1, size=16, seed=2, cache=False)
    combos = Counter((p.subject, p.motion) for p in (ds.params(i)[0] for i in range(len(ds))))
    assert set(combos) == set(TRAIN_COMBOS) and set(combos.values()) == {2}  # balanced blocks
    held_words = [w for ws in HELD_OUT_SUBJECT_WORDS.values() for w in ws]
    for i in range(0, len(ds), 3):
        text = ds[i]["caption"]
        assert not any(w in text for w in held_words), text


@pytest.mark.parametrize("size,frames", [(16, 3), (48, 5), (256, 2)])
def test_any_size_and_frame_count(size, frames):
    clip = render_clip("flower", "zoom_out", frames=frames, size=size, fps=6.0, rng=0)
    assert clip.shape == (frames, size, size, 3) and clip.dtype == np.uint8 and clip.std() > 10


def test_slow_pan_moves_by_sub_pixel_steps_monotonically():
    step = 0.25  # pixels per frame: speed in window sides per second = step * fps / size
    size, fps = 48, 8.0
    clip = render_clip("coffee", "pan_right", frames=9, size=size, fps=fps, speed=step * fps / size, rng=5)
    luma = [_luma(f) for f in clip]
    whole_pixel = np.abs(luma[0][:, 1:] - luma[0][:, :-1]).mean()  # what a one-pixel jump would change
    for a, b in zip(luma, luma[1:]):
        assert 0 < np.abs(b - a).mean() < 0.5 * whole_pixel
    shifts = np.array([phase_cross_correlation(luma[0], f, upsample_factor=100)[0] for f in luma])  # (F, 2): dy, dx
    assert np.all(np.diff(shifts[:, 1]) > 0) and np.diff(shifts[:, 1]).max() < 2 * step  # steadily right, no jumps
    assert shifts[-1, 1] == pytest.approx(8 * step, abs=0.1) and np.abs(shifts[:, 0]).max() < 0.1


def test_zoom_changes_smoothly_across_mip_levels():
    clip = render_clip("pagoda", "zoom_in", frames=16, size=32, fps=8.0, rng=2)
    diffs = np.array([np.abs(_luma(b) - _luma(a)).mean() for a, b in zip(clip, clip[1:])])
    assert diffs.min() > 0 and diffs.max() < 2.0 * np.median(diffs)  # no pop where the pyramid level changes


def test_long_clip_glides_and_turns_at_the_borders():
    x, y, side = long_clip_windows("galaxies", frames=400, fps=8.0, rng=1)
    x0, y0, x1, y1 = usable_box("galaxies")
    assert (x - side / 2).min() >= x0 - 1e-6 and (x + side / 2).max() <= x1 + 1e-6
    assert (y - side / 2).min() >= y0 - 1e-6 and (y + side / 2).max() <= y1 + 1e-6
    steps = np.hypot(np.diff(x), np.diff(y))
    full = np.isclose(steps, steps.max(), rtol=1e-9)
    assert full.mean() > 0.8 and (steps <= steps.max() * (1 + 1e-9)).all()  # constant speed, shorter at a turn
    assert (np.diff(np.sign(np.diff(x))) != 0).any() or (np.diff(np.sign(np.diff(y))) != 0).any()  # it turns
    clip = render_long_clip("galaxies", frames=64, size=16, fps=8.0, rng=1)
    assert clip.shape == (64, 16, 16, 3)


def test_windows_outside_the_photo_are_refused():
    with pytest.raises(CascadeError, match="leaves the photo"):
        render_clip("cat", "pan_left", frames=4, size=16, start=(10.0, 150.0, 200.0))
    with pytest.raises(CascadeError, match="unknown camera motion"):
        render_clip("cat", "dolly_zoom", frames=4, size=16)


# -- writer --------------------------------------------------------------------------------------
def test_writer_output_reads_back(tmp_path):
    out = tmp_path / "photos"
    summary = write_photos_dataset(out, 3, frames=6, size=32, fps=4.0, seed=2, progress=False)
    assert summary["clips"] == 3 and sorted(p.name for p in out.iterdir()) == [
        "captions.jsonl", "clips", "held_out.json", "meta.json"]
    records = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    ds = PhotosDataset(3, frames=6, size=32, fps=4.0, seed=2)
    for i, r in enumerate(records):
        assert set(r) == {"file", "caption", "captions", "subject", "motion"}
        assert r["caption"] in r["captions"] and len(r["captions"]) == len(TRAIN_TEMPLATES)
        assert (r["subject"], r["motion"]) in TRAIN_COMBOS and r["caption"] == ds[i]["caption"]
        frames, fps = read_video(out / r["file"])
        assert frames.shape == (6, 32, 32, 3) and fps == pytest.approx(4.0)
        assert np.abs(frames.astype(float) - ds.clip(i)).mean() < 6  # H.264 at crf 18
    meta = json.loads((out / "meta.json").read_text())
    assert set(meta["sources"]["photos"]) == set(SUBJECTS)
    assert all(p["licence"] and p["source"] for p in meta["sources"]["photos"].values())
    held = json.loads((out / "held_out.json").read_text())
    assert len(held["combinations"]) == len(HELD_OUT) and held["templates"] == HELD_OUT_TEMPLATES


# -- probe ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,frames,fps", PROBE_SETTINGS)
def test_probe_reads_every_combo_of_ground_truth_clips(size, frames, fps):
    results, targets = [], []
    for k, (subject, motion) in enumerate(ALL_COMBOS):
        results.append(analyze_clip(render_clip(subject, motion, frames=frames, size=size, fps=fps, rng=[size, k])))
        targets.append((subject, motion))
    s = score(results, targets)
    assert s["n"] == len(ALL_COMBOS) and s["subject"] >= 0.99 and s["motion"] >= 0.99, s


def test_score_counts_each_attribute():
    results = [{"subject": "cat", "motion": "still"}, {"subject": "cat", "motion": "zoom_in"}]
    s = score(results, [("cat", "still"), {"subject": "coins", "motion": "zoom_in"}])
    assert s == {"subject": 0.5, "motion": 1.0, "all": 0.5, "n": 2}
    assert score([], [])["n"] == 0
