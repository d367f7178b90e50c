"""SpaceTimeUNet: a 2D U-Net run per frame, with a temporal mixer from the registry after each block."""

from __future__ import annotations

import logging
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from torch.utils.checkpoint import checkpoint

from cascade.nn.attention import SpatialAttention, check_heads
from cascade.nn.blocks import Downsample, ResBlock, Upsample
from cascade.nn.embeddings import ScalarEmbedding
from cascade.nn.layers import fold_frames, group_norm, unfold_frames
from cascade.nn.mixers import MIXERS, TemporalMixer, build_mixer

log = logging.getLogger(__name__)

NO_MIXER = "none"  # temporal_mixer="none": a per-frame image model


class SpaceTimeBlock(nn.Module):
    """ResBlock, then (at attention levels) spatial self- and text cross-attention, then the temporal mixer.

    The stream stays folded as (B*F, C, H, W); only the mixer sees (B, C, F, H, W).
    """

    def __init__(self, res: ResBlock, attn: SpatialAttention | None, mixer: TemporalMixer | None):
        super().__init__()
        self.res, self.attn, self.mixer = res, attn, mixer

    def forward(self, h: torch.Tensor, emb: torch.Tensor, frames: int, context: torch.Tensor | None,
                context_mask: torch.Tensor | None, image_mask: torch.Tensor | None, mix: bool) -> torch.Tensor:
        h = self.res(h, emb)  # (B*F, C, H, W)
        if self.attn is not None:
            h = self.attn(h, frames, context, context_mask)
        if self.mixer is not None and mix:
            h = fold_frames(self.mixer(unfold_frames(h, frames), image_mask))
        return h


class SpaceTimeUNet(ModelMixin, ConfigMixin):
    """The backbone every learned stage shares (VDM-style factorised space-time U-Net).

    Spatial ops run per frame with frames folded into the batch; `temporal_mixer` names the family from
    `cascade.nn.mixers` placed after every block at `temporal_levels` (None: all levels); "none" builds a
    per-frame image model with the same spatial parameter names.
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(self, in_channels: int = 3, cond_channels: int = 0, out_channels: int = 3,
                 base_channels: int = 32, channel_mults: Sequence[int] = (1, 2, 2), num_res_blocks: int = 1,
                 attention_levels: Sequence[bool] = (False, True, True), heads: int = 4, text_dim: int = 384,
                 use_text: bool = True, use_aug_level: bool = False, temporal_mixer: str = "pseudo3d",
                 temporal_levels: Sequence[int] | None = None, alpha_wrap: bool = False,
                 freeze_spatial: bool = False, max_frames: int = 64, dropout: float = 0.0,
                 gradient_checkpointing: bool = False, attention_backend: str = "sdpa", patch_size: int = 1):
        super().__init__()
        levels = len(channel_mults)
        widths = [base_channels * m for m in channel_mults]
        if len(attention_levels) != levels:
            raise ValueError(f"attention_levels has {len(attention_levels)} entries but channel_mults has "
                             f"{levels}; give one flag per level")
        if temporal_mixer != NO_MIXER and temporal_mixer not in MIXERS:
            raise ValueError(f"unknown temporal mixer '{temporal_mixer}'; choose one of "
                             f"{', '.join(sorted([*MIXERS, NO_MIXER]))}")
        mixer_levels = set(range(levels) if temporal_levels is None else temporal_levels)
        if not mixer_levels <= set(range(levels)):
            raise ValueError(f"temporal_levels {tuple(temporal_levels)} name levels outside 0..{levels - 1}")
        if attention_backend not in ("sdpa", "xformers"):
            raise ValueError(f"attention_backend must be 'sdpa' or 'xformers', not '{attention_backend}'")
        for w in widths:
            check_heads(w, heads)
        self.gradient_checkpointing = gradient_checkpointing
        self.levels = levels

        emb_dim = 4 * base_channels
        self.time_embed = ScalarEmbedding(base_channels, emb_dim)
        # Imagen Video: the SR stages' noise-augmentation level is embedded like the timestep
        self.aug_embed = ScalarEmbedding(base_channels, emb_dim) if use_aug_level else None
        if use_text:
            self.pooled_proj = nn.Linear(text_dim, emb_dim)
            # classifier-free guidance (Ho & Salimans 2022): learned null tokens / pooled vector for dropped text
            self.null_tokens = nn.Parameter(torch.randn(text_dim) * text_dim ** -0.5)
            self.null_pooled = nn.Parameter(torch.randn(text_dim) * text_dim ** -0.5)
        ctx_dim = text_dim if use_text else None
        mixer_count = 0

        def block(cin: int, cout: int, level: int, attend: bool) -> SpaceTimeBlock:
            nonlocal mixer_count
            attn = SpatialAttention(cout, heads, ctx_dim, attention_backend) if attend else None
            mixer = None
            if temporal_mixer != NO_MIXER and level in mixer_levels:
                ctx = dict(heads=heads, max_frames=max_frames, block_index=mixer_count, backend=attention_backend)
                if alpha_wrap:  # Video LDM: learned blend with the (frozen) spatial path, exactly spatial at init
                    mixer = build_mixer("alpha", cout, inner=temporal_mixer, exact_init=True, **ctx)
                else:
                    mixer = build_mixer(temporal_mixer, cout, **ctx)
                mixer_count += 1
            return SpaceTimeBlock(ResBlock(cin, cout, emb_dim, dropout), attn, mixer)

        # "simple diffusion" (Hoogeboom et al. 2023) patching: pixel-unshuffle by patch_size so the U-Net's
        # first level runs at 1/patch_size resolution; the output is pixel-shuffled back. 1 = no patching.
        if patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, not {patch_size}")
        self.patch = patch_size
        self.conv_in = nn.Conv2d((in_channels + cond_channels) * patch_size ** 2, base_channels, 3, padding=1)
        self.down = nn.ModuleList()
        skips, ch = [base_channels], base_channels
        for i, width in enumerate(widths):
            for _ in range(num_res_blocks):
                self.down.append(block(ch, width, i, attention_levels[i]))
                ch = width
                skips.append(ch)
            if i < levels - 1:
                self.down.append(Downsample(ch))
                skips.append(ch)
        self.mid = nn.ModuleList([block(ch, ch, levels - 1, attention_levels[-1]), block(ch, ch, levels - 1, False)])
        self.up = nn.ModuleList()
        for i, width in reversed(list(enumerate(widths))):
            for _ in range(num_res_blocks + 1):
                self.up.append(block(ch + skips.pop(), width, i, attention_levels[i]))
                ch = width
            if i > 0:
                self.up.append(Upsample(ch))
        self.norm_out = group_norm(ch)
        self.conv_out = nn.Conv2d(ch, out_channels * patch_size ** 2, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight), nn.init.zeros_(self.conv_out.bias)
        if freeze_spatial:  # Video LDM / Make-A-Video phase 2: train only the temporal layers
            for p in self.spatial_parameters():
                p.requires_grad_(False)

    # -- parameter groups (Make-A-Video two-phase recipe) ------------------------------------------
    def temporal_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the temporal mixers (alpha logits included)."""
        seen: set[int] = set()
        for m in self.modules():
            if isinstance(m, TemporalMixer):
                for p in m.parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        yield p

    def spatial_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter that is not a temporal mixer's: the per-frame image model."""
        temporal = {id(p) for p in self.temporal_parameters()}
        return (p for p in self.parameters() if id(p) not in temporal)

    # -- forward ------------------------------------------------------------------------------------
    def _embed(self, b: int, timestep, pooled, aug_level, drop, device) -> torch.Tensor:
        """(B, emb_dim) conditioning embedding: noise level + pooled text + augmentation level."""
        t = torch.as_tensor(timestep, device=device, dtype=torch.float32).reshape(-1).expand(b)
        emb = self.time_embed(t)
        if self.aug_embed is not None:
            aug = torch.zeros(b, device=device) if aug_level is None else aug_level
            emb = emb + self.aug_embed(torch.as_tensor(aug, device=device, dtype=torch.float32).reshape(-1).expand(b))
        if self.config.use_text:
            null = self.null_pooled.expand(b, -1)
            pooled = null if pooled is None else torch.where(drop[:, None], null, pooled.to(null.dtype))
            emb = emb + self.pooled_proj(pooled)
        return emb

    def _context(self, b: int, tokens, mask, drop) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Text tokens (B, L, D) and key mask (B, L), dropped samples replaced by the learned null token."""
        if not self.config.use_text:
            return None, None
        null = self.null_tokens.view(1, 1, -1)
        if tokens is None:
            return null.expand(b, 1, -1), None
        tokens = torch.where(drop[:, None, None], null, tokens.to(null.dtype))  # (B, L, D)
        if mask is None:
            return tokens, None
        mask = mask.to(tokens.device, torch.bool) | drop[:, None]
        return tokens, mask | ~mask.any(dim=-1, keepdim=True)  # an all-padding row would give NaN

    def _run(self, block: nn.Module, *args):
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(block, *args, use_reentrant=False)
        return block(*args)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                encoder_attention_mask: torch.Tensor | None = None, pooled: torch.Tensor | None = None,
                cond: torch.Tensor | None = None, aug_level: torch.Tensor | None = None,
                text_drop: torch.Tensor | None = None, image_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, in_channels, F, H, W) noisy video at noise input `timestep` (B,) -> (B, out_channels, F, H, W)."""
        b, _, f, h, w = sample.shape
        div = self.patch * 2 ** (self.levels - 1)
        if h % div or w % div:
            raise ValueError(f"a {h}x{w} frame does not split into {self.patch}-pixel patches and then halve "
                             f"{self.levels - 1} times; use sizes divisible by {div}")
        if self.config.cond_channels:
            if cond is None or cond.shape[1] != self.config.cond_channels:
                raise ValueError(f"this network expects cond with {self.config.cond_channels} channels "
                                 f"(B, C, F, H, W); got {None if cond is None else tuple(cond.shape)}")
            sample = torch.cat([sample, cond.to(sample.dtype)], dim=1)  # Imagen Video: channel-concat conditioning
        device = sample.device
        drop = torch.zeros(b, dtype=torch.bool, device=device) if text_drop is None else text_drop.to(device, torch.bool)
        emb = self._embed(b, timestep, pooled, aug_level, drop, device)
        emb = F.silu(emb).to(sample.dtype).repeat_interleave(f, dim=0)  # (B*F, emb_dim)
        context, context_mask = self._context(b, encoder_hidden_states, encoder_attention_mask, drop)
        mix = True
        if image_mask is not None:  # VDM joint training: image samples skip every temporal mixer
            image_mask = image_mask.to(device, torch.bool)
            mix = not bool(image_mask.all())
            image_mask = image_mask if bool(image_mask.any()) else None
        args = (emb, f, context, context_mask, image_mask, mix)

        x = fold_frames(sample)  # (B*F, C, H, W)
        if self.patch > 1:
            x = F.pixel_unshuffle(x, self.patch)  # (B*F, C*p*p, H/p, W/p)
        x = self.conv_in(x)
        hs = [x]
        for layer in self.down:
            x = layer(x) if isinstance(layer, Downsample) else self._run(layer, x, *args)
            hs.append(x)
        for layer in self.mid:
            x = self._run(layer, x, *args)
        for layer in self.up:
            x = layer(x) if isinstance(layer, Upsample) else self._run(layer, torch.cat([x, hs.pop()], 1), *args)
        x = self.conv_out(F.silu(self.norm_out(x)))  # (B*F, out_channels*p*p, H/p, W/p)
        if self.patch > 1:
            x = F.pixel_shuffle(x, self.patch)  # (B*F, out_channels, H, W)
        return unfold_frames(x, f).contiguous()  # (B, out_channels, F, H, W)
