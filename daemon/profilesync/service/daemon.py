"""The daemon: inbox → claim → importer → archive, the scheduled jobs, signals, systemd.

The loop is single-threaded for files (one file at a time, in arrival order); the
scheduler runs jobs in its own threads. Everything a file goes through is driven by
`drive(work_path)`, which is safe to call any number of times from any process: it takes
the file's lock, registers the run if missing, processes it if unfinished, archives it if
finished. Start-up recovery, the inbox and `rerun` all end in `drive`, so "resume after a
crash" is not a special path.

`run_once()` is the burst mode: recovery, every complete file now in the inbox, due jobs;
tests drive the daemon through it with an injected clock and stability check.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock, SystemClock
from profilesync.config import Settings
from profilesync.faults import crash_point
from profilesync.fileformat import messages
from profilesync.fileformat.report import ReportWriter
from profilesync.service import archive, claim, inbox, jobs
from profilesync.service.heartbeat import Heartbeat, identity
from profilesync.service.notify import Notifier
from profilesync.store import importer, runlock
from profilesync.store.model import ImportRun, RunStatus
from profilesync.store.passwords import Hasher

log = logging.getLogger(__name__)

UNFINISHED = {RunStatus.CLAIMED.value, RunStatus.RUNNING.value}
FINISHED = {RunStatus.DONE.value, RunStatus.REJECTED.value, RunStatus.FAILED.value}
# Unexpected errors on one file before it is marked failed (a database outage does not count).
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class FileResult:
    run_id: int
    status: str
    file_name: str
    submitter: str


@dataclass
class BurstResult:
    files: list[FileResult] = field(default_factory=list)
    jobs: list[jobs.JobRun] = field(default_factory=list)
    waiting: int = 0  # files seen but not yet complete


class Daemon:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        stability: inbox.StabilityTracker | None = None,
        notifier: Notifier | None = None,
        hasher: Hasher | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock or SystemClock()
        self.monotonic = monotonic
        self.stability = stability or inbox.StabilityTracker(
            settings.daemon.stable_seconds, monotonic
        )
        self.notifier = notifier or Notifier(monotonic=monotonic)
        self.hasher = hasher
        self.ctx = jobs.JobContext(settings, session_factory, self.clock, identity())
        self._stop = threading.Event()
        self._events: queue.Queue[inbox.Event] = queue.Queue()
        self._attempts: dict[Path, int] = {}
        self._unreadable_logged: set[Path] = set()
        self.heartbeat = Heartbeat(settings, self.clock.now(), self._tick_seconds())
        self._last_beat = float("-inf")

    # --- one file ------------------------------------------------------------------------

    def drive(self, work: Path) -> FileResult | None:
        """Take a claimed file as far as it can go; None when another process holds it."""
        with runlock.locked(work) as lock:
            if lock is None or not work.exists():
                return None
            return self.drive_locked(work)

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
        acted = False
        if run.status in UNFINISHED:
            self.heartbeat.beat(self.clock.now(), f"processing {run.file_name}")
            if not self._process(run, work):
                return None
            acted = True
        crash_point("after_process")
        run = self._run(run_id)
        if run.status in FINISHED:
            archive.finish(run_id, self.settings, self.session_factory)
            self._attempts.pop(work, None)
            acted = True
        if not acted:  # awaiting approval: looked at on every rescan, logged once
            return None
        seconds = time.monotonic() - started
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
        return FileResult(run.id, run.status, run.file_name, run.submitter)

    def _run(self, run_id: int) -> ImportRun:
        with self.session_factory() as session:
            run = session.get(ImportRun, run_id)
            assert run is not None
            return run

    def _process(self, run: ImportRun, work: Path) -> bool:
        """Apply the file; False when it must be retried later."""
        reason = self._whole_file_rejection(run, work)
        if reason is not None:
            self._reject(run, reason)
            return True
        try:
            importer.process_run(
                run.id,
                settings=self.settings,
                session_factory=self.session_factory,
                clock=self.clock,
                hasher=self.hasher,
                progress=self._progress,
            )
        except sa.exc.OperationalError:
            log.exception("run %s: database unavailable, will retry", run.id)
            return False
        except Exception:
            attempts = self._attempts.get(work, 0) + 1
            self._attempts[work] = attempts
            log.exception("run %s: internal error (attempt %s/%s)", run.id, attempts, MAX_ATTEMPTS)
            if attempts < MAX_ATTEMPTS:
                return False
            self._reject(run, messages.INTERNAL_ERROR, status=RunStatus.FAILED)
        return True

    def _whole_file_rejection(self, run: ImportRun, work: Path) -> str | None:
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

    def _reject(self, run: ImportRun, reason: str, status: RunStatus = RunStatus.REJECTED) -> None:
        assert run.report_path is not None
        report = Path(run.report_path)
        report.parent.mkdir(parents=True, exist_ok=True)
        with ReportWriter(report) as writer:
            writer.reject(reason)
        now = self.clock.now()
        with self.session_factory() as session:
            session.execute(
                sa.update(ImportRun)
                .where(ImportRun.id == run.id)
                .values(
                    status=status.value,
                    reason=reason,
                    started_at=run.started_at or now,
                    finished_at=now,
                )
            )
            session.commit()

    def _progress(self, *_args: object, **_kwargs: object) -> None:
        """Called by the importer after each batch: a long file must not look like a hang
        to systemd's watchdog nor to `status`."""
        self.notifier.ping()
        now = self.monotonic()
        if now - self._last_beat >= self._tick_seconds():
            self._last_beat = now
            self.heartbeat.beat(self.clock.now())
        crash_point("mid_file")

    # --- the inbox -----------------------------------------------------------------------

    def recover(self) -> list[FileResult]:
        """Finish whatever is in work/: crashed runs, orphans of a rename, pending archives."""
        out = []
        claim.sweep_locks(self.settings)
        for work in claim.work_files(self.settings):
            if self._stop.is_set():
                break
            result = self._guarded(work)
            if result is not None:
                out.append(result)
        return out

    def process_inbox(self) -> tuple[list[FileResult], int]:
        """Claim and drive every complete file of the inbox; (results, files still waiting)."""
        dropped = inbox.scan(self.settings.paths.inbox)
        self.stability.retain({d.path for d in dropped})
        out: list[FileResult] = []
        waiting = 0
        for d in dropped:
            if self._stop.is_set():
                break
            if not self.stability.is_stable(d.path):
                waiting += 1
                continue
            self.stability.forget(d.path)
            try:
                claimed = claim.claim(d.path, d.login, self.settings, self.clock)
            except OSError as exc:
                if d.path not in self._unreadable_logged:
                    log.error("cannot claim %s: %s", d.path, exc.strerror)
                    self._unreadable_logged.add(d.path)
                continue
            if claimed is None:
                continue
            result = self._guarded(claimed.work_path)
            if result is not None:
                out.append(result)
            self.notifier.ping()
        return out, waiting

    def _guarded(self, work: Path) -> FileResult | None:
        """`drive`, with any error logged: one bad file never stops the daemon."""
        try:
            return self.drive(work)
        except Exception:
            log.exception("%s: could not be processed now, will retry", work.name)
            return None

    def run_once(self) -> BurstResult:
        """Burst mode: recovery, every complete file in the inbox, due jobs; then return."""
        result = BurstResult(files=self.recover())
        files, result.waiting = self.process_inbox()
        result.files.extend(files)
        result.jobs = jobs.run_due(self.ctx)
        return result

    # --- the daemon ----------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the current file, then leave the loop (signal handlers call this)."""
        self._stop.set()
        self._events.put(("changed", None))

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing the current file, then stopping", signal.Signals(signum).name
        )
        self.stop()

    def _tick_seconds(self) -> float:
        ticks = [self.settings.daemon.rescan_seconds, 10.0]
        if self.notifier.watchdog_interval is not None:
            ticks.append(self.notifier.watchdog_interval)
        return max(0.05, min(ticks))

    def run(self, *, install_signals: bool = True) -> int:
        """The daemon's foreground loop; returns the exit code (0 after SIGTERM/SIGINT)."""
        if install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        observer = inbox.start_observer(
            self.settings.paths.inbox, self._events, polling=self.settings.daemon.polling_observer
        )
        scheduler = self._scheduler()
        self.heartbeat.beat(self.clock.now(), "starting")
        try:
            self.recover()
            scheduler.start()
            self.notifier.ready("watching the inbox")
            log.info(
                "profilesync started: inbox %s, owner %s", self.settings.paths.inbox, self.ctx.owner
            )
            self._loop()
        finally:
            self.notifier.stopping()
            self.heartbeat.beat(self.clock.now(), "stopping")
            scheduler.shutdown(wait=True)
            observer.stop()
            observer.join(timeout=10)
            self.heartbeat.remove()
            log.info("profilesync stopped")
        return 0

    def _loop(self) -> None:
        rescan = self.settings.daemon.rescan_seconds
        next_scan = self.monotonic()
        next_recover = self.monotonic() + rescan
        while not self._stop.is_set():
            if self.monotonic() >= next_scan:
                _, waiting = self.process_inbox()
                # A file still settling is looked at again soon; otherwise wait for events.
                step = min(rescan, self.settings.daemon.stable_seconds / 2) if waiting else rescan
                next_scan = self.monotonic() + max(0.05, step)
            if self.monotonic() >= next_recover and not self._stop.is_set():
                self.recover()
                next_recover = self.monotonic() + rescan
            self.heartbeat.beat(self.clock.now(), "idle")
            self.notifier.ping()
            timeout = max(0.0, min(next_scan, next_recover) - self.monotonic())
            timeout = min(timeout, self._tick_seconds())
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                continue
            self._absorb(event)
            next_scan = self.monotonic()

    def _absorb(self, first: inbox.Event) -> None:
        event: inbox.Event | None = first
        while event is not None:
            kind, path = event
            if kind == "complete" and path is not None:
                self.stability.mark_complete(path)
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                event = None

    def _scheduler(self) -> Any:
        from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415
        from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415
        from apscheduler.triggers.interval import IntervalTrigger  # noqa: PLC0415

        tz = ZoneInfo(self.settings.daemon.timezone)
        scheduler = BackgroundScheduler(
            timezone=tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600},
        )
        for name, sched in jobs.schedules(self.settings).items():
            if sched.interval is not None:
                scheduler.add_job(
                    self._fire,
                    IntervalTrigger(seconds=sched.interval.total_seconds(), timezone=tz),
                    args=(name,),
                    id=f"{name}-interval",
                )
            for i, at in enumerate(sched.daily):
                scheduler.add_job(
                    self._fire,
                    CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=tz),
                    args=(name,),
                    id=f"{name}-daily-{i}",
                )
        # At start-up: validity at once, and any daily slot missed while no daemon ran.
        scheduler.add_job(
            self._startup_jobs, id="startup", next_run_time=datetime.now(tz) + timedelta(seconds=1)
        )
        return scheduler

    def _fire(self, name: str) -> None:
        if not self._stop.is_set():
            jobs.run_leased(name, self.ctx)

    def _startup_jobs(self) -> None:
        jobs.run_leased("validity", self.ctx, force=True)
        for name in jobs.due_jobs(self.ctx):
            if name != "validity" and not self._stop.is_set():
                jobs.run_leased(name, self.ctx)
