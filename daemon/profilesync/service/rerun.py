"""`profilesync rerun RUN`: the private copy of a past run processed again as a new run.

The copy re-enters work/ under a fresh name, so it goes through exactly the path of a
dropped file (lock, register with `rerun_of`, process, report, archive). The lock is taken
before the file appears under its final name, so a daemon's recovery scan cannot register
it first as an ordinary inbox file.
"""

from __future__ import annotations

from pathlib import Path

from profilesync import layout
from profilesync.errors import ProfilesyncError
from profilesync.service.archive import write_atomic
from profilesync.service.driver import Driver, FileResult
from profilesync.store import runlock
from profilesync.store.model import ImportRun


class RerunUnavailable(ProfilesyncError):
    """The run cannot be re-processed (unknown, unfinished, or its private copy expired)."""


def rerun(driver: Driver, run_id: int) -> FileResult:
    settings = driver.settings
    with driver.session_factory() as session:
        run = session.get(ImportRun, run_id)
    if run is None:
        raise RerunUnavailable(f"no run {run_id}")
    if not run.run_status.finished:
        raise RerunUnavailable(f"run {run_id} is {run.status}: it has not finished yet")
    private = Path(run.private_copy_path) if run.private_copy_path else None
    if private is None or not private.exists():
        raise RerunUnavailable(
            f"run {run_id}: the private copy of {run.file_name} has expired (kept "
            f"{settings.daemon.private_copy_days} days) or was never kept; ask the "
            "référent to drop the file again"
        )
    # private/ and work/ have the same folder per login.
    folder = layout.work_root(settings) / private.parent.name
    folder.mkdir(parents=True, exist_ok=True)
    name = layout.work_name(driver.clock.now(), run.file_name)
    work = folder / name
    lock = runlock.RunLock(work)
    if not lock.acquire():  # pragma: no cover - the name is fresh
        raise RerunUnavailable(f"{work} is locked by another process")
    try:
        staged = folder / f".{name}.staged"
        write_atomic(staged, private.read_bytes(), 0o600)
        staged.replace(work)
        result = driver.drive_locked(work, source="rerun", rerun_of=run_id)
    finally:
        lock.release(remove=not work.exists())
    if result is None:  # pragma: no cover - only a database outage
        raise RerunUnavailable(f"run {run_id}: the new run could not finish now; see the log")
    return result
