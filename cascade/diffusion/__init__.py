"""Diffusion math shared by every learned stage: schedule, denoiser, loss, guidance, samplers, augmentation."""

from cascade.diffusion.augment import frame_jitter, noise_augment, sample_aug_level
from cascade.diffusion.denoiser import Denoiser
from cascade.diffusion.guidance import (Conditioned, KnownFrames, ReconstructionGuided, Thresholded, cfg,
                                       dynamic_threshold, oscillating_scale)
from cascade.diffusion.loss import diffusion_loss, masked_mean, min_snr_weight
from cascade.diffusion.sampling import SAMPLERS, make_sampler, sample
from cascade.diffusion.schedule import NoiseSchedule, make_scheduler_config

__all__ = [
    "Conditioned",
    "KnownFrames",
    "ReconstructionGuided",
    "Thresholded",
    "Denoiser",
    "NoiseSchedule",
    "SAMPLERS",
    "cfg",
    "diffusion_loss",
    "dynamic_threshold",
    "frame_jitter",
    "make_sampler",
    "make_scheduler_config",
    "masked_mean",
    "min_snr_weight",
    "noise_augment",
    "oscillating_scale",
    "sample",
    "sample_aug_level",
]
