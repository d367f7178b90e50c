"""Attention: one dispatch function (SDPA, or xformers when asked for and installed), spatial self/cross
attention per frame, and temporal self-attention over frames at each pixel."""

from __future__ import annotations

import functools
import logging

import torch
import torch.nn.functional as F
from torch import nn

from cascade.nn.embeddings import RelativePositionBias
from cascade.nn.layers import group_norm

log = logging.getLogger(__name__)


@functools.cache
def _xformers_ops():
    try:
        import xformers.ops as xops
    except ImportError:
        log.info("attention_backend='xformers' but xformers is not installed; using torch SDPA")
        return None
    return xops


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None,
              backend: str = "sdpa") -> torch.Tensor:
    """Multi-head attention on (N, heads, L, d) tensors.

    `bias` broadcasts to (N, heads, Lq, Lk): a float tensor is added to the logits, a bool tensor is a mask
    (True = may attend).
    """
    if backend == "xformers" and q.is_cuda and (xops := _xformers_ops()) is not None:
        n, h, lq, _ = q.shape
        if bias is not None:
            if bias.dtype == torch.bool:
                bias = torch.zeros(bias.shape, dtype=q.dtype, device=q.device).masked_fill(~bias, float("-inf"))
            bias = bias.to(q.dtype).expand(n, h, lq, k.shape[2])
        out = xops.memory_efficient_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                              attn_bias=bias)  # (N, L, heads, d)
        return out.transpose(1, 2)
    if bias is not None and bias.dtype != torch.bool:
        bias = bias.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, L, C) -> (N, heads, L, C // heads)."""
    n, length, c = x.shape
    return x.view(n, length, heads, c // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(N, heads, L, d) -> (N, L, heads * d)."""
    n, h, length, d = x.shape
    return x.transpose(1, 2).reshape(n, length, h * d)


def check_heads(channels: int, heads: int) -> None:
    if channels % heads:
        raise ValueError(f"{channels} channels do not split into {heads} attention heads; "
                         f"choose heads dividing every level's width")


class SpatialAttention(nn.Module):
    """Self-attention over the pixels of each frame, then cross-attention to text tokens (latent diffusion /
    Imagen style), both residual with zero-initialised output projections."""

    def __init__(self, channels: int, heads: int, text_dim: int | None, backend: str = "sdpa"):
        super().__init__()
        check_heads(channels, heads)
        self.heads, self.backend = heads, backend
        self.norm = group_norm(channels)
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.proj = nn.Linear(channels, channels)
        nn.init.zeros_(self.proj.weight), nn.init.zeros_(self.proj.bias)
        self.cross = text_dim is not None
        if self.cross:
            self.norm_cross = nn.LayerNorm(channels)
            self.q_cross = nn.Linear(channels, channels, bias=False)
            self.kv_cross = nn.Linear(text_dim, 2 * channels, bias=False)
            self.proj_cross = nn.Linear(channels, channels)
            nn.init.zeros_(self.proj_cross.weight), nn.init.zeros_(self.proj_cross.bias)

    def forward(self, x: torch.Tensor, frames: int, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B*F, C, H, W); context (B, L, text_dim); context_mask (B, L) bool, True = real token."""
        bf, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # (B*F, HW, C)
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(tokens).chunk(3, dim=-1))
        tokens = x.flatten(2).transpose(1, 2) + self.proj(merge_heads(attention(q, k, v, backend=self.backend)))
        if self.cross and context is not None:
            q = split_heads(self.q_cross(self.norm_cross(tokens)), self.heads)  # (B*F, heads, HW, d)
            k, v = (split_heads(t, self.heads).repeat_interleave(frames, dim=0)  # (B*F, heads, L, d)
                    for t in self.kv_cross(context.to(x.dtype)).chunk(2, dim=-1))
            mask = None
            if context_mask is not None:
                mask = context_mask.repeat_interleave(frames, dim=0)[:, None, None, :]  # (B*F, 1, 1, L)
            tokens = tokens + self.proj_cross(merge_heads(attention(q, k, v, mask, backend=self.backend)))
        return tokens.transpose(1, 2).reshape(bf, c, h, w)


class TemporalAttention(nn.Module):
    """Self-attention over the frames at each pixel (VDM §3) with a relative frame-position bias.

    Residual: returns x + proj(attn(norm(x))); `zero_out` zero-initialises proj (Make-A-Video §3.2) so the
    block starts as the identity; `causal` lets frame t attend only to frames <= t (MagicVideo).
    """

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 64, causal: bool = False,
                 zero_out: bool = False, backend: str = "sdpa"):
        super().__init__()
        check_heads(channels, heads)
        self.heads, self.causal, self.backend = heads, causal, backend
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.proj = nn.Linear(channels, channels)
        self.rel_pos = RelativePositionBias(heads, max_frames)
        if zero_out:
            nn.init.zeros_(self.proj.weight), nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, h, w = x.shape  # (B, C, F, H, W)
        tokens = x.permute(0, 3, 4, 2, 1).reshape(b * h * w, f, c)  # (BHW, F, C)
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(self.norm(tokens)).chunk(3, dim=-1))
        out = attention(q, k, v, self.rel_pos(f, causal=self.causal), backend=self.backend)
        tokens = tokens + self.proj(merge_heads(out))  # (BHW, F, C)
        return tokens.view(b, h, w, f, c).permute(0, 4, 3, 1, 2)
