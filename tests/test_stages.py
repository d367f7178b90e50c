"""Each learned stage at its tiny preset: declared specs, conditioning properties, save/load, one cascade."""

import json

import pytest
import torch

from cascade.assemble import assemble
from cascade.pipeline import CascadePipeline
from cascade.stage import make_stage_config
from cascade.types import TextEmbedding, Video
from stages.base_video.stage import BaseVideoStage
from stages.spatial_sr.stage import SpatialSRStage
from stages.temporal_sr.stage import TemporalSRStage


def tiny(cls, **over):
    torch.manual_seed(0)
    return cls(make_stage_config(cls, "tiny", over))


def text_for(stage, b=2):
    spec = stage.config.text
    g = torch.Generator().manual_seed(0)
    return TextEmbedding(tokens=torch.randn(b, spec.length, spec.dim, generator=g),
                         mask=torch.ones(b, spec.length, dtype=torch.bool), pooled=torch.randn(b, spec.dim, generator=g),
                         spec=spec)


def test_base_output_matches_spec_and_is_seeded():
    st = tiny(BaseVideoStage)
    text = text_for(st)
    a = st({"text": text}, generator=torch.Generator().manual_seed(1), progress=False)
    b = st({"text": text}, generator=torch.Generator().manual_seed(1), progress=False)
    assert a.spec == st.output_spec and tuple(a.tensor.shape) == (2, 3, 4, 8, 8)
    assert torch.equal(a.tensor, b.tensor)
    assert a.tensor.abs().max() <= 1


def test_tsr_keeps_known_frames_and_doubles_fps():
    st = tiny(TemporalSRStage)
    spec = st.input_spec["video"]
    low = torch.rand(2, 3, spec.frames, spec.height, spec.width) * 2 - 1
    out = st({"video": Video(tensor=low, spec=spec)}, generator=torch.Generator().manual_seed(0), progress=False)
    assert out.spec == st.output_spec and out.spec.fps == 2 * spec.fps and out.spec.frames == 2 * spec.frames
    assert torch.allclose(out.tensor[:, :, ::2], low, atol=1e-5)  # Make-A-Video masked interpolation: given frames kept


def test_tsr_conditioning_from_truth_drops_frames():
    st = tiny(TemporalSRStage)
    truth = torch.rand(1, 3, 8, 8, 8) * 2 - 1
    cond = st.condition(st.degrade(truth), generator=torch.Generator().manual_seed(0), training=True).network["cond"]
    assert cond.shape == (1, 4, 8, 8, 8)
    assert torch.equal(cond[:, :3, ::2], truth[:, :, ::2])  # known frames in place
    assert torch.equal(cond[:, 3, :, 0, 0], torch.tensor([[1., 0] * 4]))  # mask channel marks them
    assert not torch.allclose(cond[:, :3, 1::2], truth[:, :, 1::2])  # dropped frames are not leaked


def test_tsr_cleaning_mode_redraws_every_frame_from_its_degraded_input():
    """max_aug_level / frame_jitter: training degrades the whole input (noise, per-frame colour wobble) and the
    residual is taken against the blend of that degraded input, so the stage learns to clean it; sampling
    pastes no known frames (the untrained stage is still exactly the blend: see the test below)."""
    st = tiny(TemporalSRStage, residual=True, prediction="sample", max_aug_level=0.2, frame_jitter=0.05)
    assert st.network.aug_embed is not None and tiny(TemporalSRStage).network.aug_embed is None
    truth = torch.rand(2, 3, 8, 8, 8) * 2 - 1
    c = st.condition(st.degrade(truth), generator=torch.Generator().manual_seed(0), training=True)
    assert c.network["cond"].shape == (2, 4, 8, 8, 8) and (c.aug_level <= 0.2).all()
    assert not torch.allclose(c.network["cond"][:, :3, ::2], truth[:, :, ::2], atol=1e-3)  # given frames degraded
    base = c.residual_base
    assert torch.equal(base, c.network["cond"][:, :3]) and not torch.allclose(base, st.baseline(st.degrade(truth)))
    loss = st.training_loss(None, truth, None, torch.Generator().manual_seed(0), min_snr_gamma=None)
    torch.testing.assert_close(loss, ((truth - base) ** 2).flatten(1).mean(1))  # fresh net: residual = damage
    spec = st.input_spec["video"]
    inputs = {"video": Video(tensor=torch.rand(2, 3, spec.frames, spec.height, spec.width) * 2 - 1, spec=spec)}
    c = st.conditioning(inputs, torch.Generator().manual_seed(0))
    assert c.known is None and torch.equal(c.aug_level, torch.zeros(2))  # no known frames pasted


def test_ssr_output_spec_and_aug_conditioning():
    st = tiny(SpatialSRStage)
    spec = st.input_spec["video"]
    low = torch.rand(1, 3, spec.frames, spec.height, spec.width) * 2 - 1
    out = st({"video": Video(tensor=low, spec=spec)}, generator=torch.Generator().manual_seed(0), progress=False)
    assert out.spec == st.output_spec and out.spec.height == 2 * spec.height
    truth = torch.rand(2, 3, spec.frames, 2 * spec.height, 2 * spec.width) * 2 - 1
    c = st.condition(st.degrade(truth), generator=torch.Generator().manual_seed(0), training=True)
    assert c.network["cond"].shape == truth.shape and c.aug_level.shape == (2,)
    assert (c.aug_level >= 0).all() and (c.aug_level <= st.config.max_aug_level).all()


@pytest.mark.parametrize("cls", [BaseVideoStage, TemporalSRStage, SpatialSRStage])
def test_save_load_identical_outputs(tmp_path, cls):
    st = tiny(cls)
    for p in st.network.parameters():  # move off the zero-init so outputs depend on the weights
        p.data.add_(torch.randn_like(p) * 0.02)
    st.save_pretrained(tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["config.json", "model.safetensors"]
    again = cls.from_pretrained(tmp_path / "s")
    for i in range(4):  # the same weights give the same bytes (cascade.json pins each file's sha256)
        again.save_pretrained(tmp_path / f"copy{i}")
        assert (tmp_path / f"copy{i}" / "model.safetensors").read_bytes() == (tmp_path / "s" / "model.safetensors").read_bytes()
    inputs = {"text": text_for(st)} if cls is BaseVideoStage else {
        "video": Video(tensor=torch.zeros(2, *[getattr(st.input_spec["video"], k) for k in ("channels", "frames", "height", "width")]),
                       spec=st.input_spec["video"])}
    a = st(inputs, generator=torch.Generator().manual_seed(0), progress=False).tensor
    b = again(inputs, generator=torch.Generator().manual_seed(0), progress=False).tensor
    assert torch.equal(a, b)


def test_bad_stage_config_field_named():
    from cascade.errors import CascadeError
    with pytest.raises(CascadeError, match="unknown field 'network.chanels'"):
        make_stage_config(BaseVideoStage, "tiny", {"network": {"chanels": 3}})
    with pytest.raises(CascadeError, match="unknown preset 'huge'"):
        make_stage_config(BaseVideoStage, "huge")


def tiny_cascade(tmp_path):
    dirs = {}
    for name, cls in (("base_video", BaseVideoStage), ("temporal_sr", TemporalSRStage), ("spatial_sr", SpatialSRStage)):
        tiny(cls).save_pretrained(tmp_path / name)
        dirs[name] = tmp_path / name
    return assemble(tmp_path / "weights", {"text_encoder": "preset:tiny", **dirs}, manifest={"note": "tiny"})


def test_tiny_cascade_renders_mp4_through_pipeline_and_cli(tmp_path):
    from typer.testing import CliRunner

    from cascade.cli import app
    from cascade.video_io import probe_video

    weights = tiny_cascade(tmp_path)
    manifest = json.loads((weights / "cascade.json").read_text())
    assert manifest["note"] == "tiny" and manifest["graph"]["output"] == "spatial_sr"
    assert set(manifest["files"]) >= {"base_video/model.safetensors", "text_encoder/config.json"}
    pipe = CascadePipeline.from_pretrained(weights)
    assert pipe.graph.order == ["text_encoder", "base_video", "temporal_sr", "spatial_sr"]
    v = pipe("a red circle moving left", seed=0, progress=False)
    assert tuple(v.tensor.shape) == (1, 3, 8, 16, 16) and v.fps == 8
    out = tmp_path / "x.mp4"
    r = CliRunner().invoke(app, ["render", "a red circle moving left", "-o", str(out), "--weights", str(weights), "-q"])
    assert r.exit_code == 0, r.output
    info = probe_video(out)
    assert info["frames"] == 8 and info["fps"] == 8 and info["codec"] == "h264"


@pytest.mark.parametrize("cls, over", [(TemporalSRStage, {}),
                                       (TemporalSRStage, {"max_aug_level": 0.2, "frame_jitter": 0.05}),
                                       (SpatialSRStage, {"sample_aug_level": 0.0})],
                         ids=["temporal_sr", "temporal_sr_cleaning", "spatial_sr"])
def test_untrained_residual_stage_returns_its_baseline(cls, over):
    """Residual mode + x0 prediction + zero-initialised output conv: the fresh stage is exactly blend/bicubic
    (no noise added to the input at sampling level 0), and moving the weights moves it away (the learned part is
    live); temporal_sr keeps the given frames exactly unless it is in cleaning mode, where it re-draws them."""
    stage = tiny(cls, residual=True, prediction="sample", **over)
    spec = stage.input_spec["video"]
    g = torch.Generator().manual_seed(0)
    low = Video(tensor=torch.rand(2, 3, spec.frames, spec.height, spec.width, generator=g) * 2 - 1, spec=spec)
    inputs = {"video": low}
    out = stage(inputs, generator=torch.Generator().manual_seed(1), progress=False).tensor
    torch.testing.assert_close(out, stage.baseline(low.tensor).clamp(-1, 1), rtol=0, atol=1e-5)
    with torch.no_grad():
        for p in stage.network.parameters():
            p.add_(0.05)
    out2 = stage(inputs, generator=torch.Generator().manual_seed(1), progress=False).tensor
    assert not torch.allclose(out, out2, atol=1e-3)
    if cls is TemporalSRStage:
        kept = torch.allclose(out2[:, :, ::2], low.tensor.clamp(-1, 1), atol=1e-5)
        assert kept != stage.config.cleans_input


def test_augmented_residual_base_carries_the_sampling_noise():
    """residual_base "augmented": an untrained stage returns the upsampled input plus the noise it was conditioned
    on (what training teaches it to remove); at sample_aug_level 0 it is exactly bicubic."""
    stage = tiny(SpatialSRStage, residual=True, prediction="sample", sample_aug_level=0.3)
    spec = stage.input_spec["video"]
    low = Video(tensor=torch.zeros(2, 3, spec.frames, spec.height, spec.width), spec=spec)
    inputs = {"video": low}
    out = stage(inputs, generator=torch.Generator().manual_seed(1), progress=False).tensor
    assert 0.3 < float(out.std()) < 0.55  # sigma 0.46 at level 0.3, smoothed by the upsampling
    stage.config = stage.config.model_copy(update={"sample_aug_level": 0.0})
    out0 = stage(inputs, generator=torch.Generator().manual_seed(1), progress=False).tensor
    torch.testing.assert_close(out0, stage.baseline(low.tensor), rtol=0, atol=1e-5)


def test_residual_training_loss_targets_the_correction():
    """Fresh network (zero output) with x0 prediction: the loss is exactly the mean squared residual, taken
    against the clean bicubic estimate or against the noise-augmented input the network is conditioned on."""
    stage = tiny(SpatialSRStage, residual=True, prediction="sample", residual_base="bicubic")
    out = stage.output_spec
    g = torch.Generator().manual_seed(0)
    video = torch.rand(2, 3, out.frames, out.height, out.width, generator=g) * 2 - 1
    loss = stage.training_loss(None, video, None, torch.Generator().manual_seed(0), min_snr_gamma=None)
    expected = ((video - stage.baseline(stage.degrade(video))) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(loss, expected)
    aug = tiny(SpatialSRStage, residual=True, prediction="sample", residual_base="augmented")
    # the same draws training makes first
    cond = aug.condition(aug.degrade(video), generator=torch.Generator().manual_seed(0), training=True).network
    assert not torch.allclose(cond["cond"], aug.baseline(aug.degrade(video)), atol=1e-3)  # noise was added
    loss = aug.training_loss(None, video, None, torch.Generator().manual_seed(0), min_snr_gamma=None)
    torch.testing.assert_close(loss, ((video - cond["cond"]) ** 2).flatten(1).mean(1))
    plain = tiny(SpatialSRStage, prediction="sample")
    torch.testing.assert_close(plain.training_loss(None, video, None, torch.Generator().manual_seed(0),
                                                   min_snr_gamma=None), (video ** 2).flatten(1).mean(1))


def test_reconstruction_guidance_is_reached_from_the_stage_config():
    """sampling.reconstruction_guidance (VDM §3.1) on a temporal_sr that keeps its given frames: the new frames move,
    the given ones stay exact."""
    spec = tiny(TemporalSRStage).input_spec["video"]
    low = Video(tensor=torch.rand(2, 3, spec.frames, spec.height, spec.width, generator=torch.Generator().manual_seed(0))
                * 2 - 1, spec=spec)
    outs = []
    for w in (0.0, 2.0):
        st = tiny(TemporalSRStage, sampling={"steps": 3, "guidance": 1.0, "reconstruction_guidance": w})
        with torch.no_grad():  # off the zero-initialised output, so x0 depends on z_t
            for p in st.network.parameters():
                p.add_(0.05)
        outs.append(st({"video": low}, generator=torch.Generator().manual_seed(1), progress=False).tensor)
    plain, guided = outs
    assert torch.allclose(guided[:, :, ::2], low.tensor, atol=1e-5) and torch.allclose(plain[:, :, ::2], low.tensor,
                                                                                        atol=1e-5)
    assert (guided[:, :, 1::2] - plain[:, :, 1::2]).abs().max() > 1e-4
