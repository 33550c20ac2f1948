"""Job leases: with several daemons on one database, each scheduled job runs once per slot.

A lease is taken by one atomic UPDATE on the job's `job_lease` row — free, expired or
already ours — so two daemons firing at the same moment cannot both win. While the job
runs, its holder renews the lease every beat (`kept`) for two beats more: a holder whose
host died or was cut off stops renewing, and its lease is free two beats later, not
after `lease_seconds`. `not_since` turns
"once at a time" into "once per slot": a daemon whose timer fires a few seconds after
another's finished run finds the job already started in this slot and skips it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock
from profilesync.store.model import JobLease

log = logging.getLogger(__name__)

# Summaries and errors are for the operator's `status`; keep the column readable.
_TEXT_MAX = 2000


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str


def _ensure_row(session_factory: sessionmaker[Session], name: str) -> None:
    with session_factory() as session:
        if session.get(JobLease, name) is not None:
            return
        session.add(JobLease(name=name))
        try:
            session.commit()
        except sa.exc.IntegrityError:
            session.rollback()  # another daemon created it at the same moment


def gone(owner: str | None, since: datetime | None, host: str | None = None) -> bool:
    """Whether a lease's owner (`host:pid`, holding it since `since`) is a process that no
    longer exists on this host.

    After a `kill -9` or a crash the lease stays until it expires (two beats of
    `lease_beat_seconds`); a daemon restarted on the same host takes it over at once
    instead. A PID reused by a process that started after the lease was taken is gone too.
    An owner on another host is never judged from here: its lease runs out by itself, two
    beats after its holder's last renewal.
    """
    if not owner or ":" not in owner:
        return False
    owner_host, _, pid_text = owner.rpartition(":")
    if owner_host != (host or socket.gethostname()) or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    started = _process_start(pid)
    if started is None:
        return not Path(f"/proc/{pid}").exists() and Path("/proc/self").exists()
    return since is not None and started > since.timestamp() + _CLOCK_SLACK


# Process start times are known to the clock tick; the lease's start to the microsecond.
_CLOCK_SLACK = 1.0


def _process_start(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), from /proc; None if unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def acquire(
    session_factory: sessionmaker[Session],
    name: str,
    owner: str,
    clock: Clock,
    *,
    lease_seconds: float,
    not_since: datetime | None = None,
) -> Lease | None:
    """The lease on `name`, or None when another owner holds it or started it after `not_since`."""
    _ensure_row(session_factory, name)
    now = clock.now()
    free = sa.or_(JobLease.expires_at.is_(None), JobLease.expires_at < now, JobLease.owner == owner)
    with session_factory() as session:
        row = session.execute(
            sa.select(JobLease.owner, JobLease.last_started_at).where(JobLease.name == name)
        ).one()
    holder, since = row
    if holder is not None and holder != owner and gone(holder, _aware(since)):
        log.info("job %s: lease of %s taken over, that process is gone", name, holder)
        free = sa.or_(free, JobLease.owner == holder)
    condition = sa.and_(JobLease.name == name, free)
    if not_since is not None:
        condition = sa.and_(
            condition,
            sa.or_(JobLease.last_started_at.is_(None), JobLease.last_started_at < not_since),
        )
    with session_factory() as session:
        result = session.execute(
            sa.update(JobLease)
            .where(condition)
            .values(
                owner=owner,
                expires_at=now + timedelta(seconds=lease_seconds),
                last_started_at=now,
                last_status="running",
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return Lease(name, owner) if result.rowcount == 1 else None  # type: ignore[attr-defined]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def release(
    session_factory: sessionmaker[Session],
    lease: Lease,
    clock: Clock,
    *,
    status: str,
    summary: str | None = None,
    error: str | None = None,
) -> None:
    """Record how the run went and free the lease (only if it is still ours)."""
    with session_factory() as session:
        session.execute(
            sa.update(JobLease)
            .where(JobLease.name == lease.name, JobLease.owner == lease.owner)
            .values(
                owner=None,
                expires_at=None,
                last_finished_at=clock.now(),
                last_status=status,
                last_summary=summary[:_TEXT_MAX] if summary is not None else None,
                last_error=error[:_TEXT_MAX] if error is not None else None,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()


def renew(
    session_factory: sessionmaker[Session], lease: Lease, clock: Clock, *, seconds: float
) -> bool:
    """The lease lasts `seconds` more from now, if it is still ours (the holder's beat)."""
    with session_factory() as session:
        result = session.execute(
            sa.update(JobLease)
            .where(JobLease.name == lease.name, JobLease.owner == lease.owner)
            .values(expires_at=clock.now() + timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


@contextlib.contextmanager
def kept(
    session_factory: sessionmaker[Session],
    lease: Lease,
    clock: Clock,
    *,
    beat: float,
    longest: float,
) -> Iterator[None]:
    """Renew `lease` every `beat` seconds, for two beats, while the body runs; a run longer
    than `longest` seconds stops renewing (a hung job does not hold its job forever)."""
    stop = threading.Event()
    deadline = time.monotonic() + longest

    def beating() -> None:
        while not stop.wait(beat) and time.monotonic() < deadline:
            try:
                if not renew(session_factory, lease, clock, seconds=2 * beat):
                    log.warning("job %s: lease lost to another daemon", lease.name)
                    return
            except sa.exc.SQLAlchemyError as exc:  # the database is away: try next beat
                log.warning("job %s: lease not renewed: %s", lease.name, type(exc).__name__)

    thread = threading.Thread(target=beating, name=f"lease-{lease.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def all_leases(session: Session) -> list[JobLease]:
    return list(session.scalars(sa.select(JobLease).order_by(JobLease.name)))
