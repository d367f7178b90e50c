"""A latent node read in pixels: the cascade's decoder node of the node's latent space (its folder holds the encoder
too), placed to encode real clips into that space and to decode the node's latents at their frames, rate and size."""

from __future__ import annotations

import torch

from cascade.latent import latent_of
from cascade.types import Video, VideoSpec


def latent_coder(pipe, name: str) -> tuple[str | None, str]:
    """The name of the decoder node that works in the latent space node `name` was trained in (same encoder weights
    and latent scaling), or None and one sentence saying why there is none."""
    lat = latent_of(pipe.stages[name].config)
    if lat is None:
        return None, f"{name} records no autoencoder for its latents"
    decoders = [n for n in pipe.graph.order if callable(getattr(pipe.stages[n], "latent_identity", None))
                and pipe.stages[n].config.role == "decode"]
    if not decoders:
        return None, f"no autoencoder node in this cascade decodes the latents of {lat.short()}"
    for n in decoders:
        if pipe.stages[n].latent_identity() == lat.latent_sha256:
            return n, ""
    return None, f"no decoder node of this cascade ({', '.join(decoders)}) is {lat.short()}, which {name} works in"


def pixel_spec(coder, spec: VideoSpec) -> VideoSpec:
    """The pixel clip latents of `spec` decode to."""
    return coder.fit_input(spec).output_spec


def code(coder, x: torch.Tensor, spec: VideoSpec) -> torch.Tensor:
    """(B, C, F, H, W) video of `spec` through `coder` placed for it: pixels are encoded to their latents, latents
    decoded to pixels in [-1, 1] at their frame count, rate and size."""
    return coder.fit_input(spec)({"video": Video(tensor=x, spec=spec)}).tensor
