"""`swap` (Swap Attention, VideoFactory): cross-attention between spatial and temporal features in 3D windows,
queries and keys/values swapping roles in alternate blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cascade.nn.attention import attention, check_heads, merge_heads, split_heads
from cascade.nn.embeddings import RelativePositionBias
from cascade.nn.layers import TemporalConv, group_norm
from cascade.nn.mixers import register_mixer
from cascade.nn.mixers.base import TemporalMixer


def _window(size: int, window: int) -> int:
    """The largest window side <= `window` that tiles `size` exactly (no padding tokens to mask)."""
    return next(d for d in range(min(window, size), 0, -1) if size % d == 0)


@register_mixer("swap")
class SwapMixer(TemporalMixer):
    """Swap Attention (Wang et al. 2023, VideoFactory §3.2), as built here:

    - spatial features s = x (the per-frame path's output); temporal features t = x + Conv1D(SiLU(GN(x)))
      over frames (the cheap temporal path; the paper uses temporal self-attention there);
    - cross-attention inside 3D windows of all F frames x `window` x `window` pixels: in even blocks
      (`block_index`) s gives the queries and t the keys/values, in odd blocks the reverse;
    - a learned relative bias over (frame offset) + (row, column offset) inside the window, so the
      attention knows frame order; out = x + proj(attn) (residual).
    """

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 64, block_index: int = 0,
                 window: int = 4, backend: str = "sdpa"):
        super().__init__()
        check_heads(channels, heads)
        self.heads, self.window, self.backend = heads, window, backend
        self.spatial_queries = block_index % 2 == 0
        self.norm_t = group_norm(channels)
        self.temporal = TemporalConv(channels)
        self.norm_q, self.norm_kv = nn.LayerNorm(channels), nn.LayerNorm(channels)
        self.q = nn.Linear(channels, channels, bias=False)
        self.kv = nn.Linear(channels, 2 * channels, bias=False)
        self.proj = nn.Linear(channels, channels)
        self.frame_bias = RelativePositionBias(heads, max_frames)
        self.pixel_bias = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads) * 0.02)  # (dy, dx) offsets

    def _bias(self, f: int, wh: int, ww: int) -> torch.Tensor:
        """(1, heads, L, L) with L = F*wh*ww tokens ordered (frame, row, column)."""
        dev = self.pixel_bias.device
        ys, xs = torch.meshgrid(torch.arange(wh, device=dev), torch.arange(ww, device=dev), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        side = 2 * self.window - 1
        idx = (ys[None] - ys[:, None] + self.window - 1) * side + (xs[None] - xs[:, None] + self.window - 1)
        pix = self.pixel_bias[idx].permute(2, 0, 1)  # (heads, P, P)
        frm = self.frame_bias(f)[0]  # (heads, F, F)
        h, p = self.heads, wh * ww
        bias = frm[:, :, None, :, None] + pix[:, None, :, None, :]  # (heads, F, P, F, P)
        return bias.reshape(1, h, f * p, f * p)

    def _to_windows(self, x: torch.Tensor, wh: int, ww: int) -> torch.Tensor:
        """(B, C, F, H, W) -> (B*nH*nW, F*wh*ww, C)."""
        b, c, f, h, w = x.shape
        x = x.reshape(b, c, f, h // wh, wh, w // ww, ww).permute(0, 3, 5, 2, 4, 6, 1)
        return x.reshape(b * (h // wh) * (w // ww), f * wh * ww, c)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, h, w = x.shape  # (B, C, F, H, W)
        wh, ww = _window(h, self.window), _window(w, self.window)
        t = x + self.temporal(F.silu(self.norm_t(x)))  # temporal features
        s_tok, t_tok = self._to_windows(x, wh, ww), self._to_windows(t, wh, ww)
        q_src, kv_src = (s_tok, t_tok) if self.spatial_queries else (t_tok, s_tok)
        q = split_heads(self.q(self.norm_q(q_src)), self.heads)  # (N, heads, L, d)
        k, v = (split_heads(z, self.heads) for z in self.kv(self.norm_kv(kv_src)).chunk(2, dim=-1))
        out = self.proj(merge_heads(attention(q, k, v, self._bias(f, wh, ww), backend=self.backend)))
        out = out.view(b, h // wh, w // ww, f, wh, ww, c).permute(0, 6, 3, 1, 4, 2, 5).reshape(b, c, f, h, w)
        return x + out
