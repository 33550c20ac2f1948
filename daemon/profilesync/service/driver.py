"""One work file taken as far as it can go: lock, register, process or reject, archive.

Safe to call any number of times from any process, so "resume after a crash" is not a
special path: start-up recovery, the inbox and `rerun` all end here. Kept apart from the
`Daemon` so that `rerun`, a one-shot command, drives a file exactly as the daemon does
without being one (no heartbeat file, no inbox, no scheduler); the daemon plugs its
liveness signals in through `progress` and `on_processing`.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock
from profilesync.config import Settings
from profilesync.faults import crash_point
from profilesync.fileformat import messages
from profilesync.service import archive, claim
from profilesync.store import importer, runlock
from profilesync.store.model import ImportRun, RunStatus
from profilesync.store.passwords import Hasher
from profilesync.store.runner import Progress

log = logging.getLogger(__name__)

# Unexpected errors on one file before it is marked failed (a database outage does not count).
MAX_ATTEMPTS = 3
# A report that cannot be written for one of these is waiting for space, not a bad file:
# the lines are committed, the report is retried at every scan, the file stays in work/.
OUTBOX_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class Outage:
    """One WARNING when the database stops answering and one INFO when it is back, instead
    of a traceback at every scan for as long as it lasts (the files wait in work/)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.since: float | None = None

    def down(self, exc: BaseException) -> None:
        # The driver's first line says what failed; SQLAlchemy adds the SQL (never the
        # parameters: hide_parameters) on the next lines, which are not for the log.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if self.since is None:
            self.since = self._monotonic()
            log.warning("database unavailable (%s): files wait, retried at every scan", reason)
        else:
            log.debug("database still unavailable (%s)", reason)

    def up(self) -> None:
        if self.since is not None:
            log.info("database available again after %.0fs", self._monotonic() - self.since)
            self.since = None


@dataclass(frozen=True)
class FileResult:
    run_id: int
    status: str
    file_name: str
    submitter: str
    # Applied, refused or held by this pass (False: only archived, e.g. after `approve`):
    # what the daemon tells the référent about (service/mail.py).
    processed: bool = True


@dataclass(eq=False)
class Driver:
    """One per process: it remembers how often each file has failed (see MAX_ATTEMPTS)."""

    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Clock
    _: KW_ONLY
    hasher: Hasher | None = None
    progress: Progress | None = None  # after each committed batch
    on_processing: Callable[[str], None] | None = None  # a file's lines are about to apply
    # Per work file, kept across passes: a file is retried MAX_ATTEMPTS times.
    _attempts: dict[Path, int] = field(default_factory=dict, init=False, repr=False)
    outage: Outage = field(default_factory=Outage, init=False, repr=False)

    def drive(self, work: Path) -> FileResult | None:
        """Take a claimed file as far as it can go; None when another process holds it, or
        when the database does not answer (the file waits in work/ and is driven again)."""
        with runlock.locked(work) as lock:
            if lock is None or not work.exists():
                return None
            try:
                result = self.drive_locked(work)
            except sa.exc.OperationalError as exc:
                self.outage.down(exc)
                return None
            self.outage.up()
            return result

    def drive_locked(
        self, work: Path, *, source: str = "inbox", rerun_of: int | None = None
    ) -> FileResult | None:
        """`drive` for a caller that already holds the file's lock (`rerun`)."""
        started = time.monotonic()
        run_id = claim.register(
            self.session_factory,
            work,
            self.settings,
            self.clock,
            source=source,
            rerun_of=rerun_of,
        )
        run = self._run(run_id)
        acted = processed = False
        if run.run_status.unfinished:
            if self.on_processing is not None:
                self.on_processing(run.file_name)
            if not self._process(run, work):
                return None
            acted = processed = True
        crash_point("after_process")
        run = self._run(run_id)
        if run.run_status.finished and not self._report_delivered(run):
            return None
        if run.run_status.finished:
            archive.finish(run_id, self.settings, self.session_factory)
            self._attempts.pop(work, None)
            acted = True
        if not acted:  # awaiting approval: looked at on every rescan, logged once
            return None
        _log_run(run, time.monotonic() - started)
        return FileResult(run.id, run.status, run.file_name, run.submitter, processed)

    def _run(self, run_id: int) -> ImportRun:
        with self.session_factory() as session:
            run = session.get(ImportRun, run_id)
            assert run is not None
            return run

    def _report_delivered(self, run: ImportRun) -> bool:
        """A run is over only once its report is in the outbox (SPEC §9): one lost to a full
        disk is written again from the database before the file is archived."""
        if Path(run.report_path or "").is_file():
            return True
        try:
            importer.write_report(run.id, session_factory=self.session_factory)
        except OSError as exc:
            if exc.errno not in OUTBOX_FULL:
                raise
            _log_waiting(run, exc)
            return False
        log.info("run %s: report delivered after an earlier failure", run.id)
        return True

    def _process(self, run: ImportRun, work: Path) -> bool:
        """Apply the file; False when it must be retried later."""
        reason = _whole_file_rejection(run, work)
        if reason is not None:
            try:
                self._reject(run, reason)
            except OSError as exc:
                if exc.errno not in OUTBOX_FULL:
                    raise
                _log_waiting(run, exc)
                return False
            return True
        try:
            importer.process_run(
                run.id,
                settings=self.settings,
                session_factory=self.session_factory,
                clock=self.clock,
                hasher=self.hasher,
                progress=self._after_batch,
            )
        except sa.exc.OperationalError as exc:
            self.outage.down(exc)
            return False
        except OSError as exc:
            if exc.errno not in OUTBOX_FULL:
                return self._failed(run, work)
            _log_waiting(run, exc)  # the lines that committed stay; the rest resumes
            return False
        except Exception:
            return self._failed(run, work)
        return True

    def _failed(self, run: ImportRun, work: Path) -> bool:
        """One more unexpected failure of this file; after MAX_ATTEMPTS it is marked failed.

        Called from an `except` block: the traceback is the one being handled."""
        attempts = self._attempts.get(work, 0) + 1
        self._attempts[work] = attempts
        log.exception("run %s: internal error (attempt %s/%s)", run.id, attempts, MAX_ATTEMPTS)
        if attempts < MAX_ATTEMPTS:
            return False
        self._reject(run, messages.INTERNAL_ERROR, RunStatus.FAILED)
        return True

    def _reject(self, run: ImportRun, reason: str, status: RunStatus = RunStatus.REJECTED) -> None:
        importer.reject_run(
            run.id, reason, session_factory=self.session_factory, clock=self.clock, status=status
        )

    def _after_batch(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)
        crash_point("mid_file")


def _log_waiting(run: ImportRun, exc: OSError) -> None:
    log.warning(
        "run %s: its report cannot be written (%s): the file waits in work/, retried at every "
        "scan; free space in the outbox",
        run.id,
        exc.strerror,
    )


def _whole_file_rejection(run: ImportRun, work: Path) -> str | None:
    """A file at the root (SPEC §6) or that cannot be read is rejected whole here; an
    unknown login's file is the importer's (it knows who is a référent)."""
    if not run.submitter:
        return messages.FILE_AT_INBOX_ROOT
    try:
        with work.open("rb") as fh:
            fh.read(1)
    except OSError:
        return messages.FILE_UNREADABLE
    return None


def _log_run(run: ImportRun, seconds: float) -> None:
    fields = run.as_dict()
    log.info(
        "run %s %s/%s: %s, %s lines: %s OK, %s ALERTE, %s ERREUR in %.2fs%s",
        run.id,
        run.submitter or "(root)",
        run.file_name,
        run.status,
        run.total,
        run.ok,
        run.alerte,
        run.erreur,
        seconds,
        f" ({run.reason})" if run.reason else "",
        # `id` would mean nothing among a log line's fields; `seconds` is this pass's.
        extra={"run_id": fields.pop("id"), **fields, "seconds": round(seconds, 3)},
    )
