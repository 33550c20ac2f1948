"""The sync worker: drains the `directory_change` queue into the directory.

A change is "make the directory look like the database for this key", so pushing it
twice is harmless and several changes of one key are pushed once. A change row is
deleted only after the server confirmed every operation of its key. When the directory
is unreachable the claimed changes stay, with `attempts + 1` and an exponential backoff
capped at `retry_max_seconds`; a change the server rejects for good (schema violation,
invalid syntax…) is parked with its error and does not hold the others back.

Two daemons on one PostgreSQL never push the same key at the same time: rows are claimed
with `FOR UPDATE SKIP LOCKED`, and each key is also taken with a transaction-scoped
advisory lock, so a newer row of a key being pushed waits for the next round instead of
racing with an older snapshot. SQLite is single-host: a plain select.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from ldap3 import Connection
from sqlalchemy import and_, case, delete, func, select, text, update
from sqlalchemy.orm import Session

from profilesync.clock import Clock
from profilesync.config import LdapSettings, Settings, hashing
from profilesync.directory import canary, containers, health
from profilesync.directory.conn import (
    DirectoryNotConfigured,
    DirectoryUnavailable,
    Pipeline,
    close,
    connect,
    server_profile,
)
from profilesync.directory.push import ReadFailed, Target, push
from profilesync.directory.servers import ServerProfile, UnknownServer
from profilesync.directory.tree import Tree
from profilesync.store.model import DirectoryChange

log = logging.getLogger(__name__)

BATCH = 1000  # changes claimed per transaction
FIRST_RETRY_SECONDS = 5.0
SessionFactory = Callable[[], Session]


@dataclass
class SyncReport:
    """What one burst did, for the CLI, the scheduler's job summary and the benchmark."""

    pushed: int = 0  # change rows confirmed by the directory and removed from the queue
    keys: int = 0  # distinct keys pushed (after coalescing)
    retried: int = 0  # rows put back with a backoff
    parked: int = 0  # rows parked with a permanent error
    entries_added: int = 0
    entries_modified: int = 0
    entries_deleted: int = 0
    member_changes: int = 0
    error: str | None = None  # set when the directory was unreachable

    def line(self) -> str:
        text = (
            f"{self.pushed} change(s) pushed ({self.keys} key(s)), {self.retried} retried later, "
            f"{self.parked} parked"
        )
        return text + (f"; directory unavailable: {self.error}" if self.error else "")


class Backlog(NamedTuple):
    """The queue as `status` shows it."""

    due: int
    waiting: int
    parked: int


def backoff(attempts: int, cap: float) -> timedelta:
    """5 s, 10 s, 20 s … capped: a long outage costs one attempt per cap interval."""
    seconds = FIRST_RETRY_SECONDS * 2 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, cap))


def _ldap(settings: Settings | LdapSettings) -> LdapSettings:
    return settings.ldap if isinstance(settings, Settings) else settings


def _full(settings: Settings | LdapSettings) -> Settings:
    return settings if isinstance(settings, Settings) else Settings(ldap=settings)


def open_target(
    settings: Settings | LdapSettings, *, pipelined: bool = True, writes: bool = True
) -> tuple[Connection, Target]:
    """A bound connection and what it is connected to: the server's profile (read once
    per connection) and, when it will write (`writes`), whether passwords may be.

    Before anything is written: the two containers are created if missing, and the
    canary runs; when it fails, passwords are refused on this connection (the changes
    that need one stay queued with the reason) and everything else goes through.
    """
    full = _full(settings)
    ldap = full.ldap
    conn = connect(ldap, pipelined=pipelined)
    try:
        server = server_profile(conn, ldap)
        target = Target(server=server, max_age_days=full.passwords.max_age_days)
        if writes:
            target = replace(target, password_refusal=_prepare(full, server))
    except (DirectoryUnavailable, UnknownServer):
        close(conn)
        raise
    return conn, target


def _prepare(settings: Settings, server: ServerProfile) -> str | None:
    """Containers, then the canary, on a synchronous connection; why passwords are refused."""
    conn = connect(settings.ldap, pipelined=False)
    try:
        created = containers.ensure(conn, Tree.from_settings(settings.ldap))
        for dn in created:
            log.info("created %s", dn)
        verdict = canary.probe(conn, settings.ldap, server, hashing(settings))
    finally:
        close(conn)
    if verdict.ok:
        log.debug("password canary: %s", verdict.detail)
        return None
    log.error("password canary failed, no password is written: %s", verdict.detail)
    return f"password canary failed: {verdict.detail}"


def sync_once(
    session_factory: SessionFactory,
    settings: Settings | LdapSettings,
    *,
    clock: Clock,
    limit: int | None = None,
    waiting_too: bool = False,
) -> SyncReport:
    """Push every change due now (at most `limit`), then return: the burst mode.

    `waiting_too`: the changes waiting for a retry are due now as well (an operator's
    `directory sync`, typically after fixing an outage, means "now").
    """
    ldap = _ldap(settings)
    report = SyncReport()
    if not ldap.url:
        report.error = "no directory configured ([ldap] url)"
        return report
    with session_factory() as session, session.begin():
        if waiting_too:
            make_due(session, clock.now())
        queue = backlog(session, clock.now())
        known = health.read(session)
    if queue.due == 0 and known.unreachable and queue.waiting:
        # Not reconnecting before the next retry falls due (the backoff): still down.
        report.error = _still_down(known)
        return report
    if queue.due == 0 and not known.unreachable:
        return report  # nothing due: do not even connect
    try:
        conn, target = open_target(settings)
    except (DirectoryUnavailable, DirectoryNotConfigured, UnknownServer) as exc:
        report.error = str(exc)
        with session_factory() as session, session.begin():
            rows = _claim(session, clock.now(), min(BATCH, limit or BATCH))
            _retry(rows, clock.now(), str(exc), ldap.retry_max_seconds)
            report.retried += len(rows)
            since = health.failed(session, clock.now(), str(exc)).unreachable_since
        log.warning(
            "directory unavailable since %s, %d changes postponed: %s",
            since.isoformat() if since else "now",
            len(rows),
            exc,
        )
        return report
    with session_factory() as session, session.begin():
        if known.unreachable_since is not None:
            began = known.unreachable_since.isoformat()
            log.info("directory reachable again (unreachable since %s)", began)
        health.answered(session, clock.now())
    pipe = Pipeline(
        conn,
        ldap.pipeline_window,
        ldap.timeout_seconds,
        permissive=target.server.permissive_modify,
    )
    tree = Tree.from_settings(ldap)
    ensured: set[str] = set()
    try:
        while limit is None or report.pushed + report.parked < limit:
            size = BATCH if limit is None else min(BATCH, limit - report.pushed - report.parked)
            if not _one_batch(
                session_factory,
                ldap,
                tree,
                pipe,
                target=target,
                ensured=ensured,
                clock=clock,
                size=size,
                report=report,
            ):
                break
    finally:
        close(conn)
    return report


def _one_batch(
    session_factory: SessionFactory,
    ldap: LdapSettings,
    tree: Tree,
    pipe: Pipeline,
    *,
    target: Target,
    ensured: set[str],
    clock: Clock,
    size: int,
    report: SyncReport,
) -> bool:
    """One transaction: claim, push, settle. False when there is nothing more to do now."""
    with session_factory() as session, session.begin():
        now = clock.now()
        rows = _claim(session, now, size)
        if not rows:
            return False
        by_key: dict[tuple[str, str], list[DirectoryChange]] = defaultdict(list)
        for row in rows:
            by_key[(row.kind, row.key)].append(row)
        keys = _lock_keys(session, list(by_key))
        if not keys:
            return False  # every key is being pushed by another worker right now
        accounts = [k for kind, k in keys if kind == "account"]
        ets = [k for kind, k in keys if kind == "establishment"]
        unknown = [key for key in keys if key[0] not in ("account", "establishment")]
        try:
            result = push(pipe, session, tree, accounts, ets, ensured=ensured, target=target)
        except (DirectoryUnavailable, ReadFailed) as exc:
            report.error = str(exc)
            every = [row for key in keys for row in by_key[key]]
            _retry(every, clock.now(), str(exc), ldap.retry_max_seconds)
            report.retried += len(every)
            if isinstance(exc, DirectoryUnavailable):
                health.failed(session, clock.now(), str(exc))
            log.warning("directory push interrupted, %d changes postponed: %s", len(every), exc)
            return False
        done: list[int] = []
        for key in keys:
            failure = result.failures.get(key)
            if key in unknown:
                _park(by_key[key], f"unknown change kind {key[0]!r}")
                report.parked += len(by_key[key])
            elif failure is None:
                done.extend(row.id for row in by_key[key])
                report.keys += 1
            elif failure.retry:
                _retry(by_key[key], clock.now(), failure.error, ldap.retry_max_seconds)
                report.retried += len(by_key[key])
            else:
                _park(by_key[key], failure.error)
                report.parked += len(by_key[key])
                log.error("directory change %s %r parked: %s", key[0], key[1], failure.error)
        for i in range(0, len(done), 500):
            session.execute(
                delete(DirectoryChange).where(DirectoryChange.id.in_(done[i : i + 500]))
            )
        report.pushed += len(done)
        report.entries_added += result.entries_added
        report.entries_modified += result.entries_modified
        report.entries_deleted += result.entries_deleted
        report.member_changes += result.member_changes
        # Keys that failed to push stay claimed until next time; carry on only if some
        # progress was made, so a batch of failing keys cannot spin.
        return bool(done)


def _still_down(known: health.Health) -> str:
    since = known.unreachable_since.isoformat() if known.unreachable_since else "?"
    return f"unreachable since {since}: {known.last_error}"


def make_due(session: Session, now: datetime) -> int:
    """Every change waiting for a retry is due now; how many were waiting."""
    result = session.execute(
        update(DirectoryChange)
        .where(DirectoryChange.parked.is_(False), DirectoryChange.next_attempt_at > now)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _claim(session: Session, now: datetime, size: int) -> list[DirectoryChange]:
    query = (
        select(DirectoryChange)
        .where(DirectoryChange.parked.is_(False), DirectoryChange.next_attempt_at <= now)
        .order_by(DirectoryChange.id)
        .limit(size)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _lock_keys(session: Session, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The keys this transaction may push: on PostgreSQL, those whose advisory lock it got."""
    if session.get_bind().dialect.name != "postgresql":
        return keys
    names = [f"profilesync.directory.tree:{kind}:{key}" for kind, key in keys]
    got = set(
        session.scalars(
            text(
                "SELECT n FROM unnest(CAST(:names AS text[])) AS n "
                "WHERE pg_try_advisory_xact_lock(hashtext(n))"
            ),
            {"names": names},
        )
    )
    return [k for k, n in zip(keys, names, strict=True) if n in got]


def _retry(rows: Sequence[DirectoryChange], now: datetime, error: str, cap: float) -> None:
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + backoff(row.attempts, cap)
        row.last_error = error[:1000]


def _park(rows: Sequence[DirectoryChange], error: str) -> None:
    for row in rows:
        row.attempts += 1
        row.parked = True
        row.last_error = error[:1000]


def backlog(session: Session, now: datetime) -> Backlog:
    """Counts for `status`: due now, waiting for a retry, parked."""
    parked = DirectoryChange.parked.is_(True)
    due = and_(DirectoryChange.parked.is_(False), DirectoryChange.next_attempt_at <= now)
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((due, 1), else_=0)), 0),
            func.coalesce(func.sum(case((parked, 1), else_=0)), 0),
        ).select_from(DirectoryChange)
    ).one()
    total, due_n, parked_n = int(row[0]), int(row[1]), int(row[2])
    return Backlog(due=due_n, waiting=total - due_n - parked_n, parked=parked_n)


def last_error(session: Session) -> str | None:
    """Why changes are waiting: the error of the most recently retried or parked change
    (e.g. a failed password canary: passwords stay queued until it passes)."""
    return session.scalar(
        select(DirectoryChange.last_error)
        .where(DirectoryChange.last_error.is_not(None))
        .order_by(DirectoryChange.id.desc())
        .limit(1)
    )


def parked_reasons(session: Session, top: int = 5) -> list[tuple[str, int]]:
    """Why changes are parked: the most frequent errors, with how many changes each."""
    count = func.count().label("n")
    rows = session.execute(
        select(DirectoryChange.last_error, count)
        .where(DirectoryChange.parked.is_(True))
        .group_by(DirectoryChange.last_error)
        .order_by(count.desc(), DirectoryChange.last_error)
        .limit(top)
    ).all()
    return [(error or "(no reason recorded)", int(n)) for error, n in rows]


def unpark(session: Session, now: datetime, key: str | None = None) -> int:
    """Put parked changes back in the queue (after the data was fixed); how many."""
    rows = session.scalars(
        select(DirectoryChange).where(
            DirectoryChange.parked.is_(True),
            *([DirectoryChange.key == key] if key is not None else []),
        )
    ).all()
    for row in rows:
        row.parked = False
        row.attempts = 0
        row.next_attempt_at = now
    return len(rows)


def run_forever(
    session_factory: SessionFactory,
    settings: Settings | LdapSettings,
    *,
    clock: Clock,
    stop: threading.Event,
    interval: float = 5.0,
) -> None:
    """Burst after burst until `stop` is set; a failing burst never ends the loop."""
    while not stop.is_set():
        try:
            report = sync_once(session_factory, settings, clock=clock)
        except Exception:  # the worker outlives any one bad burst; the error is logged
            log.exception("directory sync failed")
            report = SyncReport(error="internal error")
        if report.pushed == 0 or report.error:
            stop.wait(interval)
