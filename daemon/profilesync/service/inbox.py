"""The inbox: which dropped files are candidates, and when one is complete enough to claim.

A référent's file arrives by SMB/NFS copy, by Excel saving in place, or by a script; the
daemon must never read a half-written file (SPEC §9). A file is complete when

- inotify reported a close-after-write or a rename into the inbox and it has not changed
  since, or
- its size and mtime stayed the same for `stable_seconds` of our own (monotonic) time —
  the only signal a network filesystem gives (the polling observer).

The watchdog observer only wakes the daemon up; the truth is always a directory scan, done
at start-up, after events and every `rescan_seconds`, so a lost event delays a file but
never loses it.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import queue
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirMovedEvent,
    FileClosedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from profilesync import layout

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".tmp", ".part")


def is_candidate(name: str) -> bool:
    """A `.csv` (any case) that is not an Excel lock (`~$x.csv`), a dotfile, a partial copy,
    or an export request (`export.csv`, `export-<ET>.csv`: service/selfservice.py)."""
    if name.startswith((".", "~$")) or layout.export_request(name) is not None:
        return False
    lower = name.lower()
    return lower.endswith(".csv") and not lower.endswith(IGNORED_SUFFIXES)


@dataclass(frozen=True, order=True)
class Dropped:
    """A candidate file: `login` is its folder, None for a file at the inbox root."""

    path: Path
    login: str | None


# Every entry of the inbox root and of each login folder, with its folder's login (None at
# the root): listed once per scan, then read for candidates and for strays alike.
Listing = list[tuple[os.DirEntry[str], str | None]]


def listing(inbox: Path) -> Listing:
    """The inbox root and each `inbox/<login>/` (not deeper, no dot folder), listed once."""
    if not inbox.is_dir():
        return []
    root = _entries(inbox)
    out: Listing = [(e, None) for e in root]
    for entry in root:
        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            out.extend((sub, entry.name) for sub in _entries(Path(entry.path)))
    return out


def scan(inbox: Path, listed: Listing | None = None) -> list[Dropped]:
    """Every candidate of the listing (made here when not given), oldest first."""
    found: list[tuple[float, Dropped]] = []
    for entry, login in listing(inbox) if listed is None else listed:
        if not is_candidate(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone since the listing: someone else claimed it
        if stat.S_ISREG(st.st_mode):
            found.append((st.st_mtime, Dropped(Path(entry.path), login)))
    found.sort()
    return [d for _, d in found]


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError as exc:
        log.warning("cannot list %s: %s", folder, exc.strerror)
        return []


def being_written(path: Path) -> bool:
    """Whether some process still has `path` open for writing, where Linux can tell.

    A writer that pauses longer than `stable_seconds` (a slow share, a script between two
    batches of rows) looks complete to the size-and-mtime test; a read lease cannot be
    taken while anyone holds the file open for writing (EAGAIN), so such a file waits.
    Where no lease can be taken at all (not Linux, a network filesystem, a file we do not
    own without CAP_LEASE), this says False and the stability test alone decides.
    """
    setlease = getattr(fcntl, "F_SETLEASE", None)
    if setlease is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False  # gone, or unreadable: the claim and the driver say so
    try:
        fcntl.fcntl(fd, setlease, fcntl.F_RDLCK)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EBUSY)
    else:
        fcntl.fcntl(fd, setlease, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


Signature = tuple[int, int]


def signature(path: Path) -> Signature | None:
    """(size, mtime in ns), None when the file is gone."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


class StabilityTracker:
    """Decides when a file is complete; the clock is injected so tests never sleep."""

    def __init__(
        self,
        stable_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        trust_mtime: bool = False,
    ) -> None:
        """`trust_mtime`: a file first seen with an mtime `stable_seconds` old is complete
        (burst mode, which has no earlier look to compare with)."""
        self.stable_seconds = stable_seconds
        self._monotonic = monotonic
        self._trust_mtime = trust_mtime
        self._seen: dict[Path, tuple[Signature, float]] = {}
        self._complete: dict[Path, Signature] = {}

    def mark_complete(self, path: Path) -> None:
        """The writer closed the file or it was renamed in: complete as it is now."""
        sig = signature(path)
        if sig is not None:
            self._complete[path] = sig

    def is_stable(self, path: Path) -> bool:
        sig = signature(path)
        if sig is None:
            self.forget(path)
            return False
        if self._complete.get(path) == sig:
            return True
        now = self._monotonic()
        seen = self._seen.get(path)
        if seen is None and self._trust_mtime:
            age = time.time() - sig[1] / 1e9
            if age >= self.stable_seconds:
                return True
        if seen is None or seen[0] != sig:
            self._seen[path] = (sig, now)
            return False
        return now - seen[1] >= self.stable_seconds

    def pending(self) -> int:
        """Files seen but not yet stable: the daemon looks again soon while there are any."""
        return len(self._seen)

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)
        self._complete.pop(path, None)

    def retain(self, present: set[Path]) -> None:
        """Drop what is no longer in the inbox (claimed elsewhere, deleted)."""
        for table in (self._seen, self._complete):
            for p in [p for p in table if p not in present]:
                del table[p]


# Events handed from the observer thread to the daemon's loop: ("complete", path) or
# ("changed", None). The loop owns the tracker; the observer only posts.
Event = tuple[str, Path | None]


class _Handler(FileSystemEventHandler):
    def __init__(self, events: queue.Queue[Event]) -> None:
        self._events = events

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileClosedEvent):
            self._events.put(("complete", Path(os.fsdecode(event.src_path))))
        elif isinstance(event, FileMovedEvent) and not isinstance(event, DirMovedEvent):
            self._events.put(("complete", Path(os.fsdecode(event.dest_path))))
        elif event.event_type in {"created", "modified", "moved"}:
            self._events.put(("changed", None))


def start_observer(inbox: Path, events: queue.Queue[Event], *, polling: bool) -> Any:
    """A started watchdog observer on the whole inbox (new login folders included)."""
    inbox.mkdir(parents=True, exist_ok=True)
    observer = PollingObserver() if polling else Observer()
    observer.schedule(_Handler(events), str(inbox), recursive=True)
    observer.daemon = True
    observer.start()
    return observer
