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
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock
from profilesync.config import Settings
from profilesync.faults import crash_point
from profilesync.store import importer
from profilesync.store.model import ImportRun, RunStatus

log = logging.getLogger(__name__)

# work/ and state folders of files dropped at the inbox root: a dotted name, since the
# inbox ignores dot folders no login can collide with it.
ROOT_FOLDER = ".root"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_WORK_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<uid>[0-9a-f]{8})-(?P<name>.+)$")


def stamp(now: datetime) -> str:
    """The UTC timestamp in file names: sortable, no `:` (Windows shares refuse it)."""
    return now.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_work_name(name: str) -> tuple[datetime, str] | None:
    """(claim time, original file name) from a work/archive/private file name."""
    m = _WORK_NAME.match(name)
    if m is None:
        return None
    when = datetime.strptime(m["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    return when, m["name"]


def folder_of(login: str | None) -> str:
    return login if login else ROOT_FOLDER


def login_of(folder: str) -> str | None:
    return None if folder == ROOT_FOLDER else folder


def work_root(settings: Settings) -> Path:
    return settings.paths.state.resolve() / "work"


def report_path(
    settings: Settings, session: Session, login: str | None, file_name: str, when: str
) -> Path:
    """`outbox/<login>/<stem>.<stamp>.rapport.csv` (`outbox/` for the root), never reused."""
    folder = settings.paths.outbox.resolve()
    if login:
        folder = folder / login
    stem = Path(file_name).stem
    n = 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        candidate = folder / f"{stem}.{when}{suffix}.rapport.csv"
        taken = session.scalar(
            sa.select(sa.func.count()).where(ImportRun.report_path == str(candidate))
        )
        if not taken and not candidate.exists():
            return candidate
        n += 1


# Longest original name kept in work/archive names and reports (bytes): the prefixes and
# suffixes added around it (stamp, uuid, `.rapport.csv`, temporary and lock names) must
# stay within the 255 bytes a file name may have.
NAME_MAX_BYTES = 180


def fit_name(name: str) -> str:
    """`name`, with its stem shortened when too long to carry the daemon's additions."""
    if len(name.encode("utf-8", "surrogateescape")) <= NAME_MAX_BYTES:
        return name
    suffix = Path(name).suffix
    stem = name[: -len(suffix)] if suffix else name
    while len((stem + "~" + suffix).encode("utf-8", "surrogateescape")) > NAME_MAX_BYTES:
        stem = stem[:-1]
    return stem + "~" + suffix


@dataclass(frozen=True)
class Claimed:
    work_path: Path
    login: str | None


def claim(path: Path, login: str | None, settings: Settings, clock: Clock) -> Claimed | None:
    """Rename `path` into work/; None when another daemon (or the référent) took it first."""
    folder = work_root(settings) / folder_of(login)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{stamp(clock.now())}-{uuid.uuid4().hex[:8]}-{fit_name(path.name)}"
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
    parsed = parse_work_name(work_path.name)
    when, file_name = parsed if parsed else (clock.now(), work_path.name)
    login = login_of(work_path.parent.name)
    with session_factory() as session:
        report = report_path(settings, session, login, file_name, stamp(when))
    report.parent.mkdir(parents=True, exist_ok=True)
    fields = {
        "work_path": work_path,
        "submitter": login or "",
        "file_name": file_name,
        "report_path": report,
        "source": source,
        "rerun_of": rerun_of,
    }
    try:
        run_id = importer.register_run(session_factory, clock=clock, **fields)  # type: ignore[arg-type]
    except OSError as exc:
        # The importer hashes the file; one we cannot read still needs its run, so that
        # it ends with a report (FILE_UNREADABLE) instead of waiting in work/ for ever.
        log.warning("%s unreadable (%s): registered without content", work_path, exc.strerror)
        run_id = _register_unreadable(session_factory, clock, fields)
    crash_point("after_register")
    return run_id


def _register_unreadable(
    session_factory: sessionmaker[Session], clock: Clock, fields: dict[str, object]
) -> int:
    with session_factory() as session:
        run = ImportRun(
            submitter=fields["submitter"],
            file_name=fields["file_name"],
            content_sha256="",
            size_bytes=0,
            work_path=str(fields["work_path"]),
            report_path=str(fields["report_path"]),
            status=RunStatus.CLAIMED.value,
            source=fields["source"],
            rerun_of=fields["rerun_of"],
            created_at=clock.now(),
        )
        session.add(run)
        session.commit()
        return run.id


def work_files(settings: Settings) -> list[Path]:
    """Every claimed file still in work/ (oldest claim first): unfinished business."""
    root = work_root(settings)
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
    root = work_root(settings)
    removed = 0
    for lock in root.glob("*/.*.lock") if root.is_dir() else []:
        work = lock.with_name(lock.name[1 : -len(".lock")])
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
