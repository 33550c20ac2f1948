"""Peers that went silent (issue 9): a job lease of a host that stopped renewing it is
free two beats later, not after `lease_seconds`; a daemon's heartbeat silent for minutes
is shown as dead once, then dropped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from clikit import run_cli, write_config
from profilesync import config, layout
from profilesync.clock import FixedClock
from profilesync.config import ConfigError
from profilesync.service import heartbeat, jobs, lease
from profilesync.service.jobs import JobContext, run_leased
from profilesync.store import db
from profilesync.store.model import JobLease

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
FAR = "far-host.example:4242"  # another host's daemon: its pid is never judged from here


@pytest.fixture
def sf(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(db_url)
    yield db.session_factory(engine)
    engine.dispose()


def _lease_row(sf: sessionmaker[Session], name: str) -> JobLease:
    with sf() as s:
        row = s.get(JobLease, name)
        assert row is not None
        return row


def _held_by_far_host(sf: sessionmaker[Session], *, renewed_at: datetime, beat: float) -> None:
    """The row a daemon of another host leaves when it stops at its last renewal."""
    with sf.begin() as s:
        s.merge(
            JobLease(
                name="prune",
                owner=FAR,
                expires_at=renewed_at + timedelta(seconds=2 * beat),
                last_started_at=renewed_at - timedelta(hours=1),
                last_status="running",
            )
        )


def test_a_silent_host_s_lease_is_free_two_beats_after_its_last_renewal(
    *, sf: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, database={"url": db_url}, jobs={"lease_beat_seconds": 10.0})
    settings = config.load(cfg, environ={})
    assert settings.jobs.lease_seconds == 600  # the old wait, which no longer applies
    clock = FixedClock(T0)
    ctx = JobContext(settings, sf, clock, "here:1")
    _held_by_far_host(sf, renewed_at=T0, beat=10.0)

    clock.advance(timedelta(seconds=19))  # one beat missed: still its holder's
    assert run_leased("prune", ctx, force=True).status == "skipped"
    assert _lease_row(sf, "prune").owner == FAR

    clock.advance(timedelta(seconds=2))  # two beats and a second of silence
    run = run_leased("prune", ctx, force=True)
    assert run.status == "ok", run
    row = _lease_row(sf, "prune")
    assert (row.owner, row.last_status) == (None, "ok")


def test_a_host_that_dies_during_a_job_loses_its_lease_two_beats_later(
    *, sf: sessionmaker[Session], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The far host takes the lease through the jobs path, then goes silent (its clock
    runs on, its renewal never comes): here takes the job over after two beats."""
    cfg = write_config(tmp_path, database={"url": db_url}, jobs={"lease_beat_seconds": 10.0})
    clock = FixedClock(T0)
    far = JobContext(config.load(cfg, environ={}), sf, clock, FAR)
    taken: list[lease.Lease | None] = []

    def dies_midway(ctx: JobContext) -> jobs.Done:
        clock.advance(timedelta(seconds=19))
        taken.append(lease.acquire(sf, "prune", "here:1", clock, lease_seconds=20))
        clock.advance(timedelta(seconds=2))
        taken.append(lease.acquire(sf, "prune", "here:1", clock, lease_seconds=20))
        return jobs.Done("never seen by the far host", True)

    monkeypatch.setitem(jobs.JOBS, "prune", dies_midway)
    run_leased("prune", far, force=True)
    assert taken == [None, lease.Lease("prune", "here:1")]
    assert _lease_row(sf, "prune").owner == "here:1"  # the far host's release did not free it


def test_a_lease_taken_by_a_job_lasts_two_beats_and_is_renewed_while_it_runs(
    *, sf: sessionmaker[Session], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat = 0.05
    cfg = write_config(tmp_path, database={"url": db_url}, jobs={"lease_beat_seconds": beat})
    clock = FixedClock(T0)
    ctx = JobContext(config.load(cfg, environ={}), sf, clock, "here:1")
    seen: list[datetime | None] = []
    renewed = threading.Event()

    def slow(ctx: JobContext) -> jobs.Done:
        seen.append(_lease_row(sf, "prune").expires_at)
        clock.advance(timedelta(hours=1))  # an hour of work, as the clock sees it
        later = T0 + timedelta(hours=1, seconds=2 * beat)
        for _ in range(400):  # the renewing thread's next beat; a bounded wait, no timing
            if _lease_row(sf, "prune").expires_at == later:
                renewed.set()
                break
            threading.Event().wait(beat)
        # Meanwhile, another host cannot take it.
        assert lease.acquire(sf, "prune", FAR, clock, lease_seconds=1) is None
        return jobs.Done("slow done", True)

    monkeypatch.setitem(jobs.JOBS, "prune", slow)
    run = run_leased("prune", ctx, force=True)
    assert run.status == "ok", run
    assert seen == [T0 + timedelta(seconds=2 * beat)]
    assert renewed.is_set()
    assert _lease_row(sf, "prune").owner is None  # released at the end


def test_renewal_is_only_for_the_holder(sf: sessionmaker[Session]) -> None:
    clock = FixedClock(T0)
    held = lease.acquire(sf, "prune", FAR, clock, lease_seconds=20)
    assert held is not None
    assert lease.renew(sf, lease.Lease("prune", "here:1"), clock, seconds=20) is False
    clock.advance(timedelta(seconds=15))
    assert lease.renew(sf, held, clock, seconds=20) is True
    assert _lease_row(sf, "prune").expires_at == T0 + timedelta(seconds=35)


def test_a_renewal_the_database_refuses_is_logged_and_the_job_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The database went away mid-job: the beat is skipped with a warning, no crash."""
    gone = db.session_factory(db.make_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    held = lease.Lease("prune", "here:1")
    seen = threading.Event()
    with lease.kept(gone, held, FixedClock(T0), beat=0.01, longest=60):
        for _ in range(1000):  # until the renewing thread has tried once
            if any("lease not renewed" in r.getMessage() for r in caplog.records):
                seen.set()
                break
            threading.Event().wait(0.01)
    assert seen.is_set()
    [message] = {r.getMessage() for r in caplog.records if "lease not renewed" in r.getMessage()}
    assert message == "job prune: lease not renewed: OperationalError"


@pytest.mark.parametrize("value", [0, -1, True])
def test_a_nonsense_beat_is_refused(tmp_path: Path, value: object) -> None:
    cfg = write_config(tmp_path, jobs={"lease_beat_seconds": value})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r"\[jobs\] lease_beat_seconds"):
        config.load(cfg, environ={})


# --- heartbeats -------------------------------------------------------------------------


def _beat_file(cfg: Path, host: str, pid: int, silent_for: timedelta) -> Path:
    settings = config.load(cfg, environ={})
    path = layout.heartbeat_path(settings, host, pid)
    path.parent.mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC) - silent_for
    beat = {
        "host": host,
        "pid": pid,
        "started_at": (at - timedelta(days=1)).isoformat(),
        "beat_at": at.isoformat(),
        "state": "idle",
        "interval_seconds": 10.0,
    }
    path.write_text(json.dumps(beat), encoding="utf-8")
    return path


def _status(cfg: Path) -> tuple[list[str], dict[str, object]]:
    text = run_cli("status", config=cfg).output
    data = json.loads(run_cli("status", "--json", config=cfg).output)
    return text.splitlines(), data


def test_a_dead_daemon_s_heartbeat_is_shown_once_then_dropped(db_url: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, database={"url": db_url})
    dead = _beat_file(cfg, "far-host.example", 4242, timedelta(minutes=12))
    late = _beat_file(cfg, "other-host.example", 77, timedelta(minutes=2))

    result = run_cli("status", config=cfg)
    lines = result.output.splitlines()
    assert lines[0] == "daemon: NOT RUNNING"
    assert any(
        line.startswith("  far-host.example pid 4242 since ")
        and line.endswith(": no heartbeat for 12 min: dead, removed from this list")
        for line in lines
    ), lines
    assert any(
        line.startswith("  other-host.example pid 77 since ")
        and ": no heartbeat for 1" in line  # 120.x s: stale, not yet dead
        for line in lines
    ), lines
    assert not dead.exists()
    assert late.exists()

    lines, data = _status(cfg)
    assert not any("far-host.example" in line for line in lines)
    assert [(d["host"], d["dropped"]) for d in data["daemons"]] == [  # type: ignore[union-attr]
        ("other-host.example", False)
    ]


def test_stale_and_dead_thresholds() -> None:
    assert not heartbeat.dead({"interval_seconds": 10.0}, 299.0)
    assert heartbeat.dead({"interval_seconds": 10.0}, 301.0)
    assert not heartbeat.dead({"interval_seconds": 60.0}, 599.0)  # ten beats at least
    assert heartbeat.dead({"interval_seconds": 60.0}, 601.0)
