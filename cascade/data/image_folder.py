"""ImageTextDataset: captioned images as 1-frame clips (3, 1, size, size), for joint image-video training."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cascade.data.captions import Captioned, find_media, match_captions
from cascade.data.video_folder import report_skipped, resize_crop
from cascade.errors import CascadeError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


def _probe_image(path: Path) -> str | None:
    """None if the image opens and verifies, else the reason it is unusable ("empty" or "corrupt")."""
    from PIL import Image

    try:
        if path.stat().st_size == 0:
            return "empty"
        with Image.open(path) as im:
            im.verify()  # checks structure without decoding all pixels
            if im.width == 0 or im.height == 0:
                return "empty"
    except Exception:  # noqa: BLE001  PIL raises many types for a bad file
        return "corrupt"
    return None


class ImageTextDataset(Dataset):
    """A folder of images (png/jpg/webp) with captions (JSONL, CSV or sidecar .txt); items are 1-frame clips.

    Images in Video Diffusion Models §3 / Make-A-Video §3 joint training are frames whose temporal mixing is
    bypassed; `video` here is (3, 1, size, size) in [-1, 1] (JointDataset repeats it to F frames).
    """

    def __init__(self, root: str | Path, *, size: int, captions: str | Path | None = None,
                 require_captions: bool = True):
        self.root = Path(root)
        if not self.root.is_dir():
            raise CascadeError(f"image folder {self.root} does not exist; pass a folder of captioned images")
        self.size = size
        media = find_media(self.root, IMAGE_SUFFIXES)
        items, missing = match_captions(self.root, media, Path(captions) if captions else None,
                                        require_captions=require_captions)
        self.skipped: dict[str, list[str]] = {"corrupt": [], "empty": []}
        self.entries: list[Captioned] = []
        for it in items:
            reason = _probe_image(it.path)
            if reason:
                self.skipped[reason].append(str(it.path))
            else:
                self.entries.append(it)
        if missing:
            self.skipped["missing"] = missing
        report_skipped(self.skipped, len(items) + len(missing), "images")
        if not self.entries:
            raise CascadeError(f"no usable image in {self.root} ({len(media)} image files, {len(items)} with "
                               f"captions); add png/jpg/webp images and captions.jsonl")

    def __len__(self) -> int:
        return len(self.entries)

    def _load(self, path: Path) -> torch.Tensor:
        from PIL import Image

        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))  # (H, W, 3) uint8
        x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float()  # (1, 3, H, W)
        x = resize_crop(x, self.size)
        return (x / 127.5 - 1.0).clamp(-1, 1).permute(1, 0, 2, 3).contiguous()  # (3, 1, size, size)

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"image {index} is out of range for {len(self)} images")
        for attempt in range(len(self)):  # an image that verified but fails to decode: use the next one
            it = self.entries[(index + attempt) % len(self)]
            try:
                video = self._load(it.path)
            except Exception as e:  # noqa: BLE001  never crash a training run for one bad file
                log.warning("skipping %s while loading: %s", it.path, e)
                continue
            return {"video": video, "caption": it.caption, "index": index, "file": str(it.path)}
        raise CascadeError(f"no image in {self.root} could be decoded; check the files")
