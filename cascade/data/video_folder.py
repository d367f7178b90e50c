"""VideoTextDataset: a folder of videos with captions, resampled to a fixed frame count, fps and square size."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from cascade.data.captions import ATTRIBUTE_KEYS, Captioned, find_media, match_captions
from cascade.errors import CascadeError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".webm", ".mov", ".gif", ".mkv", ".avi", ".m4v"}


class _Skip(Exception):
    """A file is unusable; the message is the reason ("corrupt", "empty", "too short")."""


def report_skipped(skipped: dict[str, list[str]], total: int, what: str, short_note: str = "") -> None:
    """One warning naming how many files were skipped and why, e.g. 'skipped 3 of 120 videos: 1 corrupt, ...'."""
    n = sum(len(v) for v in skipped.values())
    if n:
        parts = [f"{len(v)} {k}" + (f" ({short_note})" if k == "too short" and short_note else "")
                 for k, v in skipped.items() if v]
        log.warning("skipped %d of %d %s: %s", n, total, what, ", ".join(parts))
        for reason, files in skipped.items():  # which ones, with -v
            for f in files:
                log.debug("skipped %s (%s)", f, reason)


def source_index(frames: int, fps: float, src_fps: float) -> np.ndarray:
    """Source frame index for each output frame: output frame j shows time j / fps, nearest source frame."""
    return np.rint(np.arange(frames) * (src_fps / fps)).astype(np.int64)


def resize_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) float -> (N, C, size, size): shorter side to `size` (antialiased bilinear), centre crop."""
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[..., top:top + size, left:left + size]


def _probe(path: Path, frames: int, fps: float) -> tuple[float, int]:
    """(source fps, source frames needed) without decoding the whole file; raises _Skip for a bad file."""
    import av

    try:
        if path.stat().st_size == 0:
            raise _Skip("empty")
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise _Skip("corrupt")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            src_fps = float(rate) if rate else 0.0
            if not src_fps > 0 or not math.isfinite(src_fps):
                raise _Skip("corrupt")
            need = int(source_index(frames, fps, src_fps)[-1]) + 1
            count, decoded = 0, False
            for packet in container.demux(stream):  # count packets (cheap); decode only until a first picture
                count += packet.size > 0
                if not decoded:
                    decoded = len(packet.decode()) > 0  # garbage that still opens fails here
                if decoded and count >= need:
                    return src_fps, need
            if count == 0:
                raise _Skip("empty")
            raise _Skip("too short" if decoded else "corrupt")
    except _Skip:
        raise
    except Exception:  # noqa: BLE001  PyAV raises many types (InvalidDataError, OSError, ValueError...)
        raise _Skip("corrupt") from None


def scan_videos(items: list[Captioned], frames: int, fps: float) -> tuple[list[tuple[Captioned, float, int]],
                                                                          dict[str, list[str]]]:
    """Probe every item once: (usable items with source fps and frames needed, skipped files by reason)."""
    good, skipped = [], {"corrupt": [], "empty": [], "too short": []}
    for it in items:
        try:
            src_fps, need = _probe(it.path, frames, fps)
        except _Skip as e:
            skipped[str(e)].append(str(it.path))
            continue
        good.append((it, src_fps, need))
    return good, skipped


class VideoTextDataset(Dataset):
    """Video files (mp4/webm/mov/gif/mkv) + captions (JSONL, CSV or WebVid CSV) as (3, F, size, size) clips.

    Frames are picked by timestamp (nearest) at the target fps from the start of each video, so a 30 fps and
    a 12 fps source both give `frames` frames spanning frames / fps seconds. Bad files are skipped when the
    folder is scanned and listed in `.skipped`.
    """

    def __init__(self, root: str | Path, *, frames: int, size: int, fps: float, captions: str | Path | None = None,
                 require_captions: bool = True):
        self.root = Path(root)
        if not self.root.is_dir():
            raise CascadeError(f"video folder {self.root} does not exist; pass a folder of videos with captions")
        self.frames, self.size, self.fps = frames, size, fps
        media = find_media(self.root, VIDEO_SUFFIXES)
        items, missing = match_captions(self.root, media, Path(captions) if captions else None,
                                        require_captions=require_captions)
        good, self.skipped = scan_videos(items, frames, fps)
        if missing:
            self.skipped["missing"] = missing
        report_skipped(self.skipped, len(items) + len(missing), "videos", f"< {frames} frames at {fps:g} fps")
        if not good:
            why = ", ".join(f"{len(v)} {k}" for k, v in self.skipped.items() if v and k != "missing")
            raise CascadeError(f"no usable video in {self.root} ({len(media)} video files, {len(items)} with "
                               f"captions{'; ' + why if why else ''}); each needs >= {frames} frames at {fps:g} fps "
                               f"and must decode")
        self.entries = good
        self._bad: set[int] = set()  # entries that probed fine but failed to decode later
        self.attribute_keys = [k for k in ATTRIBUTE_KEYS if any(k in it.attrs for it, _, _ in good)]

    def __len__(self) -> int:
        return len(self.entries)

    def _load(self, index: int) -> torch.Tensor:
        from cascade.video_io import read_video

        it, _, need = self.entries[index]
        frames, src_fps = read_video(it.path, max_frames=need)  # uint8 (N, H, W, 3)
        idx = source_index(self.frames, self.fps, src_fps)
        if len(frames) == 0 or idx[-1] >= len(frames):
            raise CascadeError(f"{it.path} has {len(frames)} decodable frames, fewer than {idx[-1] + 1} needed")
        x = torch.from_numpy(np.ascontiguousarray(frames[idx])).permute(0, 3, 1, 2).float()  # (F, 3, H, W)
        x = resize_crop(x, self.size)
        return (x / 127.5 - 1.0).clamp(-1, 1).permute(1, 0, 2, 3).contiguous()  # (3, F, size, size)

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"video {index} is out of range for {len(self)} videos")
        for attempt in range(len(self)):  # a file that probed fine but fails to decode: use the next one
            j = (index + attempt) % len(self)
            if j in self._bad:
                continue
            try:
                video = self._load(j)
            except Exception as e:  # noqa: BLE001  never crash a training run for one bad file
                log.warning("skipping %s while loading: %s", self.entries[j][0].path, e)
                self._bad.add(j)
                continue
            it = self.entries[j][0]
            item = {"video": video, "caption": it.caption, "index": index, "file": str(it.path)}
            item.update({k: it.attrs.get(k, "") for k in self.attribute_keys})
            return item
        raise CascadeError(f"no video in {self.root} could be decoded; check the files with ffprobe")
