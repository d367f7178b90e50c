"""The diffusers peer: a UNet3DConditionModel sized to a parameter budget, behind SpaceTimeUNet's call signature.

`UNet3DPeer` takes the same keyword arguments as SpaceTimeUNet (encoder_hidden_states, text_drop, ...) so a
cascade Denoiser, the stage's training loss and the stage's sampler run it unchanged: only the network differs.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from bench.common import num_params


def unet3d(channels: int, *, in_channels: int = 3, out_channels: int = 3, mults: Sequence[int] = (1, 2, 2),
           attention_levels: Sequence[bool] = (False, True, True), layers_per_block: int = 1, text_dim: int = 384,
           heads: int = 8):
    """diffusers UNet3DConditionModel laid out like the default SpaceTimeUNet: widths channels*mults, cross-attention
    (spatial + temporal transformer) at the levels flagged in attention_levels, 2**(levels-1) downsampling.

    `heads` is diffusers' `attention_head_dim`, which UNet3DConditionModel uses as the number of heads.
    """
    from diffusers.models import UNet3DConditionModel

    widths = tuple(channels * m for m in mults)
    groups = next(g for g in (32, 16, 8, 4, 2, 1) if all(w % g == 0 for w in widths))
    down = tuple("CrossAttnDownBlock3D" if a else "DownBlock3D" for a in attention_levels)
    up = tuple("CrossAttnUpBlock3D" if a else "UpBlock3D" for a in reversed(attention_levels))
    return UNet3DConditionModel(in_channels=in_channels, out_channels=out_channels, down_block_types=down,
                                up_block_types=up, block_out_channels=widths, layers_per_block=layers_per_block,
                                norm_num_groups=groups, cross_attention_dim=text_dim, attention_head_dim=heads)


def unet3d_params(channels: int, **kw) -> int:
    """Parameter count of unet3d(channels, **kw), built on the meta device (no memory, no init)."""
    with torch.device("meta"):
        return num_params(unet3d(channels, **kw))


def match_unet3d(target_params: int, *, step: int = 8, max_channels: int = 256, **kw) -> tuple[int, int]:
    """(base channels, parameter count) of the unet3d closest to target_params in log ratio."""
    best = None
    for c in range(step, max_channels + 1, step):
        n = unet3d_params(c, **kw)
        err = abs(math.log(n / target_params))
        if best is None or err < best[0]:
            best = (err, c, n)
        if n > 2 * target_params:
            break
    return best[1], best[2]


class UNet3DPeer(nn.Module):
    """SpaceTimeUNet's call interface around a UNet3DConditionModel.

    Classifier-free guidance the diffusers way: a dropped sample gets the encoded empty prompt (`null_tokens`,
    (L, D), a buffer, not learned). UNet3DConditionModel takes no key mask and no pooled vector, so
    encoder_attention_mask and pooled are ignored: padded token states go in as they are (as in diffusers'
    own text-to-video pipelines).
    """

    def __init__(self, unet: nn.Module, null_tokens: torch.Tensor | None = None):
        super().__init__()
        self.unet = unet
        dim = unet.config.cross_attention_dim
        null = torch.zeros(1, dim) if null_tokens is None else null_tokens.detach().float().reshape(-1, dim)
        self.register_buffer("null_tokens", null, persistent=False)  # (L, D)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                encoder_attention_mask: torch.Tensor | None = None, pooled: torch.Tensor | None = None,
                text_drop: torch.Tensor | None = None, **unused) -> torch.Tensor:
        """(B, C, F, H, W) at network time input `timestep` (B,) -> (B, C, F, H, W)."""
        b = sample.shape[0]
        null = self.null_tokens.to(sample.dtype)
        if encoder_hidden_states is None:
            context = null.expand(b, -1, -1)
        else:
            context = encoder_hidden_states.to(sample.dtype)  # (B, L, D)
            if text_drop is not None:
                if null.shape[0] != context.shape[1]:
                    null = null[:1].expand(context.shape[1], -1)
                context = torch.where(text_drop.to(sample.device, torch.bool)[:, None, None], null, context)
        t = torch.as_tensor(timestep, device=sample.device).reshape(-1).expand(b)
        return self.unet(sample, t, encoder_hidden_states=context).sample
