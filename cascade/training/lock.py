"""One writer per run folder: a file lock held for the whole run, with the holder's PID beside it."""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

from cascade.errors import CascadeError

LOCK_FILE, OWNER_FILE = ".lock", ".lock.pid"


class RunLock:
    """Held by the one process that writes a run folder; a second process gets one sentence naming the first."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._lock = FileLock(str(self.run_dir / LOCK_FILE))

    def acquire(self) -> "RunLock":
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            owner = self.run_dir / OWNER_FILE
            pid = owner.read_text().strip() if owner.is_file() else "unknown"
            raise CascadeError(f"{self.run_dir} is in use by another cascade train (PID {pid}); wait for it to "
                               f"finish or choose another --out") from None
        (self.run_dir / OWNER_FILE).write_text(str(os.getpid()))
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            (self.run_dir / OWNER_FILE).unlink(missing_ok=True)
            self._lock.release()
