"""AutoencoderNetwork: diffusers' AutoencoderKL run per frame, plus optional zero-initialised temporal layers in its
decoder (Video LDM §3.1.1).

diffusers' AutoencoderKLTemporalDecoder is not used: its decoder has no post_quant_conv, hard-codes 32 norm groups and
puts `layers_per_block` resnets around one mid-block attention where AutoencoderKL's has two, so an AutoencoderKL's
decoder weights fit it only in one configuration. Here the temporal layers sit between the blocks of AutoencoderKL's
own decoder, so any AutoencoderKL (a Stable Diffusion VAE included) gains them with its weights untouched.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

TEMPORAL_KERNEL = 3  # frames each temporal conv sees


class TemporalMix(nn.Module):
    """A residual block of two temporal convolutions (kernel 3x1x1) over (B, C, F, H, W); the last conv starts at
    zero, so the block starts as the identity."""

    def __init__(self, channels: int, groups: int, eps: float = 1e-6):
        super().__init__()
        pad = (TEMPORAL_KERNEL // 2, 0, 0)
        self.norm1 = nn.GroupNorm(groups, channels, eps=eps)
        self.conv1 = nn.Conv3d(channels, channels, (TEMPORAL_KERNEL, 1, 1), padding=pad)
        self.norm2 = nn.GroupNorm(groups, channels, eps=eps)
        self.conv2 = nn.Conv3d(channels, channels, (TEMPORAL_KERNEL, 1, 1), padding=pad)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        n, c, h, w = x.shape  # (B*F, C, H, W), frames of one clip adjacent
        v = x.view(n // frames, frames, c, h, w).transpose(1, 2)  # (B, C, F, H, W)
        y = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(v))))))
        return x + y.transpose(1, 2).reshape(n, c, h, w)


class AutoencoderNetwork(nn.Module):
    """`vae`: the AutoencoderKL (state-dict keys `vae.*`, diffusers' names after the prefix); `temporal`: one
    TemporalMix after the decoder's mid block and after each up block, or None."""

    def __init__(self, vae_config: dict, *, temporal: bool = False):
        super().__init__()
        from diffusers import AutoencoderKL

        self.vae = AutoencoderKL(**vae_config)
        self.temporal = None
        if temporal:
            chans = list(self.vae.config.block_out_channels)
            groups = self.vae.config.norm_num_groups
            widths = [chans[-1]] + [up.resnets[-1].out_channels for up in self.vae.decoder.up_blocks]
            self.temporal = nn.ModuleList(TemporalMix(c, groups) for c in widths)

    def encode_frames(self, x: torch.Tensor):
        """(N, C, H, W) pixel frames -> diffusers' DiagonalGaussianDistribution over (N, latent, h, w)."""
        return self.vae.encode(x).latent_dist

    def decode_frames(self, z: torch.Tensor, frames: int = 1) -> torch.Tensor:
        """(N, latent, h, w) unscaled latents -> (N, C, H, W) pixels; with temporal layers, N = clips * `frames`,
        each clip's frames adjacent."""
        if self.temporal is None:
            return self.vae.decode(z).sample
        vae, dec = self.vae, self.vae.decoder
        if vae.post_quant_conv is not None:
            z = vae.post_quant_conv(z)
        h = dec.mid_block(dec.conv_in(z), None)
        h = self.temporal[0](h, frames)
        for up, mix in zip(dec.up_blocks, self.temporal[1:]):
            h = mix(up(h, None), frames)
        return dec.conv_out(dec.conv_act(dec.conv_norm_out(h)))

    def forward(self, x: torch.Tensor, frames: int = 1, generator: torch.Generator | None = None):
        """Training pass: (N, C, H, W) frames -> (reconstruction from a posterior sample, (N,) KL per latent
        element)."""
        posterior = self.encode_frames(x)
        z = posterior.sample(generator=generator)
        kl = posterior.kl() / z[0].numel()  # diffusers sums over (C, h, w)
        return self.decode_frames(z, frames), kl
