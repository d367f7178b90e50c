"""`cascade eval`: report contents on a tiny cascade, the Fréchet distance, the feature network, the browser check."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cascade.eval.metrics import frechet_distance
from cascade.eval.suites.shapes.features import ASSET
from cascade.eval.run import contact_sheet
from cascade.eval.suites import get_suite

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    from test_stages import tiny_cascade

    from cascade.eval.run import evaluate

    d = tmp_path_factory.mktemp("eval")
    weights = tiny_cascade(d)
    report = evaluate(weights, out_dir=d / "report", seeds=1, max_prompts=8, progress=False, shown=3, stage_clips=6)
    return d / "report", report


def test_shapes_suite_covers_every_combo_seen_and_unseen_wordings():
    from cascade.data.shapes import ALL_COMBOS, HELD_OUT, TRAIN_TEMPLATES

    cases = get_suite("shapes").cases(seeds=2)
    # 72 combinations x (2 seen + unseen + unseen_sentence), plus the unseen-wording groups: colour words and all
    # three at once for the 48 combinations whose colour has held-out words, direction and verb for all 72
    assert len(cases) == 72 * 4 + 48 + 72 + 72 + 48
    seen = [c for c in cases if c["template"] == "seen"]
    unseen = [c for c in cases if c["template"] == "unseen"]
    assert {c["target"] for c in seen} == set(ALL_COMBOS) == {c["target"] for c in unseen}
    assert sum(c["split"] == "held_out" for c in seen) == 2 * len(HELD_OUT)
    train_wordings = {t.split("{")[0] for t in TRAIN_TEMPLATES}
    for c in unseen:  # every unseen wording differs from each training template
        assert c["prompt"] not in {t.format(colour=c["target"][0], shape=c["target"][1], motion=c["target"][2],
                                            direction="", adverb="") for t in TRAIN_TEMPLATES}
    assert train_wordings
    words = [c["shape_word"] for c in unseen]  # each held-out shape name is scored on its own, 12 cases each
    assert {w: words.count(w) for w in words} == {w: 12 for w in ("ball", "box", "wedge", "disc", "block", "pyramid")}
    assert all(c["shape_word"] in c["prompt"] for c in unseen)
    sentence = [c for c in cases if c["template"] == "unseen_sentence"]  # the same new sentences, shapes' own names
    assert [c["target"] for c in sentence] == [c["target"] for c in unseen]
    for a, b in zip(unseen, sentence):
        assert b["prompt"] == a["prompt"].replace(a["shape_word"], a["target"][1]) and b["prompt"] != a["prompt"]
    assert "a blue square sliding to the right" in {c["prompt"] for c in sentence}


def test_report_json_html_videos_and_sheets(tiny_report):
    from cascade.video_io import probe_video

    out, report = tiny_report
    saved = json.loads((out / "report.json").read_text())
    assert saved["cases"] == 8 == len(saved["cases_detail"])
    for key in ("fidelity", "fidelity_base_only", "temporal", "fsd", "per_stage"):
        assert key in saved
    assert {"overall", "trained", "seen_template", "unseen_template"} <= set(saved["fidelity"])
    assert 0.0 <= saved["fidelity"]["overall"]["colour"] <= 1.0
    t = saved["temporal"]  # generated and real clips measured alike; real shapes backgrounds are flat
    assert set(t["generated"]) == set(t["real"]) == {"temporal_change", "flicker", "background_noise"}
    assert t["real"]["background_noise"] < 0.5
    fsd = saved["fsd"]  # the floor is one of the chance draws, and chance does move it
    lo, hi = fsd["real_vs_real_range"]
    assert lo <= fsd["real_vs_real"] <= hi and lo < hi and fsd["real_vs_real_std"] > 0
    ps = saved["per_stage"]
    # the baselines are computed on real clips: blend and bicubic are close to the truth, never perfect
    rows = ps["stages"]
    assert 20 < rows["temporal_sr"]["baseline_psnr"] < 99 and 15 < rows["spatial_sr"]["baseline_psnr"] < 99
    page = (out / "index.html").read_text()
    assert page.count("<video") == 3 * 3  # three shown prompts x three video stages
    for item in saved["shown"]:
        for src in item["videos"].values():
            info = probe_video(out / src)
            assert info["codec"] == "h264" and info["frames"] > 0
        assert (out / item["sheet"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fidelity_is_computed_from_the_probe_not_assumed(tiny_report):
    """An untrained tiny cascade draws noise: it must not score like a real one."""
    _, report = tiny_report
    assert report["fidelity"]["overall"]["all"] < 0.5


def test_contact_sheet_layout(tmp_path):
    from PIL import Image

    frames = {"a": np.zeros((4, 8, 8, 3), np.uint8), "b": np.full((8, 16, 16, 3), 200, np.uint8)}
    path = contact_sheet(frames, tmp_path / "s.png", cell=32)
    img = Image.open(path)
    assert img.size[1] == 2 * (32 + 4) + 18  # one row per stage
    assert np.asarray(img)[18 + 36 + 10, 110 + 10].tolist() == [200, 200, 200]  # row b, first frame


def test_temporal_and_grain_metrics_separate_clean_from_noisy_clips():
    from cascade.data.shapes import render_clips
    from cascade.data.shapes_dataset import frames_to_tensor
    from cascade.eval.metrics import background_noise, flicker, temporal_change

    real = frames_to_tensor(render_clips([("red", "circle", "left"), ("blue", "square", "up")], frames=8, size=32,
                                         fps=4.0, rng=0))  # (2, 3, 8, 32, 32)
    assert background_noise(real) < 0.5 and flicker(real) < 1e-3
    grain = (real + torch.randn(real.shape, generator=torch.Generator().manual_seed(0)) * 8 / 127.5).clamp(-1, 1)
    assert 5 < background_noise(grain) < 8  # E|N(0, 8)| = 6.4 on the 0-255 scale
    flash = real.clone()
    flash[:, :, ::2] += 0.2  # every other frame brighter: global flashing, not motion
    assert flicker(flash) > 50 * max(flicker(real), 1e-5) and temporal_change(flash) > temporal_change(real)


def test_frechet_distance_properties():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 4))
    b = rng.normal(size=(2000, 4))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, b) < 0.05
    assert frechet_distance(a, b + 1.0) == pytest.approx(4.0, rel=0.1)  # |mu diff|^2 = 4
    assert frechet_distance(a, 2 * b) == pytest.approx(4 * (2 - 1) ** 2, rel=0.15)  # Tr(C1+C2-2sqrt) = 4*(1)^2


def test_one_clip_evaluation_skips_the_frechet_distance(tmp_path):
    """`cascade eval --max-prompts 1 --seeds 1`: one clip has no covariance, so the distance is skipped, not a LinAlgError."""
    from test_stages import tiny_cascade

    from cascade.eval.run import evaluate

    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    report = evaluate(tiny_cascade(tmp_path), out_dir=tmp_path / "report", seeds=1, max_prompts=1, progress=False,
                      shown=1, stage_clips=2)
    assert "needs at least 2 clips" in report["fsd"]["skipped"]
    assert "needs at least 2 clips" in (tmp_path / "report" / "index.html").read_text()


def test_prompts_file_skips_comments_and_repeats_and_says_what_was_scored(tmp_path):
    from typer.testing import CliRunner
    from test_stages import tiny_cascade

    from cascade.cli import app

    (tmp_path / "p.txt").write_text("a red circle moving left\n\n  # a comment\na dog running on a beach\n"
                                    "a red circle moving left\n")
    r = CliRunner().invoke(app, ["eval", str(tiny_cascade(tmp_path)), "--prompts", str(tmp_path / "p.txt"),
                                 "--seeds", "1", "--out", str(tmp_path / "rep"), "-q"])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["cases"] == 2  # the comment (indented) and the repeated line are not prompts
    assert "scored 1 of 2 clips" in " ".join(r.output.split())
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "None combo" not in html and "not a colour-shape-motion prompt" in html
    assert "too few to read this distance" in report["fsd"]["note"]


def test_per_stage_metrics_use_the_evaluated_sampling_settings(tmp_path, monkeypatch):
    """`cascade eval --steps` (or a {stage: steps} mapping) reached the full cascade but not the per-stage PSNR
    runs, which sampled with each stage's defaults and so reported the defaults' numbers."""
    from test_stages import tiny_cascade

    from cascade.eval.run import per_stage_metrics
    from cascade.pipeline import CascadePipeline

    pipe = CascadePipeline.from_pretrained(tiny_cascade(tmp_path))
    seen = []
    for name in ("temporal_sr", "spatial_sr"):
        cls = type(pipe.stages[pipe.stage_of_type(name)])
        call = cls.__call__

        def spy(self, inputs, _call=call, _name=name, **kw):  # special methods are looked up on the class
            seen.append((_name, kw.get("steps"), kw.get("guidance")))
            return _call(self, inputs, **kw)

        monkeypatch.setattr(cls, "__call__", spy)
    tsr, ssr = pipe.stage_of_type("temporal_sr"), pipe.stage_of_type("spatial_sr")
    per_stage_metrics(pipe, get_suite("shapes"), 2, steps={tsr: 3, ssr: 4}, guidance=1.5)
    assert seen == [("temporal_sr", 3, 1.5), ("spatial_sr", 4, 1.5)]


def test_shipped_feature_net_classifies_real_clips():
    from cascade.eval.suites.shapes.features import _real_batch, load_feature_net

    assert ASSET.exists(), "the shipped feature network is missing; run python -m cascade.eval.suites.shapes.features"
    net = load_feature_net()
    x, y = _real_batch(np.random.default_rng(123), 96)
    with torch.no_grad():
        logits = net(x)
    # shipped asset measured on 256 fresh clips: colour 100%, shape 78%, motion 100% (chance: 17%, 33%, 25%)
    for k, least in (("colour", 0.95), ("shape", 0.65), ("motion", 0.95)):
        assert (logits[k].argmax(-1) == y[k]).float().mean() >= least, k


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_report_videos_play_in_headless_chromium(tiny_report):
    out, _ = tiny_report
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_report_browser.py"), str(out)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "9/9 videos played" in r.stdout


def test_eval_cli_bad_inputs(tmp_path):
    from typer.testing import CliRunner

    from cascade.cli import app

    r = CliRunner().invoke(app, ["eval", str(tmp_path / "missing"), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 2 and "missing" in r.output
    (tmp_path / "file").write_text("x")
    r = CliRunner().invoke(app, ["eval", str(tmp_path), "--out", str(tmp_path / "file")])
    assert r.exit_code == 2 and "is a file" in r.output
    r = CliRunner().invoke(app, ["eval", str(tmp_path), "--out", str(tmp_path / "rep"), "--guidance", "nan"])
    assert r.exit_code == 2 and "greater than or equal to 0" in " ".join(r.output.split())  # click refuses nan
