"""Denoiser: wraps a network and holds the parametrisation, so networks never see the schedule."""

from __future__ import annotations

import torch
from torch import nn

from cascade.diffusion.schedule import PREDICTION_TYPES, NoiseSchedule, Prediction


def expand(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample (B,) values reshaped to broadcast against x (B, ...), in x's dtype."""
    return a.to(x.dtype).view(-1, *([1] * (x.ndim - 1)))


class Denoiser(nn.Module):
    """k-diffusion style wrapper: q_sample, training target, and conversions between x0 / eps / output.

    `network(x_t, c_noise(t), **cond)` returns the model output in `prediction` parametrisation:
    v = alpha*eps - sigma*x0 (Salimans & Ho 2022; Imagen Video §2.4), eps, or x0 ("sample").
    """

    def __init__(self, network: nn.Module, schedule: NoiseSchedule, prediction: Prediction = "v"):
        super().__init__()
        if prediction not in PREDICTION_TYPES:
            raise ValueError(f"unknown prediction '{prediction}'; choose one of {', '.join(PREDICTION_TYPES)}")
        self.network = network
        self.schedule = schedule
        self.prediction = prediction

    @property
    def num_train_timesteps(self) -> int:
        return self.schedule.num_train_timesteps

    @property
    def prediction_type(self) -> str:
        """The diffusers `prediction_type` matching this denoiser's output."""
        return PREDICTION_TYPES[self.prediction]

    def c_noise(self, t: torch.Tensor) -> torch.Tensor:
        """Network time input: t / T * 1000, float (B,).

        The diffusers convention (and the range sinusoidal timestep embeddings are tuned for), independent
        of T; log-SNR would be schedule independent but unbounded at the ends (cosine: about -20..+10).
        """
        return t.float() * (1000.0 / self.num_train_timesteps)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        """Model output (B, C, F, H, W) in this denoiser's parametrisation, for x_t (B, C, F, H, W), t (B,)."""
        return self.network(x_t, self.c_noise(t), **cond)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_t = alpha_t * x0 + sigma_t * eps (Ho et al. 2020, variance preserving)."""
        alpha, sigma = self.schedule.alpha_sigma(t.to(x0.device))
        return expand(alpha, x0) * x0 + expand(sigma, x0) * eps

    def target(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the network should output for (x0, eps) at t."""
        if self.prediction == "epsilon":
            return eps
        if self.prediction == "sample":
            return x0
        alpha, sigma = self.schedule.alpha_sigma(t.to(x0.device))
        return expand(alpha, x0) * eps - expand(sigma, x0) * x0  # Salimans & Ho 2022: v = alpha*eps - sigma*x0

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """x0 implied by a model output at (x_t, t)."""
        if self.prediction == "sample":
            return out
        alpha, sigma = self.schedule.alpha_sigma(t.to(x_t.device))
        a, s = expand(alpha, x_t), expand(sigma, x_t)
        if self.prediction == "epsilon":
            return (x_t - s * out) / a
        return a * x_t - s * out  # v-prediction: x0 = alpha*x_t - sigma*v

    def predict_eps(self, x_t: torch.Tensor, t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """eps implied by a model output at (x_t, t)."""
        if self.prediction == "epsilon":
            return out
        alpha, sigma = self.schedule.alpha_sigma(t.to(x_t.device))
        a, s = expand(alpha, x_t), expand(sigma, x_t)
        if self.prediction == "sample":
            return (x_t - a * out) / s
        return s * x_t + a * out  # v-prediction: eps = sigma*x_t + alpha*v

    def output_from_x0(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """The model output that would imply x0 at (x_t, t): how a guided x0 goes back to the scheduler."""
        if self.prediction == "sample":
            return x0
        alpha, sigma = self.schedule.alpha_sigma(t.to(x_t.device))
        eps = (x_t - expand(alpha, x_t) * x0) / expand(sigma, x_t)
        return self.target(x0, eps, t)
