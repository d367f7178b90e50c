"""`cascade eval` on a tiny latent cascade (random tiny stages in a tiny temporal decoder's latents): a latent
super-resolution node is measured in decoded pixels beside the autoencoder's own round trip, and the base stage's
prompt fidelity reads the base's latents decoded, not the final clip."""

from __future__ import annotations

import math
from itertools import groupby

import numpy as np
import pytest
import torch

from cascade.assemble import assemble
from cascade.eval.metrics import psnr, ssim
from cascade.eval.run import PER_STAGE_SEED, base_frames, evaluate, per_stage_metrics
from cascade.eval.suites import get_suite
from cascade.graph import CascadeGraph
from cascade.pipeline import CascadePipeline
from cascade.stage import make_stage_config
from cascade.types import Video, VideoSpec
from cascade.video_ops import interpolate_frames, subsample_frames
from stages.autoencoder.stage import AutoencoderStage
from stages.base_video.stage import BaseVideoStage
from stages.temporal_sr.stage import TemporalSRStage

CLIPS = 3  # real clips per measured node
PIXEL_ROW = {"type", "baseline", "frames", "psnr", "ssim", "baseline_psnr", "baseline_ssim", "flicker",
             "baseline_flicker", "truth_flicker"}


@pytest.fixture(scope="module")
def latent_cascade(tmp_path_factory):
    """(autoencoder folder, cascade folder): text -> base_video (4 latent frames) -> temporal_sr (8) -> decoder. The
    decoder's temporal layers are set non-zero, so a clip decodes differently at another frame count."""
    d = tmp_path_factory.mktemp("latent_eval")
    torch.manual_seed(0)
    ae = AutoencoderStage(make_stage_config(AutoencoderStage, "tiny", {"temporal_decoder": True,
                                                                       "scaling_factor": 1.7}))
    with torch.no_grad():
        for mix in ae.network.temporal:
            mix.conv2.weight.normal_(std=0.2)
    ae.save_pretrained(d / "ae")
    latent = {"height": 16, "width": 16, "latent": {"autoencoder": str(d / "ae")}}
    BaseVideoStage(make_stage_config(BaseVideoStage, "tiny", latent)).save_pretrained(d / "base_video")
    TemporalSRStage(make_stage_config(TemporalSRStage, "tiny", latent)).save_pretrained(d / "temporal_sr")
    weights = assemble(d / "weights", {"text_encoder": "preset:tiny", "base_video": d / "base_video",
                                       "temporal_sr": d / "temporal_sr", "autoencoder": d / "ae"})
    return d / "ae", weights


def coder(folder, role: str, spec: VideoSpec) -> AutoencoderStage:
    return AutoencoderStage.from_pretrained(folder, role=role, frames=spec.frames, fps=spec.fps, height=spec.height,
                                            width=spec.width)


def test_a_latent_sr_node_is_scored_in_decoded_pixels_beside_the_autoencoder_round_trip(latent_cascade):
    ae, weights = latent_cascade
    pipe = CascadePipeline.from_pretrained(weights)
    suite = get_suite("shapes")
    rows = per_stage_metrics(pipe, suite, CLIPS)["stages"]
    row = rows["temporal_sr"]
    assert set(row) == PIXEL_ROW | {"space", "decoder", "autoencoder_psnr", "autoencoder_ssim"}
    assert (row["space"], row["decoder"], row["frames"]) == ("latent", "autoencoder", "dropped")
    assert all(math.isfinite(row[k]) for k in ("psnr", "ssim", "baseline_psnr", "autoencoder_psnr"))

    # by hand: the 8-frame 16x16 clips its latents decode to, encoded and decoded by the autoencoder folder itself
    pixels = VideoSpec(frames=8, height=16, width=16, fps=8.0)
    truth, _ = suite.real_clips(pixels, CLIPS, PER_STAGE_SEED)
    z = coder(ae, "encode", pixels).encode(truth)  # (B, 4, 8, 8, 8)
    blend = interpolate_frames(subsample_frames(z, 2), 2)  # degrade: every 2nd frame; the blend baseline
    decoder = coder(ae, "decode", pixels)
    mask = pipe.stages["temporal_sr"].scored_frames()
    for key, latents in (("baseline", blend), ("autoencoder", z)):
        decoded = decoder.decode(latents).clamp(-1, 1)
        assert row[f"{key}_psnr"] == pytest.approx(psnr(decoded, truth, mask=mask), rel=1e-6), key
        assert row[f"{key}_ssim"] == pytest.approx(ssim(decoded, truth, mask=mask), rel=1e-6), key
    assert row["psnr"] != row["baseline_psnr"]  # the stage's own output, not its baseline's


def test_a_latent_node_without_its_decoder_is_skipped_with_the_reason(latent_cascade):
    _, weights = latent_cascade
    full = CascadePipeline.from_pretrained(weights)
    graph = CascadeGraph.from_dict({"nodes": {n: {"type": n} for n in ("text_encoder", "base_video", "temporal_sr")},
                                    "edges": [{"from": "text_encoder", "to": "base_video", "input": "text"},
                                              {"from": "base_video", "to": "temporal_sr", "input": "video"}],
                                    "output": "temporal_sr"})
    pipe = CascadePipeline(graph, {n: full.stages[n] for n in graph.nodes})
    report = per_stage_metrics(pipe, get_suite("shapes"), CLIPS)
    assert report["stages"] == {}
    assert report["skipped"]["temporal_sr"].startswith("no autoencoder node in this cascade decodes the latents of "
                                                       "the autoencoder at ")
    assert base_frames(pipe) is None


def test_the_base_reading_of_a_latent_cascade_is_its_base_decoded(latent_cascade, tmp_path, monkeypatch):
    ae, weights = latent_cascade
    suite_class = type(get_suite("shapes"))
    read = []
    analyze = suite_class.analyze

    def spy(self, frames):
        read.append(frames)
        return analyze(self, frames)

    monkeypatch.setattr(suite_class, "analyze", spy)
    report = evaluate(weights, out_dir=tmp_path / "report", seeds=1, max_prompts=2, progress=False, shown=1,
                      stage_clips=2)
    assert report["per_stage"]["stages"]["temporal_sr"]["space"] == "latent"
    assert report["fidelity_base_only"]
    assert "frames, latents decoded by autoencoder (its round trip of the real clips: " in (
        tmp_path / "report" / "index.html").read_text()

    # by hand: each batch rendered again, the base's 4 latent frames decoded at 4 frames and 4 fps
    pipe = CascadePipeline.from_pretrained(weights)
    base_spec = VideoSpec(frames=4, height=16, width=16, fps=4.0)
    decoder = coder(ae, "decode", base_spec)
    cases = report["cases_detail"]
    assert len(read) == 2 * len(cases)  # the probe reads each case's final clip, then its base clip
    k = 0
    for seed, batch in groupby(cases, key=lambda c: c["seed"]):
        outs = pipe.run([c["prompt"] for c in batch], seed=seed, progress=False)
        with torch.inference_mode():
            decoded = Video(tensor=decoder.decode(outs["base_video"].tensor).clamp(-1, 1), spec=base_spec).frames
        for i, base in enumerate(decoded.numpy()):
            final, got = read[2 * k], read[2 * k + 1]
            k += 1
            np.testing.assert_array_equal(final, outs["autoencoder"].frames[i].numpy())
            np.testing.assert_array_equal(got, base)
            # a temporal decoder mixes frames: the 4-frame decode is not every other frame of the final one
            assert got.shape == (4, 16, 16, 3) and not np.array_equal(got, final[::2])
    assert k == len(cases)


def test_the_base_reading_of_a_pixel_cascade_is_its_base_frames(tmp_path):
    from test_stages import tiny_cascade

    pipe = CascadePipeline.from_pretrained(tiny_cascade(tmp_path))
    outs = pipe.run(["a red circle moving left"], seed=0, progress=False)
    np.testing.assert_array_equal(base_frames(pipe)(outs), outs["base_video"].frames.numpy())
    rows = per_stage_metrics(pipe, get_suite("shapes"), 2)["stages"]
    assert {n: set(r) for n, r in rows.items()} == {"temporal_sr": PIXEL_ROW, "spatial_sr": PIXEL_ROW}


def test_results_table_shows_the_round_trip_of_latent_nodes_only():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "results_table.py"
    spec = importlib.util.spec_from_file_location("results_table", path)
    results_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(results_table)
    pixel = {"type": "temporal_sr", "baseline": "temporal_blend", "frames": "dropped", "psnr": 30.0, "ssim": 0.9,
             "baseline_psnr": 29.0, "baseline_ssim": 0.8, "flicker": 0.01, "baseline_flicker": 0.02,
             "truth_flicker": 0.01}
    latent = {**pixel, "space": "latent", "decoder": "autoencoder", "autoencoder_psnr": 33.25,
              "autoencoder_ssim": 0.95}
    plain = results_table.stage_table({"clips": 2, "stages": {"temporal_sr": pixel}})
    both = results_table.stage_table({"clips": 2, "stages": {"temporal_sr": pixel, "latent_tsr": latent}})
    assert not any("round trip" in line for line in plain)
    assert all(line in both for line in plain)  # the pixel node's rows as they were
    assert "| latent_tsr | autoencoder | 33.25 dB | 0.9500 |" in both
    assert not any(line.startswith("| temporal_sr | autoencoder") for line in both)
