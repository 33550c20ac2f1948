"""Claiming a dropped file: one atomic rename out of the inbox, then one `import_run` row.

The rename is the claim: of several daemons sharing an inbox, exactly one rename succeeds
and the others get FileNotFoundError. The claimed file is named
`state/work/<login>/<UTC stamp>-<short uuid>-<original name>`, which carries everything
needed to register it again if the process dies between the rename and the row (start-up
registers such orphans).

Whoever drives a work file to its end holds an exclusive POSIX lock on a lock file beside
it (`.<name>.lock`), taken right after the rename: the claimer, a recovering daemon and
`rerun` never work on the same file at once, and a killed process drops its lock with it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.clock import Clock
from profilesync.config import Settings
from profilesync.faults import crash_point
from profilesync.store import importer
from profilesync.store.model import ImportRun, Referent

log = logging.getLogger(__name__)


def report_path(
    settings: Settings, session: Session, login: str | None, file_name: str, when: str
) -> Path:
    """The first report name of `layout.report_name` no run has and no file takes, in the
    folder the report of a file dropped in `inbox/<login>/` belongs to (`report_folder`)."""
    folder = report_folder(settings, session, login, file_name)
    n = 1
    while True:
        candidate = folder / layout.report_name(file_name, when, n)
        taken = session.scalar(
            sa.select(sa.func.count()).where(ImportRun.report_path == str(candidate))
        )
        if not taken and not candidate.exists():
            return candidate
        n += 1


def report_folder(settings: Settings, session: Session, login: str | None, file_name: str) -> Path:
    """`outbox/<login>/` when the login is a référent's exactly, or the operator already made
    that outbox folder; otherwise the folder is a stranger (SPEC §6) and its reports are kept
    for the operator in `state/strangers/<folder>/`, never in a new outbox folder."""
    outbox = layout.report_folder(settings, login)
    if not login or outbox.is_dir():
        return outbox
    if session.scalar(sa.select(Referent.id).where(Referent.login == login)) is not None:
        return outbox
    strangers = layout.stranger_report_folder(settings, login)
    log.warning(
        "file %r dropped in inbox/%s/, which is no référent's login: refused, its report "
        "kept in %s",
        file_name,
        login,
        strangers,
    )
    return strangers


@dataclass(frozen=True)
class Claimed:
    work_path: Path
    login: str | None


def claim(path: Path, login: str | None, settings: Settings, clock: Clock) -> Claimed | None:
    """Rename `path` into work/; None when another daemon (or the référent) took it first."""
    folder = layout.work_folder(settings, login)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / layout.work_name(clock.now(), path.name)
    try:
        path.rename(dest)
    except FileNotFoundError:
        return None
    _fsync_dir(folder)
    crash_point("after_claim")
    return Claimed(dest, login)


def find_run(session_factory: sessionmaker[Session], work_path: Path) -> ImportRun | None:
    with session_factory() as session:
        return session.scalars(
            sa.select(ImportRun).where(ImportRun.work_path == str(work_path))
        ).first()


def register(
    session_factory: sessionmaker[Session],
    work_path: Path,
    settings: Settings,
    clock: Clock,
    *,
    source: str = "inbox",
    rerun_of: int | None = None,
) -> int:
    """The run row of a work file (caller holds its lock), created if missing."""
    existing = find_run(session_factory, work_path)
    if existing is not None:
        return existing.id
    parsed = layout.parse_work_name(work_path.name)
    when, file_name = parsed if parsed else (clock.now(), work_path.name)
    login = layout.login_of(work_path.parent.name)
    with session_factory() as session:
        report = report_path(
            settings, session, login, file_name, layout.report_stamp(when, settings)
        )
    report.parent.mkdir(parents=True, exist_ok=True)
    run_id = importer.register_run(
        session_factory,
        work_path=work_path,
        submitter=login or "",
        file_name=file_name,
        report_path=report,
        source=source,
        clock=clock,
        rerun_of=rerun_of,
        unreadable_ok=True,
    )
    crash_point("after_register")
    return run_id


def work_files(settings: Settings) -> list[Path]:
    """Every claimed file still in work/ (oldest claim first): unfinished business."""
    root = layout.work_root(settings)
    if not root.is_dir():
        return []
    out = [
        f
        for d in root.iterdir()
        if d.is_dir()
        for f in d.iterdir()
        if f.is_file() and not f.name.startswith(".")
    ]
    return sorted(out, key=lambda p: p.name)


# A lock file is created just before its work file appears (rerun): never sweep a young one.
STALE_LOCK_SECONDS = 3600


def sweep_locks(settings: Settings) -> int:
    """Remove lock files left by a process killed after it removed its work file."""
    removed = 0
    for lock in layout.lock_files(settings):
        work = layout.locked_work(lock)
        try:
            old = time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS
        except FileNotFoundError:
            continue
        if old and not work.exists():
            lock.unlink(missing_ok=True)
            removed += 1
    return removed


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
