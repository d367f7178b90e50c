"""The photos world behind the framework's interfaces: a training data kind, an eval suite, a CLI command."""

import json

import numpy as np
import torch
from typer.testing import CliRunner

from cascade.cli import app
from cascade.eval.suites import get_suite, suite_for_data
from cascade.types import VideoSpec

SUITE = get_suite("photos")


def test_suite_cases_cover_every_combo_in_seen_and_unseen_wordings_and_parse_back():
    from cascade.data.photos import ALL_COMBOS, HELD_OUT, HELD_OUT_SUBJECT_WORDS

    cases = SUITE.cases(seeds=2)
    # seen twice, unseen and unseen_sentence once each; the 48 pans once more per unseen-wording group
    assert len(cases) == 2 * len(ALL_COMBOS) + 2 * len(ALL_COMBOS) + 2 * 48
    groups = SUITE.groups(cases)
    from cascade.data.photos import PAN_WAY

    held_pans = sum(c[1] in PAN_WAY for c in HELD_OUT)
    assert len(groups["held_out"]) == 4 * len(HELD_OUT) + 2 * held_pans
    assert len(groups["unseen_template"]) == len(ALL_COMBOS)
    assert len(groups["unseen_direction_phrase"]) == len(groups["unseen_motion_verb"]) == 48
    unseen_names = {w for ws in HELD_OUT_SUBJECT_WORDS.values() for w in ws}
    assert all(c["subject_word"] in unseen_names for c in cases if c["template"] == "unseen")
    from cascade.eval.suites.photos import parse_prompt

    for c in cases:  # the file-prompt parser reads every suite prompt in the world's own words as its target
        if c["template"].startswith("unseen_") and c["template"] != "unseen_sentence":
            continue
        got = parse_prompt(c["prompt"])
        assert got is not None and (got["subject"], got["motion"]) == tuple(c["target"]), c["prompt"]
    assert parse_prompt("a red circle moving left") is None


def test_real_clips_read_back_as_their_targets_and_frechet_floor_is_small():
    spec = VideoSpec(frames=16, height=64, width=64, fps=8.0)
    videos, captions = SUITE.real_clips(spec, 14, seed=3)  # the 14 held-out combinations
    assert videos.shape == (14, 3, 16, 64, 64) and -1 <= videos.min() and videos.max() <= 1
    frames = ((videos.movedim(1, -1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    results = [SUITE.analyze(f) for f in frames]
    from cascade.data.photos import HELD_OUT

    assert SUITE.score(results, HELD_OUT)["all"] == 1.0
    real = SUITE.real_clips(spec, 24, seed=5)[0]
    noise = torch.rand_like(real) * 2 - 1
    fd = SUITE.frechet(real, spec)
    assert fd["real_vs_real_range"][0] <= fd["real_vs_real"] <= fd["real_vs_real_range"][1]
    assert SUITE.frechet(noise, spec)["generated_vs_real"] > 3 * fd["real_vs_real_range"][1]


def test_photos_is_a_training_data_kind_with_its_suite_for_previews():
    from cascade.training.data import DataConfig, build_dataset

    ds = build_dataset(DataConfig(kind="photos", num_clips=6), VideoSpec(frames=8, height=32, width=32, fps=4.0),
                       needs_text=True)
    item = ds[0]
    assert item["video"].shape == (3, 8, 32, 32) and item["caption"]
    assert suite_for_data("photos") is SUITE and suite_for_data("folder") is None


def test_data_photos_command_writes_clips_captions_and_sources(tmp_path):
    from cascade.video_io import read_video

    r = CliRunner().invoke(app, ["data", "photos", "--out", str(tmp_path / "d"), "--clips", "3", "--frames", "8",
                                 "--size", "32", "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (tmp_path / "d" / "captions.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(r["subject"] and r["motion"] for r in rows)
    frames, fps = read_video(tmp_path / "d" / rows[0]["file"])
    assert frames.shape == (8, 32, 32, 3) and fps == 8.0
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert "licence" in json.dumps(meta)
    assert np.asarray(frames).std() > 5  # a photograph, not a flat frame
