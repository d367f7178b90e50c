"""The `data` section of a diffusion stage's training config, and the joint image-video dataset it builds."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from cascade.errors import CascadeError
from cascade.types import VideoSpec

IMAGE_PICK_SEED_STRIDE = 7919  # a prime: the image-or-video draw of item i is seeded by seed * stride + i


class DataConfig(BaseModel):
    """Where training clips come from; they are resampled to the stage's output spec."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = "shapes"  # a registered data source (cascade.data.sources): shapes, folder, ...
    num_clips: int = Field(default=20000, gt=0)  # generated worlds: clips (a pure function of seed, index)
    # generated worlds: several names per shape or subject (training names only), or the canonical one only
    shape_words: Literal["varied", "canonical"] = "varied"
    # generated worlds: colours, directions and motion verbs (shapes), pans (photos) also said in other words
    # (cascade.data.wordings; training wordings only)
    wordings: Literal["varied", "canonical"] = "canonical"
    seed: int = Field(default=0, ge=0)
    path: str | None = None  # folder: video files + captions.jsonl / CSV
    captions: str | None = None
    images: str | None = None  # optional image-text folder for joint image-video training
    image_fraction: float = Field(default=0.0, ge=0, lt=1)
    text_drop_prob: float = Field(default=0.1, ge=0, le=1)  # classifier-free guidance dropout
    min_snr_gamma: float | None = 5.0
    num_preview_clips: int = Field(default=4, ge=1)


class JointDataset(torch.utils.data.Dataset):
    """Videos, plus (with probability image_fraction, fixed per index) images held still for F frames
    whose temporal mixers the network bypasses (VDM / Imagen Video joint image-video training)."""

    def __init__(self, videos, images, image_fraction: float, frames: int, seed: int):
        self.videos, self.images, self.fraction, self.frames, self.seed = videos, images, image_fraction, frames, seed

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(self.seed * IMAGE_PICK_SEED_STRIDE + i)
        if self.images is not None and torch.rand((), generator=g).item() < self.fraction:
            item = dict(self.images[int(torch.randint(len(self.images), (), generator=g))])
            item["video"] = item["video"].expand(-1, self.frames, -1, -1).contiguous()  # (C, F, H, W)
            item["is_image"] = True
            return item
        item = dict(self.videos[i])
        item["is_image"] = False
        return item


def build_dataset(data: DataConfig, spec: VideoSpec, *, needs_text: bool) -> JointDataset:
    from cascade.data.image_folder import ImageTextDataset
    from cascade.data.sources import video_source

    if spec.height != spec.width:
        raise CascadeError(f"training data is square; the stage outputs {spec.height}x{spec.width}")
    videos = video_source(data.kind, data, spec, needs_text=needs_text)
    images = ImageTextDataset(data.images, size=spec.height) if data.images else None
    if images is None and data.image_fraction > 0:
        raise CascadeError("data.image_fraction > 0 needs data.images (a folder of captioned images)")
    return JointDataset(videos, images, data.image_fraction, spec.frames, data.seed)
