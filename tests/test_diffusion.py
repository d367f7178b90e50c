"""cascade.diffusion: schedule, denoiser algebra, loss, guidance, samplers, augmentation (CPU, seconds)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from diffusers import DDPMScheduler
from torch import nn

from cascade.diffusion import (
    SAMPLERS,
    Denoiser,
    NoiseSchedule,
    cfg,
    diffusion_loss,
    dynamic_threshold,
    frame_jitter,
    make_sampler,
    make_scheduler_config,
    masked_mean,
    min_snr_weight,
    noise_augment,
    oscillating_scale,
    sample_aug_level,
)
from cascade.diffusion import sample as step_sampler
from cascade.diffusion.guidance import (Conditioned, KnownFrames, ReconstructionGuided, Thresholded,
                                        oscillation_warmup)
from cascade.diffusion.sampling import network_device_dtype


def sample(denoiser, shape, cond, *, uncond=None, sampler="dpmsolver++", steps=25, guidance=1.0, oscillating=False,
           dynamic_thresholding=False, generator=None, x_init=None, known=None, known_mask=None,
           reconstruction_guidance=0.0):
    """The denoiser wrapped in guidance as a stage wraps it (DiffusionStage.guided_model), then stepped."""
    model = Conditioned(denoiser, cond, uncond, scale=guidance, dtype=network_device_dtype(denoiser)[1],
                        oscillate_after=oscillation_warmup(steps) if oscillating else None)
    if reconstruction_guidance > 0:
        model = ReconstructionGuided(model, denoiser, known, known_mask, reconstruction_guidance)
    if dynamic_thresholding:
        model = Thresholded(model)
    if known is not None:
        model = KnownFrames(model, denoiser, known, known_mask, generator)
    return step_sampler(model, denoiser, shape, sampler=sampler, steps=steps, generator=generator, noise=x_init)

SHAPE = (2, 3, 4, 4, 4)  # (B, C, F, H, W)
PREDICTIONS = ["v", "epsilon", "sample"]


def schedule_for(prediction: str = "v", schedule: str = "cosine", T: int = 1000) -> NoiseSchedule:
    return NoiseSchedule(make_scheduler_config(schedule, T, prediction))


class Oracle(nn.Module):
    """Network stand-in that knows x0 (the `cond` kwarg, else a fixed tensor) and returns its exact target.

    text_drop (B,) bool selects zeros as the x0 of dropped samples; every call is recorded.
    """

    def __init__(self, schedule: NoiseSchedule, prediction: str, x0: torch.Tensor | None = None):
        super().__init__()
        self.helper = Denoiser(nn.Identity(), schedule, prediction)
        self.x0 = x0
        self.calls: list[dict] = []

    def forward(self, sample, timestep, encoder_hidden_states=None, encoder_attention_mask=None, pooled=None,
                cond=None, aug_level=None, text_drop=None, image_mask=None):
        self.calls.append({"sample": sample.detach().clone(), "timestep": timestep.clone(), "text_drop": text_drop})
        t = timestep * self.helper.num_train_timesteps / 1000  # undo c_noise
        x0 = (cond if cond is not None else self.x0.expand_as(sample)).to(sample)
        if text_drop is not None:
            x0 = torch.where(text_drop.view(-1, 1, 1, 1, 1), torch.zeros_like(x0), x0)
        alpha, sigma = self.helper.schedule.alpha_sigma(t)
        eps = (sample - alpha.view(-1, 1, 1, 1, 1) * x0) / sigma.view(-1, 1, 1, 1, 1)
        return self.helper.target(x0, eps, t)


class GaussianOracle(nn.Module):
    """Exact E[x0 | x_t] for data x0 ~ N(mu, s²) elementwise: the probability-flow ODE is known in closed form."""

    def __init__(self, schedule: NoiseSchedule, prediction: str, mu: float, s: float):
        super().__init__()
        self.helper = Denoiser(nn.Identity(), schedule, prediction)
        self.mu, self.s = mu, s

    def forward(self, sample, timestep, **cond):
        t = timestep * self.helper.num_train_timesteps / 1000
        alpha, sigma = self.helper.schedule.alpha_sigma(t)
        a, g = alpha.view(-1, 1, 1, 1, 1), sigma.view(-1, 1, 1, 1, 1)
        x0 = self.mu + a * self.s**2 / (a**2 * self.s**2 + g**2) * (sample - a * self.mu)
        return self.helper.target(x0, (sample - a * x0) / g, t)


class FiLMNet(nn.Module):
    """Tiny trainable stand-in (3.6k params): out = a(t) * sample + b(t), a and b per element from an MLP."""

    def __init__(self, numel: int, hidden: int = 32, freqs: int = 6):
        super().__init__()
        self.freqs = freqs
        self.mlp = nn.Sequential(nn.Linear(2 * freqs, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 2 * numel))

    def forward(self, sample, timestep, **cond):
        ang = timestep.float()[:, None] / 1000 * math.pi * 2.0 ** torch.arange(self.freqs)  # (B, freqs)
        a, b = self.mlp(torch.cat([ang.sin(), ang.cos()], 1).to(sample.dtype)).chunk(2, dim=1)  # (B, numel) each
        return a.view_as(sample) * sample + b.view_as(sample)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- schedule -------------------------------------------------------------------------------------
def test_scheduler_config_is_a_json_ddpm_config():
    c = make_scheduler_config("cosine", 1000, "v")
    assert c["beta_schedule"] == "squaredcos_cap_v2" and c["prediction_type"] == "v_prediction"
    assert c["clip_sample"] is False
    assert json.loads(json.dumps(c)) == c
    assert make_scheduler_config("linear", 1000, "epsilon")["prediction_type"] == "epsilon"
    lin = make_scheduler_config("linear", 500, "sample")
    assert lin["beta_end"] == pytest.approx(0.04) and lin["prediction_type"] == "sample"
    with pytest.raises(ValueError, match="schedule"):
        make_scheduler_config("sigmoid")
    with pytest.raises(ValueError, match="prediction"):
        make_scheduler_config(prediction="x0")


def test_noise_schedule_matches_diffusers_and_is_variance_preserving():
    s = schedule_for("v")
    ref = DDPMScheduler.from_config(make_scheduler_config()).alphas_cumprod
    t = torch.tensor([0, 1, 500, 998, 999])
    alpha, sigma = s.alpha_sigma(t)
    assert alpha.shape == (5,) and alpha.dtype == torch.float32
    torch.testing.assert_close(alpha**2, ref[t], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(alpha**2 + sigma**2, torch.ones(5))
    all_alpha, _ = s.alpha_sigma(torch.arange(1000))
    assert (all_alpha[1:] < all_alpha[:-1]).all()  # signal decreases with t
    torch.testing.assert_close(s.snr(t), alpha**2 / sigma**2, rtol=1e-4, atol=0)
    assert s.snr(torch.tensor([999])).item() < 1e-8  # cosine: terminal SNR is already ~0
    torch.testing.assert_close(s.alpha_sigma(torch.tensor([500.2]))[0], alpha[2:3])  # float t rounds to the grid


# -- denoiser algebra -----------------------------------------------------------------------------
@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_target_and_predictions_are_inverses(prediction):
    d = Denoiser(nn.Identity(), schedule_for(prediction), prediction)
    g = gen()
    x0, eps = torch.randn(SHAPE, generator=g), torch.randn(SHAPE, generator=g)
    t = torch.tensor([3, 900])
    x_t = d.q_sample(x0, t, eps)
    out = d.target(x0, eps, t)
    assert out.shape == SHAPE
    torch.testing.assert_close(d.predict_x0(x_t, t, out), x0, atol=2e-4, rtol=0)
    torch.testing.assert_close(d.predict_eps(x_t, t, out), eps, atol=2e-4, rtol=0)
    torch.testing.assert_close(d.output_from_x0(x_t, t, x0), out, atol=2e-4, rtol=0)
    if prediction == "v":  # Salimans & Ho: v = alpha*eps - sigma*x0
        alpha, sigma = d.schedule.alpha_sigma(t)
        torch.testing.assert_close(out, alpha.view(-1, 1, 1, 1, 1) * eps - sigma.view(-1, 1, 1, 1, 1) * x0)


def test_q_sample_statistics_and_c_noise():
    d = Denoiser(nn.Identity(), schedule_for(), "v")
    x0 = torch.full((4000, 1, 1, 2, 2), 0.7)
    t = torch.full((4000,), 300)
    x_t = d.q_sample(x0, t, torch.randn(x0.shape, generator=gen()))
    alpha, sigma = d.schedule.alpha_sigma(torch.tensor([300]))
    assert x_t.mean().item() == pytest.approx(0.7 * alpha.item(), abs=0.02)
    assert x_t.std().item() == pytest.approx(sigma.item(), rel=0.03)
    assert d.c_noise(torch.tensor([999])).item() == pytest.approx(999.0)
    d500 = Denoiser(nn.Identity(), schedule_for(T=500), "v")
    assert d500.c_noise(torch.tensor([250])).item() == pytest.approx(500.0)


# -- loss -----------------------------------------------------------------------------------------
def test_min_snr_weights_are_finite_and_follow_the_formula():
    s = schedule_for()
    snr = s.snr(torch.tensor([0, 300, 999]))
    for prediction in PREDICTIONS:
        w = min_snr_weight(snr, 5.0, prediction)
        assert torch.isfinite(w).all() and (w >= 0).all()
    torch.testing.assert_close(min_snr_weight(snr, 5.0, "v"), torch.minimum(snr, torch.tensor(5.0)) / (snr + 1))
    torch.testing.assert_close(min_snr_weight(snr, 5.0, "epsilon"), torch.minimum(snr, torch.tensor(5.0)) / snr)
    torch.testing.assert_close(min_snr_weight(snr, 5.0, "sample"), torch.minimum(snr, torch.tensor(5.0)))
    assert min_snr_weight(torch.tensor([0.0]), 5.0, "epsilon").item() == 1.0  # zero SNR stays finite


def test_loss_is_deterministic_positive_and_weighted():
    torch.manual_seed(0)
    d = Denoiser(FiLMNet(numel=3 * 4 * 4 * 4), schedule_for(), "v")
    x0 = torch.rand(SHAPE, generator=gen(1)) * 2 - 1
    a = diffusion_loss(d, x0, {}, generator=gen(5))
    b = diffusion_loss(d, x0, {}, generator=gen(5))
    c = diffusion_loss(d, x0, {}, generator=gen(6))
    assert a.shape == (2,) and (a > 0).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    t, noise = torch.tensor([10, 700]), torch.randn(SHAPE, generator=gen(2))
    plain = diffusion_loss(d, x0, {}, generator=gen(), min_snr_gamma=None, t=t, noise=noise)
    manual = ((d(d.q_sample(x0, t, noise), t) - d.target(x0, noise, t)) ** 2).mean(dim=(1, 2, 3, 4))
    torch.testing.assert_close(plain, manual)
    weighted = diffusion_loss(d, x0, {}, generator=gen(), min_snr_gamma=5.0, t=t, noise=noise)
    torch.testing.assert_close(weighted, manual * min_snr_weight(d.schedule.snr(t), 5.0, "v"))


def test_masked_mean():
    x = torch.arange(8.0).view(2, 4)
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 1]], dtype=torch.bool)
    torch.testing.assert_close(masked_mean(x), torch.tensor([1.5, 5.5]))
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([0.5, 7.0]))


# -- guidance -------------------------------------------------------------------------------------
def test_cfg_and_oscillating_scale():
    c, u = torch.randn(SHAPE, generator=gen(1)), torch.randn(SHAPE, generator=gen(2))
    assert torch.equal(cfg(c, u, 1.0), c)
    torch.testing.assert_close(cfg(c, u, 3.0), u + 3.0 * (c - u))
    assert [oscillating_scale(i, 7.0, 1.0, warmup_steps=2) for i in range(6)] == [7, 7, 7, 1, 7, 1]
    assert [oscillating_scale(i, 5.0, 2.0) for i in range(3)] == [5, 2, 5]
    assert oscillation_warmup(25) == 3


def test_dynamic_threshold():
    inside = torch.rand(SHAPE, generator=gen()) * 1.8 - 0.9
    assert torch.equal(dynamic_threshold(inside), inside)  # s = 1: unchanged
    x = torch.randn(SHAPE, generator=gen(1)) * 3
    y = dynamic_threshold(x, 0.9)
    assert y.shape == SHAPE and y.abs().max() <= 1.0
    flat = x.abs().flatten(1)
    s = torch.quantile(flat, 0.9, dim=1, interpolation="higher").clamp(min=1).view(-1, 1, 1, 1, 1)
    torch.testing.assert_close(y, x.clamp(-s, s) / s)
    assert torch.allclose(y.abs().flatten(1).amax(1), torch.ones(2))  # each sample reaches exactly ±1


# -- samplers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_oracle_denoiser_samples_its_x0(sampler, prediction):
    x0 = torch.rand(SHAPE, generator=gen(3)) * 2 - 1
    schedule = schedule_for(prediction)
    net = Oracle(schedule, prediction, x0)
    out = sample(Denoiser(net, schedule, prediction), SHAPE, {}, sampler=sampler, steps=8, generator=gen())
    assert out.shape == SHAPE and out.dtype == torch.float32
    torch.testing.assert_close(out, x0, atol=1e-3, rtol=0)
    assert len(net.calls) == 8


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_samplers_solve_the_gaussian_probability_flow_ode(sampler):
    """x0 ~ N(mu, s²): the ODE maps noise z to mu + s*z; DPM-Solver++ is 2nd order, DDIM/Euler converge."""
    schedule, mu, s = schedule_for("v"), 0.3, 0.5
    d = Denoiser(GaussianOracle(schedule, "v", mu, s), schedule, "v")
    z = torch.randn(SHAPE, generator=gen(4))
    alpha, sigma = schedule.alpha_sigma(torch.tensor([999]))
    exact = mu + s * (z - alpha * mu) / (alpha**2 * s**2 + sigma**2).sqrt()
    err = {n: (sample(d, SHAPE, {}, sampler=sampler, steps=n, x_init=z) - exact).abs().max().item()
           for n in (25, 100)}
    if sampler == "dpmsolver++":
        assert err[25] < 3e-3
    else:
        assert err[25] < 0.2 and err[100] < err[25] / 2.5  # first order: ~4x less error for 4x the steps


def test_batched_cfg_is_one_call_per_step_and_guides_x0():
    schedule = schedule_for("v")
    net = Oracle(schedule, "v")
    a = torch.rand(SHAPE, generator=gen(1)) * 0.5
    d = Denoiser(net, schedule, "v")
    uncond_drop = torch.ones(2, dtype=torch.bool)  # the stage's uncond: same kwargs + text_drop
    out = sample(d, SHAPE, {"cond": a}, uncond={"cond": a, "text_drop": uncond_drop}, sampler="ddim", steps=6,
                 guidance=3.0, generator=gen())
    assert len(net.calls) == 6
    assert all(c["sample"].shape[0] == 4 for c in net.calls)  # cond and uncond in one batch
    assert net.calls[0]["text_drop"].tolist() == [False, False, True, True]  # cond first
    torch.testing.assert_close(out, 3.0 * a, atol=1e-3, rtol=0)  # x0 = uncond(0) + 3 * (a - 0)


def test_oscillating_guidance_skips_uncond_on_low_steps():
    schedule = schedule_for("v")
    net = Oracle(schedule, "v")
    a = torch.rand(SHAPE, generator=gen(1))
    sample(Denoiser(net, schedule, "v"), SHAPE, {"cond": a}, uncond={"cond": torch.zeros_like(a)},
           sampler="dpmsolver++", steps=10, guidance=5.0, oscillating=True, generator=gen())
    assert [c["sample"].shape[0] for c in net.calls] == [4, 4, 2, 4, 2, 4, 2, 4, 2, 4]  # warmup 1, then alternate


def test_cfg_without_uncond_is_an_error():
    schedule = schedule_for("v")
    with pytest.raises(ValueError, match="uncond"):
        sample(Denoiser(Oracle(schedule, "v", torch.zeros(SHAPE)), schedule, "v"), SHAPE, {}, guidance=2.0)


def test_dynamic_thresholding_in_sampling_keeps_x0_in_range():
    schedule = schedule_for("v")
    x0 = torch.randn(SHAPE, generator=gen(2)) * 3  # far outside [-1, 1]
    out = sample(Denoiser(Oracle(schedule, "v", x0), schedule, "v"), SHAPE, {}, steps=5,
                 dynamic_thresholding=True, generator=gen())
    assert out.abs().max() <= 1.0 + 1e-4
    assert torch.corrcoef(torch.stack([out.flatten(), x0.flatten()]))[0, 1] > 0.9


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_known_frames_are_renoised_each_step_and_returned_exactly(sampler):
    schedule = schedule_for("v")
    x0 = torch.rand(SHAPE, generator=gen(1)) * 2 - 1
    known = torch.rand(SHAPE, generator=gen(2)) * 2 - 1
    mask = torch.zeros(SHAPE, dtype=torch.bool)
    mask[:, :, ::2] = True  # frames 0 and 2 given (temporal SR)
    net = Oracle(schedule, "v", x0)
    out = sample(Denoiser(net, schedule, "v"), SHAPE, {}, sampler=sampler, steps=6, generator=gen(),
                 known=known * mask, known_mask=mask)
    assert torch.equal(out[mask], known[mask])
    torch.testing.assert_close(out[~mask], x0[~mask], atol=1e-3, rtol=0)
    for call in net.calls:  # the network sees known frames at this step's noise level: alpha*known + sigma*N(0, 1)
        t = call["timestep"] * schedule.num_train_timesteps / 1000
        alpha, sigma = schedule.alpha_sigma(t[:1])
        z = (call["sample"][mask] - alpha * known[mask]) / sigma
        assert z.mean().abs() < 0.25 and z.std().item() == pytest.approx(1.0, abs=0.25)


def test_reconstruction_guidance_pulls_unknown_frames_toward_the_known():
    """One DDIM step, and a net whose x0 is the frame mean of z: x0_1 = m + (w*alpha/2) * (known_0 - m)."""

    class FrameMean(nn.Module):
        def __init__(self, schedule):
            super().__init__()
            self.helper, self.seen = Denoiser(nn.Identity(), schedule, "v"), []

        def forward(self, sample, timestep, **cond):
            self.seen.append(sample.detach().clone())
            t = timestep * self.helper.num_train_timesteps / 1000
            x0 = sample.mean(dim=2, keepdim=True).expand_as(sample)
            alpha, sigma = self.helper.schedule.alpha_sigma(t)
            return self.helper.target(x0, (sample - alpha.view(-1, 1, 1, 1, 1) * x0) / sigma.view(-1, 1, 1, 1, 1), t)

    shape = (1, 2, 2, 3, 3)
    schedule = schedule_for("v")
    net = FrameMean(schedule)
    known = torch.zeros(shape)
    known[:, :, 0] = 0.8
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[:, :, 0] = True
    w = 1e4
    out = sample(Denoiser(net, schedule, "v"), shape, {}, sampler="ddim", steps=1, generator=gen(),
                 known=known, known_mask=mask, reconstruction_guidance=w)
    m = net.seen[-1].mean(dim=2)  # (B, C, H, W)
    alpha = schedule.alpha_sigma(torch.tensor([999]))[0].item()
    torch.testing.assert_close(out[:, :, 1], m + w * alpha / 2 * (0.8 - m), atol=1e-4, rtol=1e-4)
    assert torch.equal(out[:, :, 0], known[:, :, 0])


def test_make_sampler_uses_the_denoisers_parametrisation():
    for prediction in PREDICTIONS:
        d = Denoiser(nn.Identity(), schedule_for(prediction), prediction)
        for name in SAMPLERS:
            sch = make_sampler(name, d)
            assert sch.config.prediction_type == d.prediction_type
            sch.set_timesteps(10)
            assert torch.equal(sch.timesteps.float(), sch.timesteps.float().round())  # on the training grid
    assert make_sampler("dpmsolver++", d).config.algorithm_type == "dpmsolver++"
    with pytest.raises(ValueError, match="sampler"):
        make_sampler("plms", d)


def test_tiny_network_trained_with_diffusion_loss_samples_its_target():
    """Train 3.6k params for 300 steps on one fixed 1x1x2x4x4 clip (v-prediction), then sample it back."""
    torch.manual_seed(0)
    g = gen(0)
    target = torch.rand(1, 1, 2, 4, 4, generator=g) * 1.6 - 0.8
    d = Denoiser(FiLMNet(numel=32), schedule_for("v"), "v")
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    lr = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 300)
    for _ in range(300):
        loss = diffusion_loss(d, target.expand(64, -1, -1, -1, -1), {}, generator=g, min_snr_gamma=None).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        lr.step()
    with torch.no_grad():
        for name in SAMPLERS:
            out = sample(d, (4, 1, 2, 4, 4), {}, sampler=name, steps=25, generator=gen(1))
            assert (out - target).abs().max() < 0.1, name
        untrained = Denoiser(FiLMNet(numel=32), schedule_for("v"), "v")
        assert (sample(untrained, (4, 1, 2, 4, 4), {}, generator=gen(1)) - target).abs().max() > 0.3


# -- augmentation ---------------------------------------------------------------------------------
def test_noise_augment():
    x = torch.rand(SHAPE, generator=gen()) * 2 - 1
    assert torch.equal(noise_augment(x, 0.0, gen()), x)
    assert torch.equal(noise_augment(x, torch.tensor([0.0, 0.0]), gen()), x)
    a, b = noise_augment(x, 0.3, gen(1)), noise_augment(x, 0.3, gen(1))
    assert torch.equal(a, b) and not torch.equal(a, x)
    mixed = noise_augment(x, torch.tensor([0.0, 1.0]), gen(2))
    assert torch.equal(mixed[0], x[0])
    assert torch.corrcoef(torch.stack([mixed[1].flatten(), x[1].flatten()]))[0, 1].abs() < 0.3  # ~pure noise
    big = torch.full((2000, 1, 1, 2, 2), 0.5)
    y = noise_augment(big, 0.5, gen(3))
    alpha, sigma = schedule_for().alpha_sigma(torch.tensor([round(0.5 * 999)]))
    assert y.mean().item() == pytest.approx(0.5 * alpha.item(), abs=0.02)
    assert y.std().item() == pytest.approx(sigma.item(), rel=0.05)
    with pytest.raises(ValueError):
        noise_augment(x, 1.5, gen())


def test_sample_aug_level():
    lv = sample_aug_level(1000, 0.4, gen(0))
    assert lv.shape == (1000,) and lv.min() >= 0 and lv.max() <= 0.4 and lv.max() > 0.35
    assert torch.equal(lv, sample_aug_level(1000, 0.4, gen(0)))


def test_frame_jitter_is_per_frame_smooth_and_seeded():
    x = torch.zeros(64, 3, 6, 16, 16)
    assert torch.equal(frame_jitter(x, 0.0, gen()), x)
    y = frame_jitter(x, 0.1, gen(1))
    assert torch.equal(y, frame_jitter(x, 0.1, gen(1))) and y.shape == x.shape
    means = y.mean(dim=(3, 4))  # (B, C, F): every frame and channel moved on its own
    assert means.std(dim=2).mean() > 0.02
    per_clip = y.flatten(1).std(1)
    assert per_clip.max() < 0.25 and per_clip.min() < per_clip.max() / 4  # std drawn per clip in [0, 0.1]
    neighbour = (y[..., 1:] - y[..., :-1]).abs().mean()
    assert neighbour < 0.3 * y.abs().mean()  # low frequency: flicker, not grain (iid noise: 1.4)
    with pytest.raises(ValueError):
        frame_jitter(x, -0.1, gen())


# -- integration with the stage runtime -------------------------------------------------------------
def test_rewrapped_denoiser_and_bf16_network():
    from cascade.diffusion_stage import rewrap  # how training swaps in the EMA / DDP copy of the network

    schedule = schedule_for("v")
    d = Denoiser(Oracle(schedule, "v", torch.zeros(SHAPE)), schedule, "v")
    other = Oracle(schedule, "v", torch.full(SHAPE, 0.5))
    r = rewrap(d, other)
    assert r.network is other and d.network is not other and r.schedule is schedule
    torch.testing.assert_close(sample(r, SHAPE, {}, steps=4, generator=gen()), torch.full(SHAPE, 0.5),
                               atol=1e-3, rtol=0)
    bf16 = Denoiser(FiLMNet(numel=3 * 4 * 4 * 4).to(torch.bfloat16), schedule, "v")
    out = sample(bf16, SHAPE, {}, steps=3, generator=gen())
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
