"""What `profilesync status` shows: is a daemon alive, what is waiting, how runs and jobs went.

Gathered from the state folder (heartbeats, inbox, work/) and the database; each part
degrades on its own, so a database outage still shows the daemons and the queue, with the
database error in place of the runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock
from profilesync.config import Settings
from profilesync.directory import health
from profilesync.directory import sync as ldapsync
from profilesync.service import claim, heartbeat, inbox, jobs, lease, strays
from profilesync.store import db
from profilesync.store.model import ImportRun, JobLease, RunStatus

RECENT_RUNS = 10
# A heartbeat older than this many beat intervals means the daemon is gone.
STALE_BEATS = 3


@dataclass
class Status:
    now: str
    daemons: list[dict[str, Any]] = field(default_factory=list)
    inbox_waiting: dict[str, int] = field(default_factory=dict)
    in_work: int = 0
    # Entries of the inbox that were no CSV file, set aside with a report (strays.py).
    ignored: int = 0
    awaiting_approval: int = 0
    # Runs whose lines are done but whose report could not be written yet (outbox full).
    reports_waiting: int = 0
    recent_runs: list[dict[str, Any]] = field(default_factory=list)
    directory: dict[str, int] = field(default_factory=dict)
    # The last error of a waiting or parked change: why the backlog does not drain.
    directory_error: str | None = None
    # "UNREACHABLE" from the first failure of an outage until a bind succeeds, else "ok",
    # "unknown" (never tried) or "not configured"; `directory_unreachable_since` is that
    # first failure.
    directory_state: str = "unknown"
    directory_unreachable_since: str | None = None
    directory_last_ok_at: str | None = None
    # The most frequent reasons changes are parked, with how many each.
    directory_parked: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    database_error: str | None = None

    @property
    def alive(self) -> bool:
        return any(d["alive"] for d in self.daemons)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"alive": self.alive}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def gather(
    settings: Settings,
    session_factory: sessionmaker[Session] | None,
    clock: Clock,
    *,
    database_error: str | None = None,
) -> Status:
    """Everything `status` shows; without a session factory, `database_error` says why."""
    now = clock.now()
    out = Status(now=now.isoformat(), database_error=database_error)
    for beat in heartbeat.read_all(settings):
        age = (now - datetime.fromisoformat(beat["beat_at"])).total_seconds()
        # A daemon killed a second ago still has a fresh heartbeat: on its own host, the
        # process table says it is gone before the heartbeat grows old.
        gone = lease.gone(
            f"{beat['host']}:{beat['pid']}", datetime.fromisoformat(beat["started_at"])
        )
        beat["alive"] = not gone and age <= STALE_BEATS * max(float(beat["interval_seconds"]), 1.0)
        beat["gone"] = gone
        # Shown once more, as dropped, then no longer: its file is removed now.
        beat["dropped"] = (
            not beat["alive"] and heartbeat.dead(beat, age) and heartbeat.drop(settings, beat)
        )
        beat["seconds_since_beat"] = round(age, 1)
        out.daemons.append(beat)
    for dropped in inbox.scan(settings.paths.inbox):
        key = dropped.login or "(root)"
        out.inbox_waiting[key] = out.inbox_waiting.get(key, 0) + 1
    in_work = claim.work_files(settings)
    out.in_work = len(in_work)
    out.ignored = strays.count(settings)
    if session_factory is None:
        return out
    try:
        # An empty or older schema is said as such (with the command that fixes it), not
        # as the SQL error of the first missing table.
        db.require_current(session_factory.kw["bind"])
        with session_factory() as session:
            _from_database(session, settings, now, out, in_work)
    except (sa.exc.SQLAlchemyError, db.DatabaseError) as exc:
        out.database_error = str(exc).splitlines()[0]
    return out


def _from_database(
    session: Session, settings: Settings, now: datetime, out: Status, in_work: list[Path]
) -> None:
    out.awaiting_approval = (
        session.scalar(
            sa.select(sa.func.count()).where(ImportRun.status == RunStatus.AWAITING_APPROVAL.value)
        )
        or 0
    )
    finished = [str(s) for s in RunStatus if s.finished]
    unarchived = session.scalars(
        sa.select(ImportRun.report_path).where(
            ImportRun.status.in_(finished), ImportRun.work_path.in_([str(p) for p in in_work])
        )
    )
    out.reports_waiting = sum(1 for path in unarchived if not Path(path or "").is_file())
    runs = session.scalars(sa.select(ImportRun).order_by(ImportRun.id.desc()).limit(RECENT_RUNS))
    out.recent_runs = [run.as_dict() for run in runs]
    out.directory = ldapsync.backlog(session, now)._asdict()
    out.directory_error = ldapsync.last_error(session)
    known = health.read(session)
    if not settings.ldap.url:
        out.directory_state = "not configured"
    elif known.unreachable:
        out.directory_state = "UNREACHABLE"
        out.directory_error = known.last_error
    elif known.last_ok_at is not None:
        out.directory_state = "ok"
    out.directory_unreachable_since = _iso(known.unreachable_since)
    out.directory_last_ok_at = _iso(known.last_ok_at)
    out.directory_parked = [
        {"reason": reason, "changes": n} for reason, n in ldapsync.parked_reasons(session)
    ]
    leases = {row.name: row for row in session.scalars(sa.select(JobLease))}
    tz = ZoneInfo(settings.daemon.timezone)
    for name, sched in jobs.schedules(settings).items():
        row = leases.get(name)
        last = row.last_started_at if row else None
        running = row is not None and row.owner is not None and (row.expires_at or now) > now
        out.jobs.append(
            {
                "name": name,
                "last_started_at": _iso(last),
                "last_finished_at": _iso(row.last_finished_at if row else None),
                "last_status": row.last_status if row else None,
                "last_summary": row.last_summary if row else None,
                "last_error": row.last_error if row else None,
                "running_on": row.owner if running and row else None,
                "next_run_at": _iso(sched.next_after(last, now, tz)),
            }
        )


def local_time(iso: str | None, tz: ZoneInfo) -> str:
    """Local wall-clock time with its zone abbreviation (CET/CEST): never ambiguous."""
    if not iso:
        return "never"
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def render(status: Status, tz: ZoneInfo) -> str:
    """The text `status` prints: the answer to "is it working?" in the first line.

    Without the database, only what does not come from it; each section is its own
    function so that a command can print one of them (`jobs list`).
    """
    sections = [render_health(status, tz)]
    if status.database_error is None:
        sections += [render_database(status, tz), render_jobs(status, tz)]
    return "\n".join(sections)


def render_health(status: Status, tz: ZoneInfo) -> str:
    """Daemons, the inbox, files in progress, and the database when it does not answer."""
    lines: list[str] = []
    alive = [d for d in status.daemons if d["alive"]]
    if alive:
        lines.append(f"daemon: RUNNING ({len(alive)} instance(s))")
    else:
        lines.append("daemon: NOT RUNNING")
    for d in status.daemons:
        if d["alive"]:
            state = d["state"]
        elif d.get("dropped"):
            minutes = d["seconds_since_beat"] / 60
            state = f"no heartbeat for {minutes:.0f} min: dead, removed from this list"
        elif d.get("gone"):
            state = "process gone (killed or crashed: its file is removed at the next start)"
        else:
            state = f"no heartbeat for {d['seconds_since_beat']}s"
        lines.append(
            f"  {d['host']} pid {d['pid']} since {local_time(d['started_at'], tz)}: {state}"
        )
    waiting = sum(status.inbox_waiting.values())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(status.inbox_waiting.items()))
    lines.append(f"inbox: {waiting} file(s) waiting" + (f" ({detail})" if detail else ""))
    lines.append(
        f"in progress (work/): {status.in_work}; awaiting approval: {status.awaiting_approval}"
    )
    if status.ignored:
        lines.append(f"set aside (not CSV files, state/ignored/): {status.ignored}")
    if status.reports_waiting:
        lines.append(
            f"reports waiting for delivery: {status.reports_waiting} (the outbox is full or "
            "read-only: free space, they are written at the next scan)"
        )
    if status.database_error:
        lines.append(f"database: UNAVAILABLE: {status.database_error}")
    return "\n".join(lines)


def render_database(status: Status, tz: ZoneInfo) -> str:
    """What only the database knows: the directory backlog and the latest runs."""
    d = status.directory
    lines = [_directory_line(status, tz)]
    lines.append(
        f"directory backlog: {d['due']} due, {d['waiting']} retrying later, {d['parked']} parked"
    )
    if status.directory_state != "UNREACHABLE" and status.directory_error and d["waiting"]:
        lines.append(f"directory: waiting because: {status.directory_error}")
    for parked in status.directory_parked:
        lines.append(f"  parked ({parked['changes']}): {parked['reason']}")
    if status.directory_parked:
        lines.append(
            "  fix the cause, then `profilesync directory retry-parked` puts them back in the queue"
        )
    lines.append("recent runs:")
    if not status.recent_runs:
        lines.append("  (none)")
    for r in status.recent_runs:
        seconds = r["duration_seconds"]
        took = f" in {seconds:.1f}s" if seconds is not None else ""
        lines.append(
            f"  #{r['id']} {local_time(r['created_at'], tz)} {r['submitter'] or '(root)'}/"
            f"{r['file']}: {r['status']}, {r['total']} lines: {r['ok']} OK, "
            f"{r['alerte']} ALERTE, {r['erreur']} ERREUR{took}"
        )
    return "\n".join(lines)


def _directory_line(status: Status, tz: ZoneInfo) -> str:
    """The directory in one line: unreachable since the first failure, until a bind."""
    if status.directory_state == "UNREACHABLE":
        since = local_time(status.directory_unreachable_since, tz)
        return f"directory: UNREACHABLE since {since}: {status.directory_error}"
    if status.directory_state == "ok":
        return f"directory: ok (last answered {local_time(status.directory_last_ok_at, tz)})"
    if status.directory_state == "not configured":
        return "directory: none configured ([ldap] url empty): changes stay queued"
    return "directory: not contacted yet"


def render_jobs(status: Status, tz: ZoneInfo) -> str:
    """Each job's last run and next one (`status`, and all of `jobs list`)."""
    lines = ["jobs:"]
    for j in status.jobs:
        if j["last_started_at"]:
            last = f"{local_time(j['last_started_at'], tz)} {j['last_status'] or 'running'}"
        else:
            last = "never"
        extra = j["last_error"] if j["last_status"] == "failed" else j["last_summary"]
        running = f", running on {j['running_on']}" if j["running_on"] else ""
        lines.append(
            f"  {j['name']:<15} last: {last}{running}; "
            f"next: {local_time(j['next_run_at'], tz)}" + (f" — {extra}" if extra else "")
        )
    return "\n".join(lines)


def stale_after(settings: Settings) -> timedelta:
    return timedelta(seconds=STALE_BEATS * settings.daemon.rescan_seconds)
