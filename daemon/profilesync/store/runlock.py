"""The per-file lock: one process at a time drives a run's work file (daemon, approve, rerun).

A separate `.<name>.lock` file is locked, not the work file itself: POSIX record locks
drop when *any* descriptor of the file closes, and the importer opens the work file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from profilesync import layout


class RunLock:
    """An exclusive, non-blocking lock on one work file, released by close or by death."""

    def __init__(self, work_path: Path) -> None:
        self.path = layout.lock_path(work_path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            return False  # the folder went away with the file
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self, *, remove: bool = False) -> None:
        """`remove` once the work file is gone: a stale lock file guards nothing."""
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)
        self._fd = None


@contextlib.contextmanager
def locked(work_path: Path) -> Iterator[RunLock | None]:
    """The lock on `work_path`, or None when another process holds it."""
    lock = RunLock(work_path)
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release(remove=not work_path.exists())
