"""One file end to end, the API the CLI and the daemon call: register, process, reject,
approve.

`process_run` is resumable and idempotent (see `runner`); a settled run only (re)writes
its report from its `line_outcome` rows. `import_file --dry-run` runs the same pipeline in
a transaction that is rolled back.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, Unpack

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.clock import Clock
from profilesync.config import Settings, hashing
from profilesync.errors import ProfilesyncError
from profilesync.fileformat import messages
from profilesync.fileformat.outcome import Summary
from profilesync.fileformat.report import ReportWriter, default_report_path
from profilesync.secret import Secret
from profilesync.store import db, runlock
from profilesync.store.model import Audit, ImportRun, RunFields, RunStatus
from profilesync.store.passwords import Hasher
from profilesync.store.runner import Progress, RunProcessor, outcomes, summary_of

SessionFactory = sessionmaker[Session]
log = logging.getLogger(__name__)
DRY_HASH = "{DRYRUN}"  # never committed: a dry run rolls everything back
_P = ParamSpec("_P")


class RunNotFound(ProfilesyncError):
    """No import run has this number."""


class RunBusy(ProfilesyncError):
    """Another process (a daemon) holds the run's work file right now."""


class NotAwaitingApproval(ProfilesyncError):
    """Only a run held by the mass-delete safeguard can be approved."""


def _resumes_after_an_outage(run: Callable[_P, RunResult]) -> Callable[_P, RunResult]:
    """The database lost mid-import is `DatabaseUnavailable` telling the operator that what
    was committed is kept and how the import goes on, not the driver's error."""

    @functools.wraps(run)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> RunResult:
        try:
            return run(*args, **kwargs)
        except sa.exc.OperationalError as exc:
            raise db.DatabaseUnavailable(
                f"database unavailable ({db.first_line(exc.orig or exc)}): the lines already "
                "recorded stay recorded; the import resumes at the first line without a "
                "result (status 'running' in profilesync runs)"
            ) from exc

    return guarded


@dataclass(frozen=True)
class RunResult:
    run_id: int | None
    status: RunStatus
    summary: Summary
    report_path: Path
    reason: str | None


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, streamed."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def register_run(
    session_factory: SessionFactory,
    *,
    work_path: Path,
    report_path: Path,
    clock: Clock,
    unreadable_ok: bool = False,
    **fields: Unpack[RunFields],
) -> int:
    """Record a claimed file as a run (status claimed); the unique work_path makes it once.

    With `unreadable_ok` (the daemon) a file whose content cannot be read is recorded all
    the same, with an empty hash, so that it ends with a report (FILE_UNREADABLE) instead
    of waiting in work/ for ever.
    """
    try:
        digest = file_digest(work_path)
    except OSError as exc:
        if not unreadable_ok:
            raise
        log.warning("%s unreadable (%s): registered without content", work_path, exc.strerror)
        digest = ("", 0)
    with session_factory() as session:
        run = ImportRun.claimed(
            digest=digest, work_path=work_path, report_path=report_path, now=clock.now(), **fields
        )
        session.add(run)
        session.commit()
        return run.id


def reject_run(
    run_id: int,
    reason: str,
    *,
    session_factory: SessionFactory,
    clock: Clock,
    status: RunStatus = RunStatus.REJECTED,
) -> RunResult:
    """Refuse a file as a whole without reading its lines, or give up on it (failed).

    The report is in place before the status commits: a crash in between leaves the run
    unfinished, and it is rejected again. Such a run is stamped started as it is refused,
    so `runs` and `status` give it a duration; a rejection the runner finds while reading
    leaves started_at empty (two behaviours kept as they were).
    """
    with session_factory() as session:
        run = _get_run(session, run_id)
        now = clock.now()
        run.reject(reason, now, status)
        run.started_at = run.started_at or now
        Path(run.report_path or "").parent.mkdir(parents=True, exist_ok=True)
        result = _report(session, run)
        session.commit()
    return result


def _get_run(session: Session, run_id: int) -> ImportRun:
    run = session.get(ImportRun, run_id)
    if run is None:
        raise RunNotFound(f"no import run {run_id}")
    return run


def process_run(
    run_id: int,
    *,
    settings: Settings,
    session_factory: SessionFactory,
    clock: Clock,
    hasher: Hasher | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Apply (or resume, or just re-report) a registered run; see the module docstring."""
    with session_factory() as session:
        run = _get_run(session, run_id)
        if run.run_status.settled or run.status == RunStatus.AWAITING_APPROVAL:
            return _report(session, run)
        own = hasher is None
        hasher = hasher or Hasher(hashing(settings))
        try:
            # The report is written as the outcomes commit and moved into place only
            # after the last commit (ReportWriter's exit); a crash leaves no report, only
            # its hidden temporary file, removed here when the run is resumed.
            report_path = Path(run.report_path or "")
            _remove_stale_temps(report_path)
            with ReportWriter(report_path) as writer:
                processor = RunProcessor(
                    session, run, settings, clock, hasher.submit, progress, report=writer
                )
                processor.run()
                return _report(session, run, writer, streamed=processor.streamed)
        finally:
            if own:
                hasher.close()


@_resumes_after_an_outage
def import_file(
    path: Path,
    submitter: str,
    *,
    settings: Settings,
    session_factory: SessionFactory,
    clock: Clock,
    dry_run: bool = False,
    report_path: Path | None = None,
    source: str = "cli",
    hasher: Hasher | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """The daemon's pipeline on one file, now (`profilesync import`)."""
    report_path = report_path or default_report_path(path)
    if dry_run:
        return _dry_run(path, submitter, settings, session_factory, clock, report_path, progress)
    # The run reads a private copy (the original may change or vanish); it holds plain
    # passwords, so it lives in the private state directory and goes once the run is over.
    work = layout.cli_root(settings) / f"{uuid.uuid4().hex}-{path.name}"
    work.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(path, work)
    run_id = register_run(
        session_factory,
        work_path=work,
        submitter=submitter,
        file_name=path.name,
        report_path=report_path,
        source=source,
        clock=clock,
    )
    result = process_run(
        run_id,
        settings=settings,
        session_factory=session_factory,
        clock=clock,
        hasher=hasher,
        progress=progress,
    )
    _discard_cli_copy(result, work)
    return result


@contextlib.contextmanager
def _held_run(
    run_id: int, session_factory: SessionFactory, verb: str
) -> Iterator[tuple[Session, ImportRun, Path | None]]:
    """A run awaiting approval, its work file locked for the whole block: a daemon
    rescanning `state/work/` cannot drive it meanwhile."""
    with session_factory() as session:
        run = _get_run(session, run_id)
        work = Path(run.work_path) if run.work_path else None
    with contextlib.ExitStack() as stack:
        if work is not None and stack.enter_context(runlock.locked(work)) is None:
            raise RunBusy(f"run {run_id} is being processed by another process; retry later")
        with session_factory() as session:
            run = _get_run(session, run_id)
            if run.status != RunStatus.AWAITING_APPROVAL:
                raise NotAwaitingApproval(
                    f"run {run_id} is {run.status}, not awaiting approval: nothing to {verb}"
                )
            yield session, run, work


@_resumes_after_an_outage
def approve_run(
    run_id: int,
    *,
    approver: str,
    settings: Settings,
    session_factory: SessionFactory,
    clock: Clock,
    hasher: Hasher | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Lift the mass-delete safeguard of a run and apply it; the report held at the run's
    report path (Ligne 0, ATTENTE) is replaced by the real one."""
    with _held_run(run_id, session_factory, "approve") as (session, run, work):
        run.approve(approver)
        session.commit()
        result = process_run(
            run_id,
            settings=settings,
            session_factory=session_factory,
            clock=clock,
            hasher=hasher,
            progress=progress,
        )
    if work is not None:
        _discard_cli_copy(result, work, settings)
    return result


@_resumes_after_an_outage
def refuse_run(
    run_id: int,
    *,
    reason: str,
    refuser: str,
    settings: Settings,
    session_factory: SessionFactory,
    clock: Clock,
) -> RunResult:
    """Refuse a held run (`profilesync reject`): nothing applied, the report says why.

    The run is finished (rejected): the daemon, or the caller, archives its file.
    """
    with _held_run(run_id, session_factory, "reject") as (session, run, work):
        now = clock.now()
        run.reject(messages.refused(reason), now)
        run.started_at = run.started_at or now
        session.add(
            Audit(
                at=now,
                actor=refuser,
                run_id=run.id,
                action="run.refused",
                entity="import_run",
                entity_key=str(run.id),
                changes={"reason": reason},
            )
        )
        result = _report(session, run)
        session.commit()
    if work is not None:
        _discard_cli_copy(result, work, settings)
    return result


def _remove_stale_temps(report_path: Path) -> None:
    """Temporary reports of this run left by a killed process (see report._create_temp).

    Only the process holding the run applies it, so no live writer owns one of these.
    """
    for stale in report_path.parent.glob(f".{glob.escape(report_path.name)}.tmp-*"):
        stale.unlink(missing_ok=True)


def _discard_cli_copy(result: RunResult, work: Path, settings: Settings | None = None) -> None:
    cli_dir = layout.cli_root(settings) if settings else work.parent.resolve()
    if result.status.settled and work.parent.resolve() == cli_dir:
        work.unlink(missing_ok=True)


def _dry_run(  # noqa: PLR0917 - private, called once
    path: Path,
    submitter: str,
    settings: Settings,
    session_factory: SessionFactory,
    clock: Clock,
    report_path: Path,
    progress: Progress | None,
) -> RunResult:
    """The real pipeline in one transaction that is rolled back: the same report, no change."""

    def fake_hash(_: Secret) -> Future[str]:
        done: Future[str] = Future()
        done.set_result(DRY_HASH)
        return done

    digest = file_digest(path)
    with session_factory() as session:
        run = ImportRun.claimed(
            submitter=submitter,
            file_name=path.name,
            digest=digest,
            work_path=None,  # not claimed: the file may be a real run's work file
            report_path=report_path,
            source="dry-run",
            now=clock.now(),
        )
        session.add(run)
        session.flush()  # the transaction starts with a write: savepoints nest inside it
        try:
            with ReportWriter(report_path) as writer:
                processor = RunProcessor(
                    session,
                    run,
                    settings,
                    clock,
                    fake_hash,
                    progress,
                    dry=True,
                    path=path,
                    report=writer,
                )
                processor.run()
                result = _report(session, run, writer, streamed=processor.streamed)
        finally:
            session.rollback()
    return RunResult(None, result.status, result.summary, report_path, result.reason)


def write_report(run_id: int, *, session_factory: SessionFactory) -> Path:
    """Write a finished run's report again from the database (one lost to a full disk)."""
    with session_factory() as session:
        return _report(session, _get_run(session, run_id)).report_path


def _report(
    session: Session,
    run: ImportRun,
    writer: ReportWriter | None = None,
    *,
    streamed: bool = False,
) -> RunResult:
    """Complete the run's report: from the database, unless every outcome was streamed to
    `writer` as it committed (a run applied from its first line by this process)."""
    path = Path(run.report_path or "")
    status = RunStatus(run.status)
    if writer is None:
        with ReportWriter(path) as own:
            return _report(session, run, own)
    if status is RunStatus.AWAITING_APPROVAL:
        writer.hold(run.reason or "")
    elif status.whole_file:
        writer.reject(run.reason or "")
    elif not streamed:
        for outcome in outcomes(session, run.id):
            writer.write(outcome)
    summary = Summary() if status != RunStatus.DONE else summary_of(session, run.id)
    return RunResult(run.id, status, summary, path, run.reason)


__all__ = [
    "NotAwaitingApproval",
    "RunBusy",
    "RunNotFound",
    "RunResult",
    "approve_run",
    "import_file",
    "outcomes",
    "process_run",
    "refuse_run",
    "register_run",
    "reject_run",
    "write_report",
]
