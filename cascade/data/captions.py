"""Find and read caption files (JSONL, plain or WebVid-style CSV, sidecar .txt) and match them to media files."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from cascade.errors import CascadeError

log = logging.getLogger(__name__)

FILE_KEYS = ("file", "video", "path", "image", "filename")
TEXT_KEYS = ("caption", "text", "name", "prompt")
ATTRIBUTE_KEYS = ("colour", "shape", "motion")


@dataclass
class Captioned:
    """One media file with its caption and optional shapes attributes."""

    path: Path
    caption: str
    attrs: dict[str, str] = field(default_factory=dict)


def find_media(root: Path, suffixes: set[str]) -> list[Path]:
    """All files under root (recursively, hidden ones excluded) whose suffix is in `suffixes`, sorted."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def find_captions_file(root: Path) -> Path | None:
    """root/captions.jsonl, root/captions.csv, or the only .jsonl/.csv file in root."""
    for name in ("captions.jsonl", "captions.csv"):
        if (root / name).is_file():
            return root / name
    found = sorted(p for p in root.iterdir() if p.suffix.lower() in (".jsonl", ".csv") and p.is_file())
    return found[0] if len(found) == 1 else None


def _first(row: dict, keys: tuple[str, ...]) -> str | None:
    for k in keys:
        if row.get(k) not in (None, ""):
            return str(row[k])
    return None


def read_captions(path: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(file or WebVid video id, caption, attributes) rows from a .jsonl or .csv captions file."""
    rows: list[dict] = []
    try:
        if path.suffix.lower() == ".jsonl":
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        log.warning("%s line %d is not valid JSON; ignoring it", path, n)
        else:
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise CascadeError(f"cannot read captions file {path} ({e}); check the file or pass another one") from None
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        key = _first(row, FILE_KEYS)
        if key is None and row.get("videoid"):  # WebVid: videoid -> <videoid>.mp4, caption in `name`
            key = str(row["videoid"])
        text = _first(row, TEXT_KEYS)
        if key is None or text is None:
            continue
        out.append((key, text, {k: str(row[k]) for k in ATTRIBUTE_KEYS if row.get(k)}))
    if rows and not out:
        raise CascadeError(f"{path} has no usable rows; it needs a file column (file/video/path or WebVid "
                           f"videoid) and a caption column (caption/text/name)")
    return out


def match_captions(root: Path, media: list[Path], captions: Path | None, *,
                   require_captions: bool) -> tuple[list[Captioned], list[str]]:
    """Pair media files with captions; returns (items, caption rows whose file is missing).

    With no captions file, sidecar `<name>.txt` files are used; without those either, captions are "" (only
    when require_captions is False). Media without a caption are left out when captions are required.
    """
    if captions is None:
        captions = find_captions_file(root)
    if captions is None:
        items = []
        for p in media:
            txt = p.with_suffix(".txt")
            text = txt.read_text(encoding="utf-8", errors="replace").strip() if txt.is_file() else None
            if text is None and require_captions:
                continue
            items.append(Captioned(p, text or ""))
        if require_captions and not items:
            raise CascadeError(f"no captions found in {root}; add captions.jsonl (or a CSV, or .txt files beside "
                               f"the media) or name a captions file (data.captions in a training config, "
                               f"captions=PATH in Python); a text-conditioned stage needs captions")
        return items, []
    captions = Path(captions)
    if not captions.is_absolute() and not captions.is_file() and (root / captions).is_file():
        captions = root / captions  # data.captions: results.csv beside the videos
    if not captions.is_file():
        raise CascadeError(f"captions file {captions} does not exist; pass an existing .jsonl or .csv")
    by_rel = {p.relative_to(root).as_posix(): p for p in media}
    by_stem: dict[str, Path] = {}
    for p in media:
        by_stem.setdefault(p.stem, p)
    items, missing, used = [], [], set()
    for key, text, attrs in read_captions(captions):
        p = by_rel.get(Path(key).as_posix()) or by_rel.get(Path(key).name) or by_stem.get(key) or by_stem.get(Path(key).stem)
        if p is None:
            cand = (captions.parent / key)
            p = cand if cand.is_file() else None
        if p is None:
            missing.append(key)
            continue
        used.add(p)
        items.append(Captioned(p, text, attrs))
    if not require_captions:
        items += [Captioned(p, "") for p in media if p not in used]
    elif len(used) < len(media):
        log.info("%d of %d media files in %s have no caption and are not used", len(media) - len(used),
                 len(media), root)
    return items, missing
