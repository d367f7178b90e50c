"""autoencoder config: a diffusers AutoencoderKL run per frame, placed as an encoder (pixels -> latents) or a decoder
(latents -> pixels), with the latent scaling measured on the training data (LDM §4.3.2)."""

from __future__ import annotations

import inspect
import math
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cascade.stage import StageConfig
from cascade.types import Spec, VideoSpec

# keys diffusers writes into a model's config.json that are not constructor arguments
DIFFUSERS_META = ("_class_name", "_diffusers_version", "_name_or_path", "_use_default_values")
# the latent affine map lives in the stage config (scaling_factor, shift_factor), not in the VAE settings
LATENT_MAP_KEYS = ("scaling_factor", "shift_factor")


@lru_cache(maxsize=1)
def vae_defaults() -> dict[str, Any]:
    """AutoencoderKL's constructor arguments and their defaults (the fields a `vae` section may set)."""
    from diffusers import AutoencoderKL

    params = inspect.signature(AutoencoderKL.__init__).parameters
    return {k: p.default for k, p in params.items() if k != "self" and p.kind is p.POSITIONAL_OR_KEYWORD}


class AutoencoderConfig(StageConfig):
    """One VAE, two placements: `role: encode` maps pixel frames to latents, `role: decode` maps them back; the
    same weights serve both. `vae` holds AutoencoderKL's settings under diffusers' names, so a diffusers VAE
    folder's config.json is read as it is. `frames`, `fps`, `height` and `width` describe the pixel video."""

    type: Literal["autoencoder"] = "autoencoder"
    role: Literal["encode", "decode"] = "decode"
    frames: int = Field(default=16, gt=0)
    fps: float = Field(default=8.0, gt=0)
    height: int = Field(default=128, gt=0)  # pixel frames
    width: int = Field(default=128, gt=0)
    vae: dict[str, Any] = Field(default_factory=dict)  # AutoencoderKL(**vae)
    # encode: z = (mode - shift_factor) * scaling_factor; decode inverts it. Training measures scaling_factor as
    # 1 / std of the training data's latents (LDM §4.3.2), so the latent stages see unit-variance latents.
    scaling_factor: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    shift_factor: float = Field(default=0.0, allow_inf_nan=False)
    # Video LDM §3.1.1: temporal layers in the decoder (zero-initialised: at init it decodes like the per-frame one)
    temporal_decoder: bool = False

    @field_validator("vae")
    @classmethod
    def _known_vae_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        known = vae_defaults()
        for k in v:
            if k in LATENT_MAP_KEYS:
                raise ValueError(f"'{k}' belongs at the top level of the autoencoder config, not in vae")
            if k not in known:
                raise ValueError(f"unknown AutoencoderKL field '{k}'; known fields: {', '.join(known)}")
        return v

    @model_validator(mode="after")
    def _divisible(self) -> "AutoencoderConfig":
        f = self.downsampling
        if self.height % f or self.width % f:
            raise ValueError(f"frames of {self.height}x{self.width} do not divide by the VAE's downsampling factor {f}")
        return self

    def vae_setting(self, key: str) -> Any:
        return self.vae.get(key, vae_defaults()[key])

    @property
    def downsampling(self) -> int:
        """Pixels per latent along each side: AutoencoderKL halves the size in every block but the last."""
        return 2 ** (len(self.vae_setting("block_out_channels")) - 1)

    @property
    def latent_channels(self) -> int:
        return int(self.vae_setting("latent_channels"))

    def pixel_spec(self) -> VideoSpec:
        return VideoSpec(frames=self.frames, height=self.height, width=self.width, fps=self.fps,
                         channels=int(self.vae_setting("in_channels" if self.role == "encode" else "out_channels")))

    def latent_spec(self) -> VideoSpec:
        f = self.downsampling
        return VideoSpec(frames=self.frames, height=self.height // f, width=self.width // f, fps=self.fps,
                         channels=self.latent_channels, space="latent")

    def input_specs(self) -> dict[str, Spec]:
        return {"video": self.pixel_spec() if self.role == "encode" else self.latent_spec()}

    def output_spec(self) -> Spec:
        return self.latent_spec() if self.role == "encode" else self.pixel_spec()

    def equal_size(self) -> tuple[int, int]:
        """(height, width) of a pixel frame of this aspect holding as many numbers as the frame's latent: what a
        bicubic down/up-sampling baseline at the same compression keeps."""
        latent = self.latent_channels * (self.height // self.downsampling) * (self.width // self.downsampling)
        s = math.sqrt(latent / (int(self.vae_setting("in_channels")) * self.height * self.width))
        return max(1, round(self.height * s)), max(1, round(self.width * s))
