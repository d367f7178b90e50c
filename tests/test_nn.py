"""SpaceTimeUNet and its temporal mixers: shapes, gradients, identity init, causality, joint image-video
batches, save/load, and a tiny model overfitting a clip."""

from __future__ import annotations

import pytest
import torch

from cascade.nn import MIXERS, SpaceTimeUNet, build_mixer

TINY = dict(base_channels=8, channel_mults=(1, 2), attention_levels=(False, True), heads=2, text_dim=16)
FAMILIES = ["attention", "pseudo3d", "conv_attention", "shift", "causal", "swap", "alpha"]


def _inputs(b=2, f=4, size=8, seed=0, text_dim=16):
    g = torch.Generator().manual_seed(seed)
    return dict(sample=torch.randn(b, 3, f, size, size, generator=g), timestep=torch.rand(b, generator=g) * 1000,
                encoder_hidden_states=torch.randn(b, 5, text_dim, generator=g),
                encoder_attention_mask=torch.tensor([[1, 1, 1, 0, 0]] * b, dtype=torch.bool),
                pooled=torch.randn(b, text_dim, generator=g))


def _randomise(model: torch.nn.Module, seed: int = 1) -> None:
    """Give every parameter random values so zero/identity inits do not hide a broken path."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def test_registry_has_every_family():
    assert set(FAMILIES) <= set(MIXERS)
    with pytest.raises(ValueError, match="unknown temporal mixer 'nope'"):
        build_mixer("nope", 8)


@pytest.mark.parametrize("name", FAMILIES)
def test_mixer_shape_and_gradients(name):
    mixer = build_mixer(name, 8, heads=2, max_frames=8, block_index=1)
    x = torch.randn(2, 8, 5, 4, 6, requires_grad=True)  # (B, C, F, H, W)
    out = mixer(x)
    assert out.shape == x.shape
    params = list(mixer.parameters())
    if name == "shift":
        assert params == []  # Latent-Shift has no parameters
    _randomise(mixer)
    mixer(x).pow(2).sum().backward()
    for p in mixer.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: a parameter got no gradient"
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", FAMILIES)
def test_unet_shape_and_gradients_with_each_mixer(name):
    net = SpaceTimeUNet(temporal_mixer=name, **TINY)
    inp = _inputs()
    out = net(**inp)
    assert out.shape == inp["sample"].shape
    _randomise(net)
    net(**inp).pow(2).mean().backward()
    temporal = list(net.temporal_parameters())
    assert (len(temporal) == 0) == (name == "shift")
    assert all(p.grad is not None for p in temporal)


def _spatial_copy(video_net: SpaceTimeUNet) -> SpaceTimeUNet:
    """The per-frame image model (temporal_mixer='none') with the video model's spatial weights."""
    image = SpaceTimeUNet(temporal_mixer="none", **TINY)
    image.load_state_dict({k: v for k, v in video_net.state_dict().items() if ".mixer." not in k}, strict=True)
    return image


@pytest.mark.parametrize("kind", ["pseudo3d", "alpha"])
def test_identity_init_gives_the_image_models_output(kind):
    """Make-A-Video / Video LDM: a fresh temporal layer leaves the (trained) image model's output exactly."""
    torch.manual_seed(0)
    kw = dict(temporal_mixer="pseudo3d") if kind == "pseudo3d" else dict(temporal_mixer="attention", alpha_wrap=True)
    video = SpaceTimeUNet(**kw, **TINY)
    with torch.no_grad():  # a "pretrained" image model: non-zero spatial weights, fresh temporal layers
        g = torch.Generator().manual_seed(3)
        for p in video.spatial_parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    image = _spatial_copy(video)
    inp = _inputs()
    torch.testing.assert_close(video(**inp), image(**inp), rtol=0, atol=1e-6)
    # and the temporal path is live: moving the temporal weights changes the output
    with torch.no_grad():
        for p in video.temporal_parameters():
            p.add_(0.3)
    assert not torch.allclose(video(**inp), image(**inp), atol=1e-4)


def test_freeze_spatial_trains_only_temporal_layers():
    net = SpaceTimeUNet(temporal_mixer="attention", alpha_wrap=True, freeze_spatial=True, **TINY)
    assert all(not p.requires_grad for p in net.spatial_parameters())
    assert all(p.requires_grad for p in net.temporal_parameters())


@pytest.mark.parametrize("level", ["mixer", "unet"])
def test_causal_frames_do_not_see_the_future(level):
    torch.manual_seed(0)
    model = build_mixer("causal", 8, heads=2) if level == "mixer" else SpaceTimeUNet(temporal_mixer="causal", **TINY)
    _randomise(model)
    if level == "mixer":
        x = torch.randn(1, 8, 6, 4, 4)
        run = model
    else:
        inp = _inputs(b=1, f=6)
        x = inp.pop("sample")

        def run(v):
            return model(v, **inp)
    t = 2
    y = x.clone()
    y[:, :, t + 1:] += torch.randn_like(y[:, :, t + 1:])
    a, b = run(x), run(y)
    torch.testing.assert_close(a[:, :, :t + 1], b[:, :, :t + 1], rtol=0, atol=1e-5)
    assert not torch.allclose(a[:, :, t + 1:], b[:, :, t + 1:])


def test_non_causal_attention_does_see_the_future():
    net = SpaceTimeUNet(temporal_mixer="attention", **TINY)
    _randomise(net)
    inp = _inputs(b=1, f=6)
    y = inp["sample"].clone()
    y[:, :, 4:] += 1
    assert not torch.allclose(net(**inp)[:, :, :3], net(**dict(inp, sample=y))[:, :, :3])


@pytest.mark.parametrize("name", ["attention", "pseudo3d", "swap", "shift"])
def test_images_in_a_joint_batch_skip_temporal_mixing(name):
    """VDM joint training: an image sample's frames are independent images, whatever its batch-mates hold."""
    net = SpaceTimeUNet(temporal_mixer=name, **TINY)
    _randomise(net)
    inp = _inputs(b=2, f=4)
    mask = torch.tensor([True, False])
    out = net(**inp, image_mask=mask)
    # change the video batch-mate and another frame of the image sample: the image sample's frame 0 is unchanged
    x = inp["sample"].clone()
    x[1] += 1.0
    x[0, :, 2] += 1.0
    out2 = net(**dict(inp, sample=x), image_mask=mask)
    torch.testing.assert_close(out[0, :, 0], out2[0, :, 0], rtol=0, atol=1e-5)
    assert not torch.allclose(out[1], out2[1])
    # the same frame run alone as a 1-frame image batch gives the same output
    single = {k: (v[:1, :, :1] if k == "sample" else v[:1]) for k, v in inp.items()}
    torch.testing.assert_close(net(**single, image_mask=mask[:1])[0, :, 0], out[0, :, 0], rtol=0, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    net = SpaceTimeUNet(temporal_mixer="conv_attention", patch_size=2, cond_channels=2, use_aug_level=True, **TINY)
    _randomise(net)
    net.save_pretrained(tmp_path / "net")
    assert (tmp_path / "net" / "diffusion_pytorch_model.safetensors").exists()
    loaded = SpaceTimeUNet.from_pretrained(tmp_path / "net")
    inp = _inputs(size=8)
    kw = dict(cond=torch.randn(2, 2, 4, 8, 8), aug_level=torch.tensor([0.1, 0.2]))
    net.eval(), loaded.eval()
    torch.testing.assert_close(net(**inp, **kw), loaded(**inp, **kw), rtol=0, atol=0)


def test_text_drop_uses_the_learned_null_embedding():
    net = SpaceTimeUNet(temporal_mixer="shift", **TINY)
    _randomise(net)
    inp = _inputs()
    dropped = net(**inp, text_drop=torch.tensor([True, True]))
    other = dict(inp, encoder_hidden_states=torch.randn(2, 5, 16), pooled=torch.randn(2, 16))
    torch.testing.assert_close(dropped, net(**other, text_drop=torch.tensor([True, True])))
    assert not torch.allclose(dropped, net(**inp))


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    a = SpaceTimeUNet(temporal_mixer="pseudo3d", **TINY)
    _randomise(a)
    b = SpaceTimeUNet(temporal_mixer="pseudo3d", gradient_checkpointing=True, **TINY)
    b.load_state_dict(a.state_dict())
    inp = _inputs()
    a(**inp).pow(2).mean().backward()
    b(**inp).pow(2).mean().backward()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="attention_levels"):
        SpaceTimeUNet(base_channels=8, channel_mults=(1, 2), attention_levels=(True,))
    with pytest.raises(ValueError, match="heads"):
        SpaceTimeUNet(base_channels=6, channel_mults=(1,), attention_levels=(True,), heads=4)
    with pytest.raises(ValueError, match="divisible by 4"):
        SpaceTimeUNet(patch_size=2, **TINY)(**_inputs(size=6))


def test_tiny_model_overfits_one_clip():
    """The loss of a small network regressing one clip's velocity target falls by 10x in a bounded budget."""
    from cascade.diffusion import Denoiser, NoiseSchedule, diffusion_loss, make_scheduler_config

    torch.manual_seed(0)
    net = SpaceTimeUNet(temporal_mixer="conv_attention", base_channels=16, channel_mults=(1, 2),
                        attention_levels=(False, True), heads=2, use_text=False)
    denoiser = Denoiser(net, NoiseSchedule(make_scheduler_config("cosine", 1000, "v")), prediction="v")
    clip = torch.zeros(1, 3, 4, 8, 8) - 1
    for f in range(4):
        clip[:, 0, f, 2:5, f:f + 3] = 1.0  # a red square moving right
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    fixed_t = torch.full((8,), 500)
    noise = torch.randn(8, 3, 4, 8, 8, generator=g)
    batch = clip.expand(8, -1, -1, -1, -1)

    def loss_fn():
        return diffusion_loss(denoiser, batch, {}, generator=g, t=fixed_t, noise=noise, min_snr_gamma=None).mean()

    first = loss_fn().item()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        if loss.item() < first / 10:
            break
    assert loss.item() < first / 10, f"loss {first:.4f} -> {loss.item():.4f}"
