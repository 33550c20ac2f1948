"""A daemon killed a second ago is not RUNNING, and its heartbeat does not linger
(issue 9): real daemon processes, a real kill -9, then `status` and a restart.
"""

from __future__ import annotations

import signal
from pathlib import Path

from clikit import run_process
from daemonkit import Inbox
from servicekit import daemon_config, start_daemon, wait_for


def test_a_just_killed_daemon_is_not_running_and_its_heartbeat_goes(
    db_url: str, tmp_path: Path
) -> None:
    world = Inbox(db_url, tmp_path)
    config = daemon_config(tmp_path, db_url, rescan_seconds=300)
    beats = world.state / "daemons"
    first = start_daemon(config)
    wait_for(lambda: any(beats.glob("*.json")), "the first daemon to start")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    [stale] = list(beats.glob("*.json"))  # a kill -9 leaves it behind

    shown = run_process("status", config=config)
    assert shown.returncode == 1
    assert shown.stdout.splitlines()[0] == "daemon: NOT RUNNING"
    assert "process gone (killed or crashed" in shown.stdout

    second = start_daemon(config)
    try:
        wait_for(lambda: not stale.exists(), "the restarted daemon to drop the dead heartbeat")
        wait_for(lambda: len(list(beats.glob("*.json"))) == 1, "the new daemon's heartbeat")
        assert run_process("status", config=config).stdout.startswith("daemon: RUNNING")
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert f"heartbeat {stale.name} of a daemon that is gone removed" in err
    world.close()
