"""The one conditioning contract of a conditional stage: `degrade(truth) -> low`, `condition(low) -> Conditioning`.

Training runs `condition(degrade(truth), training=True)` on real clips; sampling runs `condition(input)` on what the
stage below made. A training-free baseline stage (blend, bicubic) is its own small stage with the same `degrade`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch


@dataclass
class Conditioning:
    """What a conditional stage hands the denoiser for one low-quality input.

    network: keyword arguments of the network (`cond`: the upsampled input channel-concatenated to the noisy
      video, Imagen Video; `aug_level`: the noise-augmentation level, Imagen Video §2.6).
    known, known_mask: (B, C, F, H, W) output frames the sampler keeps (Make-A-Video masked interpolation).
    residual_base: (B, C, F, H, W) what a residual stage's output is added to.
    """

    network: dict[str, Any] = field(default_factory=dict)
    known: torch.Tensor | None = None
    known_mask: torch.Tensor | None = None
    residual_base: torch.Tensor | None = None

    @property
    def aug_level(self) -> torch.Tensor | None:
        return self.network.get("aug_level")


@runtime_checkable
class ConditionalStage(Protocol):
    """A stage that turns a low-quality video into a better one, and knows how to make its input from a real clip."""

    def degrade(self, truth: torch.Tensor) -> torch.Tensor:
        """(B, C, F, H, W) ground truth at the output spec -> the input this stage would get for it."""
        ...

    def baseline(self, low: torch.Tensor) -> torch.Tensor:
        """The training-free estimate of the output from an input (blend, bicubic): what it must beat."""
        ...

    def scored_frames(self) -> torch.Tensor | None:
        """(F,) bool: the output frames that evaluation compares with the truth (None: all of them)."""
        ...
