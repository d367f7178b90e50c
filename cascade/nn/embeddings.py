"""Embeddings: sinusoidal noise-level features and the relative frame-position bias of temporal attention."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) float -> (B, dim) [cos | sin] features (Transformer / DDPM timestep embedding)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.nn.functional.pad(emb, (0, 1))
    return emb


class ScalarEmbedding(nn.Module):
    """A per-sample scalar (noise level, augmentation level) -> (B, dim) through sinusoids and an MLP."""

    def __init__(self, freq_dim: int, dim: int):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.freq_dim).to(self.mlp[0].weight.dtype))  # (B, dim)


class RelativePositionBias(nn.Module):
    """Learned per-head bias over frame offsets -(max_frames-1)..(max_frames-1) (VDM §3: temporal attention
    with relative position embeddings), so temporal attention knows frame order."""

    def __init__(self, heads: int, max_frames: int):
        super().__init__()
        self.max_frames = max_frames
        self.table = nn.Parameter(torch.randn(2 * max_frames - 1, heads) * 0.02)  # (2M-1, heads)

    def forward(self, frames: int, causal: bool = False) -> torch.Tensor:
        """(1, heads, F, F) additive attention bias; causal adds -inf where key frame > query frame."""
        if frames > self.max_frames:
            raise ValueError(f"a clip of {frames} frames is longer than this network's max_frames="
                             f"{self.max_frames}; rebuild it with a larger max_frames")
        pos = torch.arange(frames, device=self.table.device)
        offset = pos[None, :] - pos[:, None] + self.max_frames - 1  # (F, F): key - query
        bias = self.table[offset].permute(2, 0, 1)  # (heads, F, F)
        if causal:  # MagicVideo: directed temporal attention, frame t sees frames <= t
            future = pos[None, :] > pos[:, None]
            bias = bias.masked_fill(future, float("-inf"))
        return bias.unsqueeze(0)
