"""The daemon as systemd runs it: sd_notify on a real socket, the inotify observer, SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clikit import run_process
from daemonkit import GOOD_PW, REFERENT, Inbox, account_row, write_csv
from profilesync.service import inbox
from profilesync.service.notify import Notifier
from servicekit import NotifySocket, daemon_config, start_daemon, wait_for


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def test_notifier_sends_ready_watchdog_and_stopping_datagrams(
    notify_socket: NotifySocket,
) -> None:
    now = [0.0]
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "4000000"}
    notifier = Notifier(env, monotonic=lambda: now[0])
    assert notifier.watchdog_interval == 2.0
    assert notifier.ready("watching")
    assert notifier.ping()
    assert not notifier.ping()  # less than half the watchdog period since the last one
    now[0] = 2.0
    assert notifier.ping()
    assert notifier.stopping()
    got = [notify_socket.sock.recv(100).decode() for _ in range(4)]
    assert got == ["READY=1\nSTATUS=watching", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"]


def test_notifier_uses_the_abstract_namespace_for_an_at_address() -> None:
    name = f"profilesync-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert server.recv(100) == b"READY=1"


def test_without_systemd_the_notifier_does_nothing() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert notifier.watchdog_interval is None
    assert not notifier.ping()


def test_a_watchdog_for_another_pid_is_not_ours() -> None:
    env = {"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}
    assert Notifier(env).watchdog_interval is None


def test_daemon_notifies_processes_dropped_files_and_stops_cleanly_on_sigterm(
    db_url: str, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    world = Inbox(db_url, tmp_path)  # registers the référent in the database
    config = daemon_config(tmp_path, db_url, rescan_seconds=300)
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_socket.path), WATCHDOG_USEC="2000000")
    proc = start_daemon(config, env)
    try:
        notify_socket.expect("READY=1")
        # Written elsewhere then renamed in: inotify's move event, no rescan needed (300 s).
        staged = write_csv(tmp_path / "staged.csv", [account_row(1)])
        staged.rename(world.folder() / "deplace.csv")
        wait_for(lambda: len(world.reports()) == 1, "the report of the renamed file")
        notify_socket.expect("WATCHDOG=1")
        heartbeats = list((world.state / "daemons").glob("*.json"))
        assert len(heartbeats) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    notify_socket.expect("STOPPING=1")
    assert "profilesync stopped" in err
    assert not list((world.state / "daemons").glob("*.json"))
    assert [r.status for r in world.runs()] == ["done"]
    world.close()


def test_sigterm_finishes_the_file_in_progress_then_exits_0(db_url: str, tmp_path: Path) -> None:
    """A real SIGTERM to a real daemon: the file in progress ends, the next is left alone.

    Both files are complete before the daemon starts, so both are stable in the same scan and
    the daemon would take the next one straight after the first if it ignored the signal.
    """
    world = Inbox(db_url, tmp_path)
    config = daemon_config(tmp_path, db_url, batch_size=50, rescan_seconds=300)
    big = write_csv(world.folder() / "a-gros.csv", [account_row(n) for n in range(1, 1501)])
    following = write_csv(world.folder() / "b-suivant.csv", [account_row(9999)])
    os.utime(big, (1_000_000_000, 1_000_000_000))  # oldest first: the big file, then the next
    os.utime(following, (1_000_000_100, 1_000_000_100))
    following_bytes = following.read_bytes()
    # A plain engine: db.make_engine's SQLite connections BEGIN IMMEDIATE, which would queue
    # the poller behind the daemon's write lock until the whole file is done.
    poller = sa.create_engine(world.url)

    def applied() -> int:
        with poller.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM line_outcome")).scalar_one())

    proc = start_daemon(config)
    try:
        wait_for(lambda: applied() > 0, "the daemon to apply the first lines of the big file")
        assert applied() < 1400  # well inside the big file when the signal comes
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300)
    finally:
        poller.dispose()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    runs = world.runs()
    assert [(r.file_name, r.status, r.total) for r in runs] == [("a-gros.csv", "done", 1500)]
    assert world.scalar("SELECT count(*) FROM line_outcome WHERE run_id = :r", r=runs[0].id) == 1500
    assert not [p for p in (world.state / "work").rglob("*") if p.is_file()]
    # The next file is untouched: still in the inbox as dropped, no run, no report.
    assert following.read_bytes() == following_bytes
    assert [p.name for p in world.reports()] == [Path(runs[0].report_path).name]
    assert not [p for p in world.outbox.rglob("*suivant*")]
    world.close()


def test_signal_handler_sets_stop_and_run_once_stops_between_files(
    db_url: str, tmp_path: Path
) -> None:
    world = Inbox(db_url, tmp_path)
    for n in range(3):
        world.drop(f"f{n}.csv", [account_row(n)])
    world.daemon.run_once()
    world.mono.advance(world.settings.daemon.stable_seconds)
    original = world.daemon.drive

    def drive_then_signal(work: Path) -> object:
        result = original(work)
        world.daemon._on_signal(signal.SIGTERM, None)
        return result

    world.daemon.drive = drive_then_signal  # type: ignore[method-assign]
    result = world.daemon.run_once()
    assert len(result.files) == 1
    assert len(list(world.folder().glob("*.csv"))) == 2
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM import_run")).scalar() == 1
    assert REFERENT
    world.close()


def test_run_once_logs_one_json_line_per_file_without_secrets(db_url: str, tmp_path: Path) -> None:
    world = Inbox(db_url, tmp_path)
    config = daemon_config(tmp_path, db_url)
    path = world.drop("j.csv", [account_row(1), account_row(2)])
    os.utime(path, (1_000_000_000, 1_000_000_000))
    debug = {"PROFILESYNC_DAEMON_LOG_LEVEL": "DEBUG"}
    done = run_process("run", "--once", "--log-format", "json", config=config, env=debug)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 file(s) processed, 0 still being written")
    records = [json.loads(line) for line in done.stderr.splitlines()]
    [file_line] = [r for r in records if r.get("run_id") == 1]
    assert file_line["status"] == "done"
    assert (file_line["total"], file_line["ok"], file_line["file"]) == (2, 2, "j.csv")
    assert file_line["level"] == "INFO" and isinstance(file_line["seconds"], float)
    # Both jobs ran and found nothing to do (no directory, profiles already active): DEBUG.
    job_lines = {r["job"]: (r["level"], r["acted"]) for r in records if "job" in r}
    assert job_lines == {"validity": ("DEBUG", False), "directory_sync": ("DEBUG", False)}
    assert GOOD_PW not in done.stderr
    world.close()


def test_the_systemd_unit_is_a_hardened_notify_service() -> None:
    unit = (Path(__file__).resolve().parents[1] / "systemd" / "profilesync.service").read_text()
    directives = {
        line.partition("=")[0]: line.partition("=")[2]
        for line in unit.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert directives["Type"] == "notify"
    assert directives["ExecStart"].startswith(
        "/opt/profilesync/.venv/bin/profilesync run --config /etc/profilesync/profilesync.toml"
    )
    assert directives["User"] == "profilesync"
    assert int(directives["WatchdogSec"]) > 0
    assert directives["Restart"] == "on-failure"
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "CapabilityBoundingSet": "",
        "UMask": "0027",
    }.items():
        assert directives[key] == value, key
    assert "@system-service" in unit
    assert "ReadWritePaths=" in unit


def test_the_polling_observer_reports_a_new_file(tmp_path: Path) -> None:
    events: queue.Queue[inbox.Event] = queue.Queue()
    observer = inbox.start_observer(tmp_path / "inbox", events, polling=True)
    try:
        (tmp_path / "inbox" / "aref").mkdir()
        write_csv(tmp_path / "inbox" / "aref" / "x.csv", [account_row(1)])
        kind, _ = events.get(timeout=30)
        assert kind in {"changed", "complete"}
    finally:
        observer.stop()
        observer.join(timeout=10)


def test_the_scheduler_runs_each_job_once_at_a_time_in_paris_time(
    db_url: str, tmp_path: Path
) -> None:
    world = Inbox(db_url, tmp_path)
    scheduler = world.daemon._scheduler()
    scheduler.start(paused=True)  # job defaults are applied on start; paused runs nothing
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {
            "validity-interval",
            "validity-daily-0",
            "directory_sync-interval",
            "export-daily-0",
            "prune-daily-0",
            "startup",
        }
        assert str(scheduler.timezone) == "Europe/Paris"
        assert "hour='2', minute='0'" in str(jobs["export-daily-0"].trigger)
        assert "hour='0', minute='0', second='30'" in str(jobs["validity-daily-0"].trigger)
        assert str(jobs["validity-interval"].trigger) == "interval[0:15:00]"
        for job in jobs.values():
            assert (job.coalesce, job.max_instances) == (True, 1)
    finally:
        scheduler.shutdown(wait=False)
        world.close()
