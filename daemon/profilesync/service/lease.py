"""Job leases: with several daemons on one database, each scheduled job runs once per slot.

A lease is taken by one atomic UPDATE on the job's `job_lease` row — free, expired or
already ours — so two daemons firing at the same moment cannot both win. `not_since` turns
"once at a time" into "once per slot": a daemon whose timer fires a few seconds after
another's finished run finds the job already started in this slot and skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock
from profilesync.store.model import JobLease

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


def all_leases(session: Session) -> list[JobLease]:
    return list(session.scalars(sa.select(JobLease).order_by(JobLease.name)))
