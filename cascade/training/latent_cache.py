"""Training clips of a latent stage, encoded once by its frozen autoencoder and kept on disk as safetensors shards.

Folder: `<cache root>/<sha256 of the data config and the pixel clip spec>/`, holding meta.json (the autoencoder's
weights sha256 among the keys) and shard_NNNNN.safetensors (clips [N*SHARD_CLIPS, (N+1)*SHARD_CLIPS): their latents
and, in the metadata, the other fields of each item). A shard is encoded the first time one of its clips is asked
for; a folder made by another autoencoder (another sha256) is emptied and rebuilt, and says so in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
from pathlib import Path
from typing import Any

import torch

from cascade.io_utils import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

SHARD_CLIPS = 32  # clips per shard file
ENCODE_BATCH = 4  # clips through the encoder at once
META = "meta.json"


def cache_key(data: Any, pixel_spec) -> str:
    """The cache folder's name: sha256 of the data settings and the clip spec (the autoencoder is checked inside)."""
    blob = json.dumps({"data": data.model_dump(mode="json"), "spec": pixel_spec.model_dump(mode="json")},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class LatentClips(torch.utils.data.Dataset):
    """`clips` (items with a pixel "video" (C, F, H, W)) with "video" replaced by its latents (C', F, h, w)."""

    def __init__(self, clips, encoder, root: str | Path, *, key: str, autoencoder_sha256: str):
        self.clips, self.encoder = clips, encoder
        self.folder = Path(root) / key
        self.sha256 = autoencoder_sha256
        self._open: dict[int, Any] = {}
        self._meta: dict[int, list[dict]] = {}
        self._lock = threading.Lock()
        self._check_folder()

    def _check_folder(self) -> None:
        meta_path = self.folder / META
        if meta_path.is_file():
            made_by = json.loads(meta_path.read_text()).get("autoencoder_sha256")
            if made_by == self.sha256:
                return
            log.warning("latent cache %s was encoded by autoencoder weights %s, but the autoencoder now has %s; "
                        "rebuilding it", self.folder, str(made_by)[:12], self.sha256[:12])
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(meta_path, json.dumps({"autoencoder_sha256": self.sha256, "clips": len(self.clips),
                                                 "shard_clips": SHARD_CLIPS}, indent=1))

    def __len__(self) -> int:
        return len(self.clips)

    def shard_path(self, shard: int) -> Path:
        return self.folder / f"shard_{shard:05d}.safetensors"

    def __getitem__(self, i: int) -> dict:
        if i < 0:
            i += len(self)
        shard, j = divmod(i, SHARD_CLIPS)
        with self._lock:
            if shard not in self._open:
                self._load(shard)
            handle = self._open[shard]
            item = dict(self._meta[shard][j])
            item["video"] = handle.get_slice("latents")[j:j + 1][0]  # (C', F, h, w)
        return item

    def _load(self, shard: int) -> None:
        from safetensors import safe_open

        path = self.shard_path(shard)
        if path.is_file():
            handle = safe_open(str(path), framework="pt")
            if handle.metadata().get("autoencoder_sha256") != self.sha256:  # a shard left by another autoencoder
                log.warning("latent cache shard %s was encoded by other autoencoder weights; rebuilding it", path)
                handle = None
        else:
            handle = None
        if handle is None:
            self._encode(shard, path)
            handle = safe_open(str(path), framework="pt")
        self._open[shard] = handle
        self._meta[shard] = json.loads(handle.metadata()["items"])

    @torch.no_grad()
    def _encode(self, shard: int, path: Path) -> None:
        from safetensors.torch import save_file

        idx = range(shard * SHARD_CLIPS, min((shard + 1) * SHARD_CLIPS, len(self.clips)))
        items = [self.clips[i] for i in idx]
        pixels = torch.stack([it["video"] for it in items])  # (N, C, F, H, W)
        latents = torch.cat([self.encoder.encode(b).float().cpu() for b in pixels.split(ENCODE_BATCH)])
        rest = [{k: v for k, v in it.items() if k != "video" and isinstance(v, (str, int, float, bool))}
                for it in items]
        with atomic_path(path) as tmp:
            save_file({"latents": latents.contiguous()}, str(tmp),
                      metadata={"autoencoder_sha256": self.sha256, "items": json.dumps(rest)})
        log.debug("encoded %d clips into %s", len(items), path)


class EncodedItems(torch.utils.data.Dataset):
    """Items (an image set for joint training) whose pixel "video" is encoded when asked for, not cached."""

    def __init__(self, items, encoder):
        self.items, self.encoder = items, encoder

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.items[i])
        item["video"] = self.encoder.encode(item["video"][None]).float().cpu()[0]
        return item
