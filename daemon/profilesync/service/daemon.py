"""The daemon: inbox → claim → driver, the scheduled jobs, signals, systemd.

The loop is single-threaded for files (one file at a time, in arrival order); the
scheduler runs jobs in its own threads. Start-up recovery and the inbox both end in
`Driver.drive(work_path)` (see `driver`), so "resume after a crash" is not a special path;
the daemon adds what only a long-lived process has: heartbeat, watchdog, signals.

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

from profilesync import filemodes
from profilesync.clock import Clock, SystemClock
from profilesync.config import Settings
from profilesync.service import claim, heartbeat, inbox, jobs, lease, mail, selfservice, strays
from profilesync.service.driver import Driver, FileResult
from profilesync.service.heartbeat import Heartbeat, identity
from profilesync.service.metrics import Metrics
from profilesync.service.notify import Notifier
from profilesync.store.passwords import Hasher

log = logging.getLogger(__name__)
# How often a deleted outbox/<login>/modele.csv is put back (seconds).
TEMPLATE_CHECK_SECONDS = 60.0


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
        # Private copies of input files (passwords in clear) live under state/.
        filemodes.make_private_dir(settings.paths.state)
        self.clock = clock or SystemClock()
        self.monotonic = monotonic
        self.stability = stability or inbox.StabilityTracker(
            settings.daemon.stable_seconds, monotonic
        )
        self.notifier = notifier or Notifier(monotonic=monotonic)
        self.mailer = mail.Mailer(settings.notify)
        self._templates_failing: set[str] = set()  # logins whose modele.csv could not be written
        self._templates_due = float("-inf")  # monotonic time of the next look at the templates
        self.ctx = jobs.JobContext(settings, session_factory, self.clock, identity())
        self._stop = threading.Event()
        self._events: queue.Queue[inbox.Event] = queue.Queue()
        self._unreadable_logged: set[Path] = set()
        self.heartbeat = Heartbeat(settings, self.clock.now(), self._tick_seconds())
        self._last_beat = float("-inf")
        self.driver = Driver(
            settings,
            session_factory,
            self.clock,
            hasher=hasher,
            progress=self._progress,
            on_processing=self._processing,
        )
        # Counters always (cheap); the HTTP endpoint only when [metrics] listen is set.
        self.metrics = Metrics(settings, session_factory, self.clock)

    # --- one file ------------------------------------------------------------------------

    def drive(self, work: Path) -> FileResult | None:
        """`Driver.drive`, one place for a test to step in between two files."""
        return self.driver.drive(work)

    def _processing(self, file_name: str) -> None:
        self.heartbeat.beat(self.clock.now(), f"processing {file_name}")

    def _progress(self, *_args: object, **_kwargs: object) -> None:
        """Called by the importer after each batch: a long file must not look like a hang
        to systemd's watchdog nor to `status`."""
        self.notifier.ping()
        now = self.monotonic()
        if now - self._last_beat >= self._tick_seconds():
            self._last_beat = now
            self.heartbeat.beat(self.clock.now())

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
        listed = inbox.listing(self.settings.paths.inbox)
        dropped = inbox.scan(self.settings.paths.inbox, listed)
        found = strays.find(self.settings.paths.inbox, listed)
        asked = selfservice.requests(listed)
        tracked = {d.path for d in dropped} | {s.path for s in found if s.regular}
        self.stability.retain(tracked | {r.path for r in asked})
        out: list[FileResult] = []
        waiting = 0
        for d in dropped:
            if self._stop.is_set():
                break
            if not self.stability.is_stable(d.path) or inbox.being_written(d.path):
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
        waiting += self._set_strays_aside(found)
        waiting += self._self_service(asked)
        return out, waiting

    def _self_service(self, asked: list[selfservice.Request]) -> int:
        """Templates put back, exports asked from the inbox answered (selfservice.py).

        The templates are looked at once a minute, not at every scan: it is a query and a
        stat per référent, thousands of them nationally, for a file that is rarely deleted.
        """
        try:
            if self.monotonic() >= self._templates_due:
                selfservice.ensure_templates(
                    self.settings, self.session_factory, self._templates_failing
                )
                self._templates_due = self.monotonic() + TEMPLATE_CHECK_SECONDS
            return selfservice.answer_all(
                asked, self.settings, self.session_factory, self.clock, self.stability
            )
        except sa.exc.OperationalError as exc:  # the requests wait for the database too
            self.driver.outage.down(exc)
            return len(asked)

    def _set_strays_aside(self, found: list[strays.Stray]) -> int:
        """Say why what is no CSV file was not read (strays.py); the strays still arriving."""
        arriving = 0
        for stray in found:
            if self._stop.is_set():
                break
            if stray.regular and not self.stability.is_stable(stray.path):
                arriving += 1  # an .xlsx still being copied: its report can wait
                continue
            self.stability.forget(stray.path)
            try:
                strays.set_aside(stray, self.settings, self.session_factory, self.clock)
            except OSError as exc:
                if stray.path not in self._unreadable_logged:
                    log.error("cannot set %s aside: %s", stray.path, exc.strerror)
                    self._unreadable_logged.add(stray.path)
        return arriving

    def _guarded(self, work: Path) -> FileResult | None:
        """`drive`, with any error logged: one bad file never stops the daemon."""
        try:
            result = self.drive(work)
        except Exception:
            log.exception("%s: could not be processed now, will retry", work.name)
            return None
        if result is not None:
            self.metrics.file_done(result)
        if result is not None and result.processed:
            # After the run is over: a slow or failing mail server never holds a file.
            self.mailer.notify_run(
                self.session_factory, result.run_id, mail.event_of(result.status)
            )
        return result

    def run_once(self) -> BurstResult:
        """Burst mode: recovery, every complete file in the inbox, due jobs; then return."""
        result = BurstResult(files=self.recover())
        files, result.waiting = self.process_inbox()
        result.files.extend(files)
        try:
            result.jobs = jobs.run_due(self.ctx)
        except sa.exc.OperationalError as exc:  # the jobs wait for the database too
            self.driver.outage.down(exc)
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

    def _on_hangup(self, _signum: int, _frame: FrameType | None) -> None:
        """SIGHUP's default is to die (exit 129, a stale heartbeat); there is nothing to
        reopen (logs go to stderr, journald's) and the configuration is read at start."""
        log.info(
            "received SIGHUP: nothing to reload — the configuration is read at start, "
            "restart the service to apply a change; logs go to standard error"
        )

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
            signal.signal(signal.SIGHUP, self._on_hangup)
        self.metrics.serve()  # before anything starts: a taken port is refused at once
        observer = inbox.start_observer(
            self.settings.paths.inbox, self._events, polling=self.settings.daemon.polling_observer
        )
        scheduler = self._scheduler()
        for name in heartbeat.sweep_gone(self.settings, lease.gone):
            log.info("heartbeat %s of a daemon that is gone removed", name)
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
            self.metrics.stop()
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
