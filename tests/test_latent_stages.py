"""Latent stages: base_video and temporal_sr trained in a (tiny, random) AutoencoderKL's latents, their ground truth
encoded once into an on-disk cache keyed by the autoencoder's sha256, joined with that autoencoder as the decoder."""

import hashlib
import json
import logging

import pytest
import torch
import yaml
from diffusers import AutoencoderKL
from typer.testing import CliRunner

from cascade.assemble import assemble, assemble_stages
from cascade.cli import app
from cascade.errors import CascadeError
from cascade.graph import CascadeGraph
from cascade.stage import make_stage_config
from cascade.training.build import build_task
from cascade.training.config import validate_config
from cascade.types import VideoSpec
from stages.autoencoder.stage import AutoencoderStage
from stages.base_video.stage import BaseVideoStage
from stages.temporal_sr.stage import TemporalSRStage
from stages.text_encoder.stage import TextEncoderStage

runner = CliRunner()
TINY_VAE = dict(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, latent_channels=4,
                down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
RUN = {"optim": {"lr": 1.0e-3, "warmup_steps": 1}, "batch_size": 2, "max_steps": 2, "checkpoint_every": 2,
       "sample_every": 2, "log_every": 1, "trackers": []}


def save_vae(folder, seed=0, **over):
    torch.manual_seed(seed)
    AutoencoderKL(**{**TINY_VAE, **over}).save_pretrained(folder)
    return folder


def base_config(vae, **model) -> dict:
    return {"stage": "base_video", "preset": "tiny", **RUN,
            "model": {"height": 16, "width": 16, "latent": {"autoencoder": str(vae)}, **model},
            "data": {"kind": "photos", "wordings": "varied", "num_clips": 4, "seed": 1, "num_preview_clips": 1}}


def tsr_config(vae) -> dict:
    return {"stage": "temporal_sr", "preset": "tiny", **RUN,
            "model": {"height": 16, "width": 16, "latent": {"autoencoder": str(vae)}, "max_aug_level": 0.2},
            "data": {"kind": "photos", "num_clips": 4, "seed": 2, "num_preview_clips": 1}}


def train(tmp_path, name, config, *extra):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["train", config["stage"], "--config", str(path), "--out", str(tmp_path / name),
                                 "--device", "cpu", "-q", *extra])
    assert result.exit_code == 0, result.output
    return tmp_path / name / "export"


@pytest.fixture
def encodes(monkeypatch):
    """Counts the clips the autoencoder encodes."""
    seen = []
    original = AutoencoderStage.encode

    def counting(self, x):
        seen.append(x.shape[0])
        return original(self, x)

    monkeypatch.setattr(AutoencoderStage, "encode", counting)
    return seen


def test_a_latent_base_trains_on_cached_encodings_of_its_ground_truth(tmp_path, encodes):
    vae = save_vae(tmp_path / "vae")
    cache = tmp_path / "cache"
    export = train(tmp_path, "base", base_config(vae), "--latent-cache", str(cache))
    saved = json.loads((export / "config.json").read_text())["latent"]
    assert saved["sha256"] == hashlib.sha256((vae / "diffusion_pytorch_model.safetensors").read_bytes()).hexdigest()
    assert (saved["channels"], saved["downsampling"]) == (4, 2)
    stage = BaseVideoStage.from_pretrained(export)
    assert stage.output_spec == VideoSpec(frames=4, height=8, width=8, channels=4, fps=4.0, space="latent")
    assert sum(encodes) == 4 and len(list(cache.glob("*/shard_*.safetensors"))) == 1  # each clip encoded once

    # the batches are the autoencoder's encodings of the ground-truth clips, read back from the cache
    encodes.clear()
    _, task = build_task(validate_config(base_config(vae), source="test"), latent_cache=cache)
    items = [task.dataset()[i] for i in range(4)]
    assert encodes == []  # reused: nothing encoded again
    from cascade.data.photos_dataset import PhotosDataset

    pixels = PhotosDataset(4, frames=4, size=16, fps=4.0, seed=1, varied_wordings=True)
    enc = AutoencoderStage.from_pretrained(vae, role="encode", frames=4, fps=4.0, height=16, width=16)
    truth = torch.stack([pixels[i]["video"] for i in range(4)])
    batch = task.collate(items)
    torch.testing.assert_close(batch["video"], enc.encode(truth), rtol=0, atol=1e-6)
    assert batch["caption"] == [pixels[i]["caption"] for i in range(4)]

    # a changed autoencoder file: the cache is rebuilt, and the log says so
    save_vae(vae, seed=1)
    encodes.clear()
    records, handler = [], logging.Handler()
    handler.emit = records.append
    cache_log = logging.getLogger("cascade.training.latent_cache")
    cache_log.addHandler(handler)
    try:
        _, task = build_task(validate_config(base_config(vae), source="test"), latent_cache=cache)
        task.dataset()[0]
    finally:
        cache_log.removeHandler(handler)
    assert sum(encodes) == 4
    assert len(records) == 1 and "rebuilding" in records[0].getMessage()


def test_latent_base_and_temporal_sr_join_the_autoencoder_as_decoder_and_render_pixels(tmp_path):
    vae = save_vae(tmp_path / "vae")
    base = train(tmp_path, "base", base_config(vae))
    tsr = train(tmp_path, "tsr", tsr_config(vae))
    assert TemporalSRStage.from_pretrained(tsr).output_spec == VideoSpec(frames=8, height=8, width=8, channels=4,
                                                                         fps=8.0, space="latent")
    out = tmp_path / "weights"
    assemble(out, {"text_encoder": "preset:tiny", "base_video": base, "temporal_sr": tsr, "autoencoder": vae})
    graph = json.loads((out / "cascade.json").read_text())["graph"]
    assert [e["to"] for e in graph["edges"] if e["input"] == "video"] == ["temporal_sr", "autoencoder"]
    result = runner.invoke(app, ["render", "a cat", "--weights", str(out), "-o", str(tmp_path / "a.mp4"), "-q",
                                 "--steps", "2"])
    assert result.exit_code == 0, result.output
    from cascade.video_io import read_video

    frames = read_video(tmp_path / "a.mp4")[0]
    assert frames.shape == (8, 16, 16, 3)


def _stages(vae):
    text = TextEncoderStage(make_stage_config(TextEncoderStage, "tiny"))
    torch.manual_seed(0)
    base = BaseVideoStage(make_stage_config(BaseVideoStage, "tiny", {"height": 16, "width": 16,
                                                                      "latent": {"autoencoder": str(vae)}}))
    return text, base


def test_a_latent_stage_fed_pixels_is_one_sentence_naming_both_nodes(tmp_path):
    vae = save_vae(tmp_path / "vae")
    text = make_stage_config(TextEncoderStage, "tiny")
    pixel_base = make_stage_config(BaseVideoStage, "tiny")  # 4 frames of 8x8 pixels
    latent_tsr = make_stage_config(TemporalSRStage, "tiny", {"latent": {"autoencoder": str(vae)}})
    configs = {"text_encoder": text, "base_video": pixel_base, "temporal_sr": latent_tsr}
    graph = CascadeGraph.from_dict({"nodes": {n: {"type": c.type} for n, c in configs.items()},
                                    "edges": [{"from": "text_encoder", "to": "base_video", "input": "text"},
                                              {"from": "base_video", "to": "temporal_sr", "input": "video"}],
                                    "output": "temporal_sr"})
    with pytest.raises(CascadeError) as e:
        graph.build(configs)
    msg = str(e.value)
    assert msg == ("temporal_sr expects latent-space video from base_video, which makes pixel-space video")
    assert not (tmp_path / "out").exists()


def test_an_autoencoder_that_is_not_the_stage_s_own_is_refused(tmp_path):
    vae = save_vae(tmp_path / "vae")
    wide = save_vae(tmp_path / "wide", latent_channels=8)
    other = save_vae(tmp_path / "other", seed=5)
    # a config that says 8 latent channels for a 4-channel autoencoder
    with pytest.raises(CascadeError, match=r"^latent.channels is 8 but the autoencoder at .* has 4; "):
        make_stage_config(BaseVideoStage, "tiny", {"height": 16, "width": 16,
                                                   "latent": {"autoencoder": str(vae), "channels": 8}})
    text, base = _stages(vae)
    out = tmp_path / "out"
    # a decoder with another latent channel count: the graph names both nodes and the channels
    dec = AutoencoderStage.from_pretrained(wide).fit_input(base.output_spec)
    with pytest.raises(CascadeError) as e:
        assemble_stages(out, {"text_encoder": text, "base_video": base, "autoencoder": dec})
    assert str(e.value) == "autoencoder expects 8 channels from base_video, which makes 4 channels"
    # same channels, another encoder: not the latent space the stage was trained in
    dec = AutoencoderStage.from_pretrained(other).fit_input(base.output_spec)
    with pytest.raises(CascadeError, match=r"^autoencoder decodes the latents of base_video, but base_video was "
                                           r"trained in the autoencoder at .*; use the autoencoder base_video names$"):
        assemble_stages(out, {"text_encoder": text, "base_video": base, "autoencoder": dec})
    assert not out.exists()
    # its own autoencoder, a temporal decoder grown from it included, passes
    dec = AutoencoderStage.from_pretrained(vae).fit_input(base.output_spec)
    assemble_stages(out, {"text_encoder": text, "base_video": base, "autoencoder": dec})
    assert (out / "cascade.json").is_file()
