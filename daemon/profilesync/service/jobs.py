"""The scheduled jobs: validity, directory sync, nightly exports, pruning.

Each job is a plain function `run_job(name, ctx) -> summary`, used alike by the scheduler,
by the daemon's burst mode and by `profilesync jobs run NAME`. `run_leased` wraps it in the
database lease (one daemon per slot) and records how it went; a job that raises is logged
and recorded as failed, and simply runs again at its next slot — it never stops the daemon.
Schedules are data (`SCHEDULES`), so `status` can say when each job runs next without
asking the scheduler of another process.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.clock import Clock, today
from profilesync.config import ConfigError, Settings
from profilesync.errors import ProfilesyncError
from profilesync.service import lease, selfservice
from profilesync.store.model import Establishment, JobLease
from profilesync.store.validity import run_validity

log = logging.getLogger(__name__)


class UnknownJob(ProfilesyncError):
    """No job has that name."""


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Clock
    owner: str  # "<host>:<pid>", who holds leases


@dataclass(frozen=True)
class Schedule:
    """Every `interval`, and/or daily at `daily` (local time): what the scheduler and status use."""

    interval: timedelta | None = None
    daily: tuple[dtime, ...] = field(default_factory=tuple)

    def _previous_daily(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """The latest daily slot at or before `now`."""
        local = now.astimezone(tz)
        slots = []
        for at in self.daily:
            slot = datetime.combine(local.date(), at, tzinfo=tz)
            if slot > local:
                slot = datetime.combine(local.date() - timedelta(days=1), at, tzinfo=tz)
            slots.append(slot.astimezone(UTC))
        return max(slots) if slots else None

    def next_after(self, last: datetime | None, now: datetime, tz: ZoneInfo) -> datetime:
        """When this job is due next, given its last start by any daemon (None: never ran).

        A daily slot missed while every daemon was down is due at once; a job that never
        ran waits for its first slot (a fresh install does not export at 14:00).
        """
        candidates: list[datetime] = []
        if self.interval is not None:
            candidates.append(now if last is None else max(now, last + self.interval))
        previous = self._previous_daily(now, tz)
        if previous is not None:
            if last is not None and last < previous:
                candidates.append(now)
            local = now.astimezone(tz)
            for at in self.daily:
                for offset in (0, 1):
                    slot = datetime.combine(local.date() + timedelta(days=offset), at, tzinfo=tz)
                    if slot > local:
                        candidates.append(slot.astimezone(UTC))
                        break
        return min(candidates)

    def slot_start(self, now: datetime, tz: ZoneInfo) -> datetime:
        """Start of the slot `now` belongs to: a run started since then is this slot's run."""
        starts = [now - self.interval / 2] if self.interval is not None else []
        previous = self._previous_daily(now, tz)
        if previous is not None:
            starts.append(previous)
        return max(starts)


def _parse_hhmm(text: str) -> dtime:
    hours, _, minutes = text.strip().partition(":")
    try:
        return dtime(int(hours), int(minutes or 0))
    except ValueError:
        raise ConfigError(f"[jobs] export_time must be HH:MM, got {text!r}") from None


def check_schedules(settings: Settings) -> None:
    """Raise ConfigError for a time zone or a job time the scheduler could not use."""
    try:
        ZoneInfo(settings.daemon.timezone)
    except (ValueError, ZoneInfoNotFoundError):
        zone = settings.daemon.timezone
        raise ConfigError(f"[daemon] timezone: unknown zone {zone!r}") from None
    schedules(settings)


def schedules(settings: Settings) -> dict[str, Schedule]:
    j = settings.jobs
    return {
        # Just after midnight too: a profile ending yesterday is locked at 00:00:30, not 00:15.
        "validity": Schedule(timedelta(minutes=j.validity_minutes), (dtime(0, 0, 30),)),
        "directory_sync": Schedule(timedelta(seconds=j.directory_sync_seconds)),
        "export": Schedule(daily=(_parse_hhmm(j.export_time),)),
        "prune": Schedule(daily=(dtime(3, 30),)),
    }


# --- the jobs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """A job's one-line summary, and whether it changed anything (the log level follows)."""

    summary: str
    acted: bool


def _validity(ctx: JobContext) -> Done:
    result = run_validity(ctx.session_factory, ctx.clock)
    return Done(result.summary(), result.acted)


def _directory_sync(ctx: JobContext) -> Done:
    if not ctx.settings.ldap.url:
        return Done("no directory configured ([ldap] url empty): changes stay queued", False)
    from profilesync.directory import sync as ldapsync  # noqa: PLC0415 - ldap3 only when a directory is set

    report = ldapsync.sync_once(ctx.session_factory, ctx.settings, clock=ctx.clock)
    if report.error:
        # Recorded as failed so `status` shows the outage; the queue waits, nothing is lost.
        raise JobFailed(report.line())
    return Done(report.line(), bool(report.pushed or report.retried or report.parked))


def _export(ctx: JobContext) -> Done:
    with ctx.session_factory() as session:
        ets = session.scalars(sa.select(Establishment.et).order_by(Establishment.et)).all()
        referents = selfservice.managed(session)
    failed: list[str] = []
    for et in ets:
        try:
            result = selfservice.export_now(ctx.settings, ctx.session_factory, ctx.clock, et)
            # Each référent of the ET finds it in their own folder too (issue 10).
            selfservice.deliver(
                ctx.settings, result.path, [who for who, mine in referents.items() if et in mine]
            )
        except Exception:  # one establishment's failure must not cost the others their export
            log.exception("export of %s failed", et)
            failed.append(et)
    if failed:
        raise JobFailed(f"{len(ets) - len(failed)} exported, failed: {', '.join(failed)}")
    return Done(f"{len(ets)} establishments exported", bool(ets))


class JobFailed(ProfilesyncError):
    """A job finished but could not do all of its work."""


def _prune(ctx: JobContext) -> Done:
    s = ctx.settings
    now = ctx.clock.now()
    day = today(ctx.clock)
    exports_removed = 0
    for path, made in layout.export_files(s.paths.outbox):
        if made < day - timedelta(days=s.jobs.exports_keep_days):
            path.unlink(missing_ok=True)
            exports_removed += 1
    private = _prune_claimed(
        layout.private_root(s), now - timedelta(days=s.daemon.private_copy_days)
    )
    archives = _prune_claimed(layout.archive_root(s), now - timedelta(days=s.daemon.archive_days))
    # What the inbox held that was no CSV file is kept as long as the archived files.
    archives += _prune_claimed(layout.ignored_root(s), now - timedelta(days=s.daemon.archive_days))
    outbox = _prune_outbox(s, now)
    summary = (
        f"removed {exports_removed} exports, {private} private copies, {archives} archives, "
        f"{outbox} outbox files"
    )
    return Done(summary, bool(exports_removed or private or archives or outbox))


def _prune_outbox(settings: Settings, now: datetime) -> int:
    """Reports and the référents' exports older than `[retention] outbox_days` (issue 10):
    they hold personal data. The time is the one in the name (UTC stamp, export day)."""
    before = now - timedelta(days=settings.retention.outbox_days)
    removed = 0
    for path, made in layout.outbox_files(settings):
        if made < before:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _prune_claimed(root: Path, before: datetime) -> int:
    """Files named `<stamp>-<uuid>-<name>` claimed before `before`."""
    removed = 0
    for path in sorted(root.glob("*/*")):
        parsed = layout.parse_work_name(path.name)
        if parsed is not None and parsed[0] < before:
            if path.is_dir() and not path.is_symlink():  # a folder set aside (strays.py)
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


JOBS: dict[str, Callable[[JobContext], Done]] = {
    "validity": _validity,
    "directory_sync": _directory_sync,
    "export": _export,
    "prune": _prune,
}
# One run of a job at a time inside a process (the lease is re-entrant for its owner).
_LOCAL = {name: threading.Lock() for name in JOBS}


def run_job(name: str, ctx: JobContext) -> str:
    """Run one job now, without lease or schedule; its one-line summary."""
    try:
        job = JOBS[name]
    except KeyError:
        raise UnknownJob(f"unknown job {name!r}; jobs: {', '.join(JOBS)}") from None
    return job(ctx).summary


@dataclass(frozen=True)
class JobRun:
    name: str
    status: str  # ok | failed | skipped
    summary: str
    seconds: float


def run_leased(name: str, ctx: JobContext, *, force: bool = False) -> JobRun:
    """Run under the lease, record the result; never raises for a failing job."""
    if name not in JOBS:
        raise UnknownJob(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
    with _LOCAL[name]:
        return _run_leased(name, ctx, force=force)


def _run_leased(name: str, ctx: JobContext, *, force: bool) -> JobRun:
    tz = ZoneInfo(ctx.settings.daemon.timezone)
    schedule = schedules(ctx.settings)[name]
    held = lease.acquire(
        ctx.session_factory,
        name,
        ctx.owner,
        ctx.clock,
        lease_seconds=2 * ctx.settings.jobs.lease_beat_seconds,
        not_since=None if force else schedule.slot_start(ctx.clock.now(), tz),
    )
    if held is None:
        return JobRun(name, "skipped", "already run in this slot, or running elsewhere", 0.0)
    started = time.monotonic()
    fields = {"job": name}
    beat, longest = ctx.settings.jobs.lease_beat_seconds, ctx.settings.jobs.lease_seconds
    try:
        with lease.kept(ctx.session_factory, held, ctx.clock, beat=beat, longest=longest):
            done = JOBS[name](ctx)
    except JobFailed as exc:
        # An expected failure (directory down, one export failed): said once, no traceback.
        seconds = time.monotonic() - started
        log.warning("job %s failed after %.2fs: %s", name, seconds, exc, extra=fields)
        return _failed(ctx, held, name, f"{type(exc).__name__}: {exc}", seconds)
    except Exception as exc:
        seconds = time.monotonic() - started
        log.exception("job %s failed after %.2fs", name, seconds, extra=fields)
        return _failed(ctx, held, name, f"{type(exc).__name__}: {exc}", seconds)
    seconds = time.monotonic() - started
    # A job that found nothing to do (every 5 s for directory_sync) is not news: DEBUG.
    log.log(
        logging.INFO if done.acted else logging.DEBUG,
        "job %s ok in %.2fs: %s",
        name,
        seconds,
        done.summary,
        extra={"job": name, "seconds": round(seconds, 3), "acted": done.acted},
    )
    _safe_release(ctx, held, status="ok", summary=done.summary)
    return JobRun(name, "ok", done.summary, seconds)


def _failed(ctx: JobContext, held: lease.Lease, name: str, error: str, seconds: float) -> JobRun:
    _safe_release(ctx, held, status="failed", error=error)
    return JobRun(name, "failed", error, seconds)


def _safe_release(ctx: JobContext, held: lease.Lease, **kw: str) -> None:
    try:
        lease.release(ctx.session_factory, held, ctx.clock, **kw)
    except Exception:  # the database went away: the lease expires by itself
        log.exception("could not record the end of job %s", held.name)


def due_jobs(ctx: JobContext) -> list[str]:
    """Jobs whose slot has come, by their last recorded start (any daemon's)."""
    tz = ZoneInfo(ctx.settings.daemon.timezone)
    now = ctx.clock.now()
    with ctx.session_factory() as session:
        last = dict(session.execute(sa.select(JobLease.name, JobLease.last_started_at)).all())
    return [
        name
        for name, sched in schedules(ctx.settings).items()
        if sched.next_after(last.get(name), now, tz) <= now
    ]


def run_due(ctx: JobContext) -> list[JobRun]:
    return [run_leased(name, ctx) for name in due_jobs(ctx)]
