"""The noise schedule: one diffusers DDPMScheduler config shared by training and every sampler."""

from __future__ import annotations

from typing import Any, Literal, Mapping

import torch
from diffusers import DDPMScheduler

Prediction = Literal["v", "epsilon", "sample"]

# cascade's parametrisation names -> diffusers `prediction_type`
PREDICTION_TYPES: dict[str, str] = {"v": "v_prediction", "epsilon": "epsilon", "sample": "sample"}
BETA_SCHEDULES: dict[str, str] = {"cosine": "squaredcos_cap_v2", "linear": "linear"}


def make_scheduler_config(schedule: Literal["cosine", "linear"] = "cosine", num_train_timesteps: int = 1000,
                          prediction: Prediction = "v") -> dict[str, Any]:
    """A JSON-safe DDPMScheduler config; every diffusers sampler is built `.from_config` of it.

    Cosine (Nichol & Dhariwal 2021) already ends at SNR 2.4e-9 at T-1, so it is not rescaled to
    zero-terminal SNR; clipping and thresholding are off because guidance.py thresholds x0 itself.
    """
    if schedule not in BETA_SCHEDULES:
        raise ValueError(f"unknown noise schedule '{schedule}'; choose one of {', '.join(BETA_SCHEDULES)}")
    if prediction not in PREDICTION_TYPES:
        raise ValueError(f"unknown prediction '{prediction}'; choose one of {', '.join(PREDICTION_TYPES)}")
    if num_train_timesteps < 2:
        raise ValueError(f"num_train_timesteps must be at least 2, got {num_train_timesteps}")
    scale = 1000 / num_train_timesteps  # Ho et al. 2020 linear betas are for T=1000; keep the same total noise
    scheduler = DDPMScheduler(
        num_train_timesteps=num_train_timesteps,
        beta_schedule=BETA_SCHEDULES[schedule],
        beta_start=1e-4 * scale,
        beta_end=min(0.02 * scale, 0.999),
        prediction_type=PREDICTION_TYPES[prediction],
        clip_sample=False,
        thresholding=False,
        timestep_spacing="trailing",
        rescale_betas_zero_snr=False,
    )
    return {k: v for k, v in scheduler.config.items() if not k.startswith("_")}


class NoiseSchedule:
    """alpha_t, sigma_t (variance preserving: alpha² + sigma² = 1) at the integer training timesteps."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = dict(config)
        scheduler = DDPMScheduler.from_config(self.config)
        self.num_train_timesteps: int = scheduler.config.num_train_timesteps
        self.prediction_type: str = scheduler.config.prediction_type
        ac = scheduler.alphas_cumprod.double()  # (T,) computed once in float64, stored as float32
        self.alphas_cumprod = ac.float()
        self.alphas = ac.sqrt().float()
        self.sigmas = (1 - ac).sqrt().float()
        self.snrs = (ac / (1 - ac)).float()
        self._cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if device not in self._cache:
            self._cache[device] = (self.alphas.to(device), self.sigmas.to(device), self.snrs.to(device))
        return self._cache[device]

    def index(self, t: torch.Tensor) -> torch.Tensor:
        """Integer timesteps (B,) in [0, T-1]; float input (diffusers Euler) is rounded to the grid."""
        t = torch.as_tensor(t)
        if t.is_floating_point():
            t = t.round()
        return t.long().clamp(0, self.num_train_timesteps - 1)

    def alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha_t, sigma_t), each (B,) float32 on t's device, for integer timesteps t (B,)."""
        t = self.index(t)
        alphas, sigmas, _ = self._tables(t.device)
        return alphas[t], sigmas[t]

    def snr(self, t: torch.Tensor) -> torch.Tensor:
        """Signal-to-noise ratio alpha_t² / sigma_t², (B,) float32."""
        t = self.index(t)
        return self._tables(t.device)[2][t]

    def __repr__(self) -> str:
        return (f"NoiseSchedule({self.config.get('beta_schedule')}, T={self.num_train_timesteps}, "
                f"{self.prediction_type})")
