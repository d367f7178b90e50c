"""Atomic file and directory writes, hashing, and safe (pickle-free) tensor loading."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from cascade.errors import CascadeError

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def disk_full(e: BaseException) -> bool:
    """Whether a write failed because the device is full (OSError ENOSPC, or safetensors' own error for it)."""
    if isinstance(e, OSError):
        return e.errno in (errno.ENOSPC, errno.EDQUOT)
    text = str(e)
    return type(e).__name__ == "SafetensorError" and ("os error 28" in text or "No space left" in text)


def write_failed(e: BaseException, path: Path, what: str = "") -> CascadeError:
    """One sentence for a write of `path` that failed (a full disk, a device that takes no data): what, how much room
    is left, and that nothing was replaced."""
    parent = _existing_parent(path)
    free = shutil.disk_usage(parent).free if parent else 0
    reason = (f"no space left on the device ({free / 2**20:.1f} MB free)" if disk_full(e)
              else (getattr(e, "strerror", None) or str(e)))
    return CascadeError(f"writing {what or path} failed: {reason}; nothing was replaced ({path} is as it was)")


def _existing_parent(path: Path) -> Path | None:
    p = Path(path).parent
    while not p.exists() and p != p.parent:
        p = p.parent
    return p if p.exists() else None


@contextlib.contextmanager
def _write_errors_said(path: Path, *, every_os_error: bool) -> Iterator[None]:
    """A full disk (or, with every_os_error, any OS error) while writing `path` becomes one sentence."""
    try:
        yield
    except CascadeError:
        raise
    except Exception as e:
        if disk_full(e) or (every_os_error and (isinstance(e, OSError) or type(e).__name__ == "SafetensorError")):
            raise write_failed(e, path) from None
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success rename it over `path`, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        with _write_errors_said(path, every_os_error=True):
            yield tmp
        try:
            if tmp.exists():  # mkstemp makes 0600 files; give the result the usual umask-based mode
                os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except OSError as e:
            raise write_failed(e, path) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def foreign_entries(folder: Path, kept: Callable[[Path], bool]) -> str:
    """The entries of `folder`, at every depth (a note inside a stage subfolder counts too), that `kept` (given the
    path relative to `folder`) does not accept, named for a message ("a.txt, b.txt, c.txt and 2 more"); "" if none."""
    rels = sorted(e.relative_to(folder) for e in folder.rglob("*")) if folder.is_dir() else []
    names = [r.as_posix() for r in rels if not kept(r)]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, ours: Callable[[str], bool] = lambda name: False) -> Iterator[Path]:
    """Yield a temp directory beside `path`; on success it replaces `path` (old one removed).

    An existing `path` is replaced only when the new directory rewrites everything in it, entries whose name
    `ours` accepts aside: a folder that holds anything else (a training run, a README, someone's notes) is
    refused with nothing written or removed.
    """
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise CascadeError(f"'{path}' names no folder to write; give a folder name such as out/weights")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        with _write_errors_said(path, every_os_error=False):
            yield tmp
        if path.is_dir():
            foreign = foreign_entries(path, lambda rel: (tmp / rel).exists() or ours(rel.name))
            if foreign:
                raise CascadeError(f"{path} already holds {foreign}, which this write would delete; choose a new or "
                                   f"empty folder, or move those out first (nothing was written)")
        elif path.exists():
            raise CascadeError(f"{path} is a file, not a folder; choose another name (nothing was written)")
        mask = _umask()
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700 directories
        for f in tmp.rglob("*"):  # and safetensors writes 0600 files
            if f.is_file():
                os.chmod(f, 0o666 & ~mask)
                fd = os.open(f, os.O_RDONLY)  # on disk before the rename makes the folder visible (power loss)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        old = None
        try:
            if path.exists():
                old = path.with_name(f".{path.name}.old.{os.getpid()}")
                os.replace(path, old)
            os.replace(tmp, path)
        except OSError as e:
            if old is not None and old.exists() and not path.exists():
                os.rename(old, path)  # put the previous folder back
            raise write_failed(e, path) from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_writable_path(path: str | Path) -> None:
    """Raise one sentence if `path` (a file or folder to be written) cannot be created, before any compute is spent.

    atomic_path/atomic_dir create their temp beside `path`, so its nearest existing ancestor must take a file.
    """
    path = Path(path)
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CascadeError(f"cannot write {path}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CascadeError(f"cannot write {path}: {existing} is not writable")
    try:  # os.access is not enough (root, read-only mounts, ACLs): really create and remove a file
        fd, probe = tempfile.mkstemp(prefix=".cascade-write-check.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = "it does not take new files" if isinstance(e, FileNotFoundError) else (e.strerror or str(e))
        raise CascadeError(f"cannot write {path}: {existing} is not writable ({reason})") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_safetensors(path: str | Path, device: str = "cpu") -> dict:
    """Load a safetensors file; refuse pickles and say clearly what is wrong with anything else."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES:
        raise CascadeError(f"{path} is a pickle-format file; cascade loads only .safetensors weights")
    if not path.is_file():
        raise CascadeError(f"{path} is missing; a stage folder needs its weights file (cascade export writes one)")
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header; the length's low byte can be 0x80,
    # so a file is called a pickle (protocol 2+: 0x80 then the protocol) or a zip only when it is not that
    size = path.stat().st_size
    is_safetensors = len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") + 8 <= size
    if not is_safetensors and (head[:1] == b"\x80" or head[:2] == b"PK"):
        raise CascadeError(f"{path} is a pickle/zip file, not safetensors; convert it with safetensors first")
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as e:
        raise CascadeError(f"{path} is not a readable safetensors file ({e}); export it again") from None
