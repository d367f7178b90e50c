"""The autoencoder stage: a diffusers AutoencoderKL folder loads as it is, encodes and decodes per frame exactly as
diffusers does, serves as encoder and decoder node, trains through `cascade train`, and grows a temporal decoder."""

import json

import pytest
import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file
from typer.testing import CliRunner

from cascade.assemble import assemble_stages
from cascade.cli import app
from cascade.errors import CascadeError
from cascade.graph import CascadeGraph
from cascade.pipeline import CascadePipeline
from cascade.stage import make_stage_config
from cascade.types import Video, VideoSpec
from fake_stages import FakeTextConfig, FakeTextStage, FakeVideoConfig, FakeVideoStage
from stages.autoencoder.stage import AutoencoderStage
from stages.autoencoder.task import AutoencoderTrainTask, measure_scaling_factor
from stages.spatial_sr.config import SpatialBicubicConfig

runner = CliRunner()
TINY_VAE = dict(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, latent_channels=4,
                down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
TINY_DATA = {"kind": "photos", "num_clips": 8, "seed": 3, "frames": 2, "fps": 2.0, "scale_clips": 4}


def diffusers_vae(tmp_path, name="vae", **over) -> tuple[AutoencoderKL, object]:
    torch.manual_seed(0)
    vae = AutoencoderKL(**{**TINY_VAE, "scaling_factor": 0.5, **over}).eval()
    vae.save_pretrained(tmp_path / name)
    return vae, tmp_path / name


def clip(b=2, c=3, f=3, size=16, seed=1):
    return torch.rand(b, c, f, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def tiny_stage(**over) -> AutoencoderStage:
    torch.manual_seed(0)
    return AutoencoderStage(make_stage_config(AutoencoderStage, "tiny", over))


# -- a diffusers folder, as it is ---------------------------------------------------------------------------------
def test_a_diffusers_vae_folder_loads_and_codes_every_frame_as_diffusers_does(tmp_path):
    vae, folder = diffusers_vae(tmp_path)
    assert (folder / "diffusion_pytorch_model.safetensors").is_file() and not (folder / "model.safetensors").exists()
    enc = AutoencoderStage.from_pretrained(folder, role="encode", frames=3, height=16, width=16)
    assert enc.config.scaling_factor == 0.5 and enc.config.downsampling == 2
    assert enc.output_spec == VideoSpec(frames=3, height=8, width=8, channels=4, fps=8.0, space="latent")
    x = clip()
    z = enc({"video": Video(tensor=x, spec=enc.input_spec["video"])}).tensor  # (2, 4, 3, 8, 8)
    dec = enc.placed(role="decode")
    assert dec.network is enc.network and dec.input_spec["video"] == enc.output_spec
    y = dec.decode(z)
    with torch.no_grad():
        for k in range(3):
            want_z = vae.encode(x[:, :, k]).latent_dist.mode() * 0.5
            torch.testing.assert_close(z[:, :, k], want_z, rtol=0, atol=1e-6)
            torch.testing.assert_close(y[:, :, k], vae.decode(want_z / 0.5).sample, rtol=0, atol=1e-6)
    out = dec({"video": Video(tensor=z, spec=dec.input_spec["video"])})
    assert out.spec.space == "pixel" and torch.equal(out.tensor, y.clamp(-1, 1))


def test_older_attention_names_in_a_vae_file_load(tmp_path):
    """Stable Diffusion's published VAE files name mid-block attention query/key/value/proj_attn."""
    vae, folder = diffusers_vae(tmp_path)
    old = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}
    state = {}
    for k, v in vae.state_dict().items():
        for o, n in old.items():
            k = k.replace(f".{n}.", f".{o}.")
        state[k] = v.contiguous()
    assert any(".query." in k for k in state)
    save_file(state, str(folder / "diffusion_pytorch_model.safetensors"))
    enc = AutoencoderStage.from_pretrained(folder, role="encode", frames=3, height=16, width=16)
    x = clip()
    with torch.no_grad():
        torch.testing.assert_close(enc.encode(x)[:, :, 0], vae.encode(x[:, :, 0]).latent_dist.mode() * 0.5,
                                   rtol=0, atol=1e-6)


def test_a_saved_stage_folder_round_trips(tmp_path):
    st = tiny_stage(scaling_factor=2.5)
    st.save_pretrained(tmp_path / "ae")
    back = AutoencoderStage.from_pretrained(tmp_path / "ae", role="encode")
    assert back.config.scaling_factor == 2.5 and back.config.role == "encode"
    x = clip(f=4)
    torch.testing.assert_close(back.encode(x), st.placed(role="encode").encode(x), rtol=0, atol=0)


# -- temporal decoder ---------------------------------------------------------------------------------------------
def test_the_temporal_decoder_decodes_like_the_per_frame_one_at_init(tmp_path):
    per_frame = tiny_stage(scaling_factor=1.7)
    per_frame.save_pretrained(tmp_path / "ae")
    temporal = tiny_stage(scaling_factor=1.7, temporal_decoder=True)
    temporal.load_weights(tmp_path / "ae" / "model.safetensors")  # no temporal tensors: they stay the identity
    z = clip(c=4, f=4, size=8)
    torch.testing.assert_close(temporal.decode(z), per_frame.decode(z), rtol=0, atol=1e-5)
    with torch.no_grad():  # the temporal layers do mix frames once they are not zero
        temporal.network.temporal[-1].conv2.weight.normal_()
    mixed = temporal.decode(z)
    assert (mixed - per_frame.decode(z)).abs().max() > 1e-2
    z2 = z.clone()
    z2[:, :, 0] = 0  # changing frame 0 changes its neighbour's pixels only through the temporal layers
    assert (temporal.decode(z2)[:, :, 1] - mixed[:, :, 1]).abs().max() > 1e-4
    assert torch.equal(per_frame.decode(z2)[:, :, 1], per_frame.decode(z)[:, :, 1])


def test_temporal_training_changes_the_decoder_and_not_the_frozen_encoder(tmp_path):
    start = tiny_stage()
    start.save_pretrained(tmp_path / "ae")
    cfg = "configs/autoencoder/tiny.yaml"
    result = runner.invoke(app, ["train", "autoencoder", "--config", cfg, "--out", str(tmp_path / "run"), "--device",
                                 "cpu", "--max-steps", "2", "-q", "--set", "model.temporal_decoder=true",
                                 "--set", f"init_from={tmp_path / 'ae'}", "--set", "ema_decay=0"])
    assert result.exit_code == 0, result.output
    trained = AutoencoderStage.from_pretrained(tmp_path / "run" / "export")
    assert trained.config.temporal_decoder
    before, after = start.network.state_dict(), trained.network.state_dict()
    frozen = [k for k in before if k.startswith(("vae.encoder.", "vae.quant_conv."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("vae.decoder."))
    assert any(after[k].abs().max() > 0 for k in after if k.startswith("temporal.") and ".conv2." in k)


# -- training -----------------------------------------------------------------------------------------------------
def test_the_measured_scaling_factor_gives_unit_variance_latents_on_its_data():
    st = tiny_stage()
    task = AutoencoderTrainTask(st, TINY_DATA)
    clips = task._clips(range(4))
    scale = measure_scaling_factor(st, clips)
    assert abs(scale - 1) > 0.05  # a random VAE's latents are not unit-variance to begin with
    scaled = st.placed().__class__(st.config.model_copy(update={"scaling_factor": scale}))
    scaled.network = st.network
    assert abs(float(scaled.placed(role="encode").encode(clips).std()) - 1) < 1e-4


def test_train_export_load_and_join_a_cascade_as_encoder_and_decoder(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "autoencoder", "--config", "configs/autoencoder/tiny.yaml", "--out",
                                 str(run), "--device", "cpu", "--max-steps", "2", "-q"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["event"] == "train"] == [1, 2]
    preview = next(r for r in rows if r["event"] == "preview")
    assert {"preview_psnr", "preview_psnr_bicubic"} <= set(preview)
    assert (run / "checkpoints" / "step_000002").is_dir()
    ae = AutoencoderStage.from_pretrained(run / "export")
    assert ae.config.scaling_factor != 1.0  # measured at the end of training
    resumed = runner.invoke(app, ["train", "autoencoder", "--config", "configs/autoencoder/tiny.yaml", "--out",
                                  str(run), "--device", "cpu", "--max-steps", "3", "--resume", "-q"])
    assert resumed.exit_code == 0, resumed.output

    out = tmp_path / "cascade"
    args = ["assemble", "--out", str(out)]
    src = tmp_path / "src"
    FakeTextStage(FakeTextConfig()).save_pretrained(src / "text")
    torch.manual_seed(0)
    FakeVideoStage(FakeVideoConfig()).save_pretrained(src / "base")
    for name, source in (("text", src / "text"), ("base", src / "base"), ("autoencoder", run / "export"),
                         ("autoencoder_decode", run / "export")):
        args += ["--stage", f"{name}={source}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    pipe = CascadePipeline.from_pretrained(out)
    assert pipe.stages["autoencoder"].config.role == "encode"
    assert pipe.stages["autoencoder_decode"].config.role == "decode"
    outs = pipe.run("a red circle", seed=0, progress=False)
    assert outs["autoencoder"].spec == VideoSpec(frames=4, height=4, width=4, channels=4, fps=4.0, space="latent")
    assert outs["autoencoder_decode"].spec == outs["base"].spec
    want = pipe.stages["autoencoder_decode"].decode(pipe.stages["autoencoder"].encode(outs["base"].tensor))
    torch.testing.assert_close(outs["autoencoder_decode"].tensor, want.clamp(-1, 1))


# -- bad input ----------------------------------------------------------------------------------------------------
def test_a_vae_with_other_channels_than_its_video_is_refused_naming_both(tmp_path):
    _, folder = diffusers_vae(tmp_path, in_channels=1, out_channels=1)
    gray = AutoencoderStage.from_pretrained(folder, role="encode", frames=4, fps=4.0, height=8, width=8)
    stages = {"text": FakeTextStage(FakeTextConfig()), "base": FakeVideoStage(FakeVideoConfig()), "autoencoder": gray}
    with pytest.raises(CascadeError, match="^autoencoder expects 1 channels from base, which makes 3 channels$"):
        assemble_stages(tmp_path / "out", stages)
    assert not (tmp_path / "out").exists()
    with pytest.raises(CascadeError, match="takes 1-channel pixel frames, but was given 3-channel ones"):
        gray.encode(clip(f=4, size=8))
    enc = tiny_stage(role="encode")  # 4 latent channels into a stage that takes 3-channel latents
    nxt = SpatialBicubicConfig(frames=4, fps=4.0, height=8, width=8, channels=3, space="latent")
    graph = CascadeGraph.from_dict({"nodes": {"text": {"type": "test_text"}, "base": {"type": "test_video"},
                                              "autoencoder": {"type": "autoencoder"},
                                              "upscale": {"type": "spatial_bicubic"}},
                                    "edges": [{"from": "text", "to": "base", "input": "text"},
                                              {"from": "base", "to": "autoencoder", "input": "video"},
                                              {"from": "autoencoder", "to": "upscale", "input": "video"}],
                                    "output": "upscale"})
    with pytest.raises(CascadeError, match="^upscale expects 3 channels from autoencoder, which makes 4 channels$"):
        graph.build({"text": FakeTextConfig(), "base": FakeVideoConfig(frames=4, size=16), "autoencoder": enc.config,
                     "upscale": nxt})


def test_pixels_into_a_decoder_and_latents_into_an_encoder_are_refused():
    dec, enc = tiny_stage(role="decode"), tiny_stage(role="encode")
    base = FakeVideoConfig(frames=4, size=16)
    graph = CascadeGraph.from_dict({"nodes": {"text": {"type": "test_text"}, "base": {"type": "test_video"},
                                              "vae": {"type": "autoencoder"}},
                                    "edges": [{"from": "text", "to": "base", "input": "text"},
                                              {"from": "base", "to": "vae", "input": "video"}], "output": "vae"})
    with pytest.raises(CascadeError, match="^vae expects latent-space video from base, which makes pixel-space video$"):
        graph.build({"text": FakeTextConfig(), "base": base, "vae": dec.config})
    pixels = Video(tensor=clip(f=4), spec=enc.input_spec["video"])
    with pytest.raises(CascadeError, match=r"^the autoencoder \(decode\) expects latent-space video, but was given "
                                           r"pixel-space video$"):
        dec({"video": pixels})
    latents = Video(tensor=clip(c=4, f=4, size=8), spec=dec.input_spec["video"])
    with pytest.raises(CascadeError, match=r"^the autoencoder \(encode\) expects pixel-space video, but was given "
                                           r"latent-space video$"):
        enc({"video": latents})


def test_folders_that_are_not_a_diffusers_vae_are_refused(tmp_path):
    unet = tmp_path / "unet"
    unet.mkdir()
    (unet / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel", "sample_size": 32}))
    with pytest.raises(CascadeError, match="holds a diffusers UNet2DModel, not an AutoencoderKL"):
        AutoencoderStage.from_pretrained(unet)
    result = runner.invoke(app, ["assemble", "--stage", f"autoencoder={unet}", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not an AutoencoderKL" in result.output and not (tmp_path / "out").exists()
    pipeline = tmp_path / "sd"
    pipeline.mkdir()
    (pipeline / "model_index.json").write_text("{}")
    with pytest.raises(CascadeError, match="is a diffusers pipeline, not a VAE; pass its VAE subfolder"):
        AutoencoderStage.from_pretrained(pipeline)
    _, pickled = diffusers_vae(tmp_path, "pickled")
    (pickled / "diffusion_pytorch_model.safetensors").rename(pickled / "diffusion_pytorch_model.bin")
    with pytest.raises(CascadeError, match="holds only diffusion_pytorch_model.bin, a pickle, which cascade never"):
        AutoencoderStage.from_pretrained(pickled)
    other = tmp_path / "other"
    tiny_stage().save_pretrained(other)
    (other / "config.json").write_text(json.dumps({"sample_size": 32}))
    with pytest.raises(CascadeError, match="neither an autoencoder stage config"):
        AutoencoderStage.from_pretrained(other)
    with pytest.raises(CascadeError, match="unknown AutoencoderKL field 'block_out_channel'"):
        tiny_stage(vae={"block_out_channel": [8]})
