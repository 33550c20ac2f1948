"""Scheduled jobs: validity over time, leases between daemons, schedules, exports, pruning."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from daemonkit import ET1, Inbox, account_row, utc
from profilesync.clock import FixedClock
from profilesync.service import jobs, lease
from profilesync.service.jobs import JobContext, Schedule, UnknownJob, due_jobs, run_job, run_leased
from profilesync.store.validity import target_state

PARIS = ZoneInfo("Europe/Paris")


def ctx_of(box: Inbox, owner: str = "test:1") -> JobContext:
    return JobContext(box.settings, box.sf, box.clock, owner)


def state(box: Inbox, key: str) -> tuple[str, bool]:
    with box.engine.connect() as conn:
        [(profile_state, locked)] = list(
            conn.execute(
                sa.text(
                    "SELECT p.state, a.locked FROM profile p "
                    "JOIN account a ON a.id = p.account_id WHERE a.key = :k"
                ),
                {"k": key},
            )
        )
    return profile_state, bool(locked)


def changes(box: Inbox, key: str) -> int:
    return box.scalar(
        "SELECT count(*) FROM directory_change WHERE kind = 'account' AND key = :k", k=key
    )


def at_paris(box: Inbox, *args: int) -> None:
    box.clock.current = datetime(*args, tzinfo=PARIS).astimezone(UTC)  # type: ignore[misc]


def test_validity_follows_debut_and_fin_across_midnight_in_paris(box: Inbox) -> None:
    # T0 = 15/03/2026 11:00 Paris. Starts on the 20th, ends on the 25th (inclusive).
    box.drop("dates.csv", [account_row(1, debut="20/03/2026", fin="25/03/2026"), account_row(2)])
    box.settle()
    assert state(box, "user1") == ("pending", True)
    assert state(box, "user2") == ("active", False)
    ctx = ctx_of(box)

    at_paris(box, 2026, 3, 19, 23, 59)
    before = changes(box, "user1")
    assert run_job("validity", ctx).startswith("0 activated, 0 ended")
    assert state(box, "user1") == ("pending", True)
    assert changes(box, "user1") == before

    at_paris(box, 2026, 3, 20, 0, 0, 30)
    summary = run_job("validity", ctx)
    assert summary.startswith(
        "1 activated, 0 ended, 0 back to pending, 0 accounts locked, 1 unlocked"
    )
    assert state(box, "user1") == ("active", False)
    assert changes(box, "user1") == before + 1
    assert run_job("validity", ctx).startswith("0 activated")  # idempotent
    assert changes(box, "user1") == before + 1

    at_paris(box, 2026, 3, 25, 23, 59)
    run_job("validity", ctx)
    assert state(box, "user1") == ("active", False)

    at_paris(box, 2026, 3, 26, 0, 0, 30)
    assert "1 ended" in run_job("validity", ctx)
    assert state(box, "user1") == ("ended", True)
    assert changes(box, "user1") == before + 2
    assert state(box, "user2") == ("active", False)
    audits = box.scalar(
        "SELECT count(*) FROM audit "
        "WHERE actor = 'profilesync:validity' AND entity_key LIKE 'user1%'"
    )
    assert audits == 4  # activate, unlock, end, lock


def test_an_account_keeps_its_lock_off_while_one_profile_is_active(box: Inbox) -> None:
    box.drop(
        "deux.csv",
        [
            account_row(1, fin="16/03/2026"),
            account_row(1, role="CDC2", password=""),
        ],
    )
    box.settle()
    at_paris(box, 2026, 3, 17, 1, 0)
    summary = run_job("validity", ctx_of(box))
    assert "1 ended" in summary and "0 accounts locked" in summary
    assert box.scalar("SELECT locked FROM account WHERE key = 'user1'") in (False, 0)


def test_target_state_is_inclusive_of_both_days() -> None:
    d = datetime(2026, 3, 20).date()
    assert target_state(d, d, d).value == "active"
    assert target_state(d + timedelta(days=1), None, d).value == "pending"
    assert target_state(None, d - timedelta(days=1), d).value == "ended"
    assert target_state(None, None, d).value == "active"


def test_a_lease_is_held_by_one_owner_and_once_per_slot(box: Inbox) -> None:
    clock = FixedClock(utc(2026, 3, 15, 10, 0))
    a = lease.acquire(box.sf, "validity", "a", clock, lease_seconds=60)
    assert a is not None
    assert lease.acquire(box.sf, "validity", "b", clock, lease_seconds=60) is None
    lease.release(box.sf, a, clock, status="ok", summary="done")
    slot = clock.now()
    assert lease.acquire(box.sf, "validity", "b", clock, lease_seconds=60, not_since=slot) is None
    b = lease.acquire(box.sf, "validity", "b", clock, lease_seconds=60)
    assert b is not None
    # b dies holding it: the lease expires.
    assert lease.acquire(box.sf, "validity", "a", clock, lease_seconds=60) is None
    clock.advance(timedelta(seconds=61))
    assert lease.acquire(box.sf, "validity", "a", clock, lease_seconds=60) is not None


def test_run_leased_records_success_and_failure_and_never_raises(
    box: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = ctx_of(box)
    assert run_leased("validity", ctx).status == "ok"
    assert run_leased("validity", ctx).status == "skipped"  # same slot
    assert run_leased("validity", ctx, force=True).status == "ok"

    def boom(_: JobContext) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setitem(jobs.JOBS, "prune", boom)
    result = run_leased("prune", ctx, force=True)
    assert (result.status, result.summary) == ("failed", "RuntimeError: disk full")
    row = box.scalar("SELECT last_error FROM job_lease WHERE name = 'prune'")
    assert row == "RuntimeError: disk full"
    assert box.scalar("SELECT owner FROM job_lease WHERE name = 'prune'") is None
    with pytest.raises(UnknownJob):
        run_leased("nope", ctx)


def test_daily_schedule_catches_up_a_missed_slot_but_not_on_a_fresh_install() -> None:
    s = Schedule(daily=(datetime(2026, 1, 1, 2, 0).time(),))
    now = datetime(2026, 3, 15, 14, 0, tzinfo=PARIS).astimezone(UTC)
    tomorrow_2am = datetime(2026, 3, 16, 2, 0, tzinfo=PARIS).astimezone(UTC)
    assert s.next_after(None, now, PARIS) == tomorrow_2am
    ran_today = datetime(2026, 3, 15, 2, 0, 1, tzinfo=PARIS).astimezone(UTC)
    assert s.next_after(ran_today, now, PARIS) == tomorrow_2am
    ran_yesterday = ran_today - timedelta(days=1)
    assert s.next_after(ran_yesterday, now, PARIS) == now
    # Across the DST change (29/03/2026): still 02:00... which does not exist: 03:00 local.
    before_dst = datetime(2026, 3, 28, 12, 0, tzinfo=PARIS).astimezone(UTC)
    nxt = s.next_after(before_dst - timedelta(hours=1), before_dst, PARIS)
    assert nxt.astimezone(PARIS).date() == datetime(2026, 3, 29).date()


def test_interval_schedule_and_slots() -> None:
    s = Schedule(timedelta(minutes=15), (datetime(2026, 1, 1, 0, 0, 30).time(),))
    now = datetime(2026, 3, 15, 0, 5, tzinfo=PARIS).astimezone(UTC)
    assert s.next_after(None, now, PARIS) == now
    assert s.next_after(now - timedelta(minutes=3), now, PARIS) == now + timedelta(minutes=12)
    # Last run at 00:00:00, before the 00:00:30 slot: that slot is still owed.
    assert s.next_after(now - timedelta(minutes=5), now, PARIS) == now
    # The midnight slot starts at 00:00:30: an interval run at 23:58 does not cover it.
    assert s.slot_start(now, PARIS) == datetime(2026, 3, 15, 0, 0, 30, tzinfo=PARIS)


def test_due_jobs_by_last_start(box: Inbox) -> None:
    ctx = ctx_of(box)
    assert due_jobs(ctx) == ["validity", "directory_sync"]
    run_leased("validity", ctx)
    run_leased("directory_sync", ctx)
    assert due_jobs(ctx) == []
    box.clock.advance(timedelta(minutes=15))
    assert due_jobs(ctx) == ["validity", "directory_sync"]


def test_directory_sync_without_ldap_leaves_changes_queued(box: Inbox) -> None:
    assert "no directory configured" in run_job("directory_sync", ctx_of(box))


def test_export_writes_one_file_per_establishment_and_prune_removes_old_ones(box: Inbox) -> None:
    box.drop("p.csv", [account_row(1)])
    box.settle()
    ctx = ctx_of(box)
    assert run_job("export", ctx) == "1 establishments exported"
    first = box.outbox / "exports" / ET1 / f"profils-{ET1}-20260315.csv"
    assert b"user1" in first.read_bytes()
    box.clock.advance(timedelta(days=box.settings.jobs.exports_keep_days))
    run_job("export", ctx)
    assert "removed 0 exports" in run_job("prune", ctx)
    box.clock.advance(timedelta(days=1))
    # The export and its file of states (issue 10) go together.
    assert "removed 2 exports" in run_job("prune", ctx)
    assert not first.exists()
    assert len(list((box.outbox / "exports" / ET1).iterdir())) == 2


def test_prune_keeps_archives_for_archive_days(box: Inbox) -> None:
    box.drop("p.csv", [account_row(1)])
    box.settle()
    [run] = box.runs()
    ctx = ctx_of(box)
    box.clock.advance(timedelta(days=box.settings.daemon.archive_days - 1))
    assert "1 private copies, 0 archives" in run_job("prune", ctx)
    assert Path(run.archive_path).exists()
    box.clock.advance(timedelta(days=2))
    assert "0 private copies, 1 archives" in run_job("prune", ctx)
    assert not Path(run.archive_path).exists()


def test_run_once_runs_due_jobs_and_validity_at_start(box: Inbox) -> None:
    result = box.daemon.run_once()
    assert [(j.name, j.status) for j in result.jobs] == [
        ("validity", "ok"),
        ("directory_sync", "ok"),
    ]
    assert box.daemon.run_once().jobs == []


def test_directory_sync_with_the_directory_down_fails_and_keeps_the_queue(box: Inbox) -> None:
    box.drop("p.csv", [account_row(1)])
    box.settle()
    queued = box.scalar("SELECT count(*) FROM directory_change")
    assert queued >= 1
    down = box.settings.with_overrides(ldap={"url": "ldap://127.0.0.1:1", "timeout_seconds": 2})
    ctx = JobContext(down, box.sf, box.clock, "test:1")
    result = run_leased("directory_sync", ctx, force=True)
    assert result.status == "failed"
    assert "; directory unavailable: " in result.summary
    assert box.scalar("SELECT count(*) FROM directory_change") == queued
    assert box.scalar("SELECT last_status FROM job_lease WHERE name = 'directory_sync'") == (
        "failed"
    )


def _job_records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, bool]]:
    return [
        (r.levelno, r.getMessage(), r.exc_info is not None)
        for r in caplog.records
        if r.name == "profilesync.service.jobs"
    ]


def test_a_job_that_did_nothing_logs_at_debug_one_that_acted_at_info(
    box: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    box.drop("dates.csv", [account_row(1, debut="20/03/2026")])
    box.settle()
    ctx = ctx_of(box)
    caplog.set_level(logging.DEBUG, logger="profilesync.service.jobs")
    at_paris(box, 2026, 3, 19, 12, 0)
    assert run_leased("validity", ctx, force=True).status == "ok"
    [(level, message, _)] = _job_records(caplog)
    assert level == logging.DEBUG and message.startswith("job validity ok in ")
    assert message.endswith(
        ": 0 activated, 0 ended, 0 back to pending, 0 accounts locked, "
        "0 unlocked, 0 directory changes queued"
    )
    caplog.clear()
    at_paris(box, 2026, 3, 20, 0, 0, 30)
    assert run_leased("validity", ctx, force=True).status == "ok"
    [(level, message, _)] = _job_records(caplog)
    assert level == logging.INFO and ": 1 activated, " in message


def test_an_expected_job_failure_is_one_warning_without_traceback(
    box: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    box.drop("p.csv", [account_row(1)])
    box.settle()
    down = box.settings.with_overrides(ldap={"url": "ldap://127.0.0.1:1", "timeout_seconds": 2})
    caplog.set_level(logging.DEBUG, logger="profilesync.service.jobs")
    result = run_leased("directory_sync", JobContext(down, box.sf, box.clock, "test:1"), force=True)
    assert result.status == "failed"
    [(level, message, traceback)] = _job_records(caplog)
    assert level == logging.WARNING and not traceback
    assert message.startswith("job directory_sync failed after ")
    assert message.endswith(f": {result.summary.removeprefix('JobFailed: ')}")
    assert "; directory unavailable: " in message
