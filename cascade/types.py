"""Typed payloads that flow between stages: specs (checked when the graph is built) and values."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Union

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator


class VideoSpec(BaseModel):
    """Shape, rate and space of a video payload; two stages connect only if their specs agree."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frames: int = Field(gt=0)
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    channels: int = Field(default=3, gt=0)
    fps: float = Field(gt=0)
    space: Literal["pixel", "latent"] = "pixel"

    kind: Literal["video"] = "video"

    def describe(self) -> str:
        return (f"{self.frames} frames at {self.fps:g} fps, {self.height}x{self.width}, "
                f"{self.channels} channels, {self.space}")


class TextSpec(BaseModel):
    """Width and token length of a text embedding payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    length: int = Field(gt=0)
    dim: int = Field(gt=0)
    lexicon: str | None = None  # prompts expanded with this lexicon's glosses before encoding (None: as given)
    model: str | None = None  # the encoder: a local transformers folder (None: the packaged all-MiniLM-L6-v2)

    kind: Literal["text"] = "text"

    def describe(self) -> str:
        return (f"{self.length} tokens x {self.dim} dims" + (f", {self.lexicon} lexicon" if self.lexicon else "")
                + (f", encoder {self.model}" if self.model else ""))


class PromptSpec(BaseModel):
    """The raw prompt strings the pipeline is called with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["prompt"] = "prompt"

    def describe(self) -> str:
        return "prompt strings"


Spec = Union[VideoSpec, TextSpec, PromptSpec]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class TextEmbedding(_Payload):
    """Token states (B, L, D), a boolean mask (B, L) and a pooled vector (B, D)."""

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    spec: TextSpec

    @model_validator(mode="after")
    def _check(self) -> "TextEmbedding":
        b, length, dim = _shape(self.tokens, 3, "tokens")
        if (length, dim) != (self.spec.length, self.spec.dim):
            raise ValueError(f"text tokens have shape {tuple(self.tokens.shape)} but the spec says "
                             f"{self.spec.length} tokens x {self.spec.dim} dims")
        if tuple(self.mask.shape) != (b, length):
            raise ValueError(f"text mask has shape {tuple(self.mask.shape)}, expected {(b, length)}")
        if tuple(self.pooled.shape) != (b, dim):
            raise ValueError(f"pooled text has shape {tuple(self.pooled.shape)}, expected {(b, dim)}")
        return self

    @property
    def batch_size(self) -> int:
        return self.tokens.shape[0]

    def to(self, device=None, dtype=None) -> "TextEmbedding":
        return TextEmbedding(tokens=self.tokens.to(device=device, dtype=dtype), mask=self.mask.to(device),
                             pooled=self.pooled.to(device=device, dtype=dtype), spec=self.spec)


class Video(_Payload):
    """A batch of clips: tensor (B, C, F, H, W) in [-1, 1] for pixel space, plus its spec."""

    tensor: torch.Tensor
    spec: VideoSpec

    @model_validator(mode="after")
    def _check(self) -> "Video":
        _, c, f, h, w = _shape(self.tensor, 5, "video")
        s = self.spec
        if (c, f, h, w) != (s.channels, s.frames, s.height, s.width):
            raise ValueError(f"video tensor has (C, F, H, W) = {(c, f, h, w)} but its spec says "
                             f"{(s.channels, s.frames, s.height, s.width)}")
        if not torch.is_floating_point(self.tensor):
            raise ValueError(f"video tensor must be floating point, got {self.tensor.dtype}")
        return self

    @property
    def batch_size(self) -> int:
        return self.tensor.shape[0]

    @property
    def fps(self) -> float:
        return self.spec.fps

    @property
    def frames(self) -> "torch.Tensor":
        """uint8 frames (B, F, H, W, 3) for a pixel-space RGB video."""
        if self.spec.space != "pixel" or self.spec.channels != 3:
            raise ValueError("only 3-channel pixel videos have RGB frames; decode latents first")
        x = self.tensor.detach().float().clamp(-1, 1)
        x = ((x + 1) * 127.5).round().to(torch.uint8)  # (B, C, F, H, W)
        return x.permute(0, 2, 3, 4, 1).cpu().contiguous()  # (B, F, H, W, 3)

    def save(self, path: str | Path, *, index: int = 0) -> Path:
        """Write clip `index` to .mp4, .gif, or a directory of PNG frames (atomically)."""
        from cascade.video_io import write_video

        return write_video(path, self.frames[index].numpy(), fps=self.fps)

    def to(self, device=None, dtype=None) -> "Video":
        return Video(tensor=self.tensor.to(device=device, dtype=dtype), spec=self.spec)


def _shape(t: torch.Tensor, ndim: int, what: str) -> tuple[int, ...]:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ValueError(f"{what} tensor must have {ndim} dimensions, got shape {tuple(t.shape)}")
    return tuple(t.shape)
