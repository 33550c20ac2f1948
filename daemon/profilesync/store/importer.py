"""One file end to end, the API the CLI and the daemon call: register, process, approve.

`process_run` is resumable and idempotent (see `runner`); a finished run only (re)writes
its report from its `line_outcome` rows. `import_file --dry-run` runs the same pipeline in
a transaction that is rolled back.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock
from profilesync.config import Settings
from profilesync.errors import ProfilesyncError
from profilesync.fileformat.outcome import Summary
from profilesync.fileformat.report import ReportWriter
from profilesync.secret import Secret
from profilesync.store import db, runlock
from profilesync.store.model import ImportRun, RunStatus
from profilesync.store.passwords import Hasher
from profilesync.store.runner import Progress, RunProcessor, outcomes, summary_of

SessionFactory = sessionmaker[Session]
_FINISHED = (RunStatus.DONE, RunStatus.REJECTED)
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
    submitter: str,
    file_name: str,
    report_path: Path,
    source: str,
    clock: Clock,
    rerun_of: int | None = None,
) -> int:
    """Record a claimed file as a run (status claimed); the unique work_path makes it once."""
    sha, size = file_digest(work_path)
    with session_factory() as session:
        run = ImportRun(
            submitter=submitter,
            file_name=file_name,
            content_sha256=sha,
            size_bytes=size,
            work_path=str(work_path),
            report_path=str(report_path),
            status=RunStatus.CLAIMED,
            source=source,
            rerun_of=rerun_of,
            created_at=clock.now(),
        )
        session.add(run)
        session.commit()
        return run.id


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
        if run.status in _FINISHED or run.status == RunStatus.AWAITING_APPROVAL:
            return _report(session, run)
        own = hasher is None
        hasher = hasher or Hasher(settings.passwords)
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
    report_path = report_path or path.with_name(f"{path.stem}.rapport.csv")
    if dry_run:
        return _dry_run(path, submitter, settings, session_factory, clock, report_path, progress)
    # The run reads a private copy (the original may change or vanish); it holds plain
    # passwords, so it lives in the private state directory and goes once the run is over.
    work = settings.paths.state / "cli" / f"{uuid.uuid4().hex}-{path.name}"
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
    """Lift the mass-delete safeguard of a run and apply it.

    The run's lock is held from the status change to the end, so a daemon rescanning
    `state/work/` cannot drive the same run at the same time.
    """
    with session_factory() as session:
        run = _get_run(session, run_id)
        work = Path(run.work_path) if run.work_path else None
    with contextlib.ExitStack() as stack:
        if work is not None and stack.enter_context(runlock.locked(work)) is None:
            raise RunBusy(f"run {run_id} is being processed by another process; retry later")
        with session_factory() as session:
            run = _get_run(session, run_id)
            if run.status != RunStatus.AWAITING_APPROVAL:
                raise NotAwaitingApproval(f"run {run_id} is {run.status}, not awaiting approval")
            run.approved_by = approver
            run.status = RunStatus.CLAIMED
            run.reason = None
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


def _remove_stale_temps(report_path: Path) -> None:
    """Temporary reports of this run left by a killed process (see report._create_temp).

    Only the process holding the run applies it, so no live writer owns one of these.
    """
    for stale in report_path.parent.glob(f".{glob.escape(report_path.name)}.tmp-*"):
        stale.unlink(missing_ok=True)


def _discard_cli_copy(result: RunResult, work: Path, settings: Settings | None = None) -> None:
    cli_dir = (settings.paths.state / "cli").resolve() if settings else work.parent.resolve()
    if result.status in _FINISHED and work.parent.resolve() == cli_dir:
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

    sha, size = file_digest(path)
    with session_factory() as session:
        run = ImportRun(
            submitter=submitter,
            file_name=path.name,
            content_sha256=sha,
            size_bytes=size,
            work_path=None,  # not claimed: the file may be a real run's work file
            report_path=str(report_path),
            status=RunStatus.CLAIMED,
            source="dry-run",
            created_at=clock.now(),
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
    if status in (RunStatus.REJECTED, RunStatus.AWAITING_APPROVAL):
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
    "register_run",
]
