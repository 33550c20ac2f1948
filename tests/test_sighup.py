"""SIGHUP (logrotate's habit, a terminal closing) does not kill the daemon (issue 9)."""

from __future__ import annotations

import signal
from pathlib import Path

from daemonkit import Inbox, account_row, write_csv
from servicekit import daemon_config, start_daemon, wait_for


def test_sighup_is_logged_and_the_daemon_goes_on(db_url: str, tmp_path: Path) -> None:
    world = Inbox(db_url, tmp_path)
    proc = start_daemon(daemon_config(tmp_path, db_url))
    try:
        wait_for(lambda: any((world.state / "daemons").glob("*.json")), "the daemon to start")
        proc.send_signal(signal.SIGHUP)
        write_csv(world.folder() / "apres.csv", [account_row(1)])
        wait_for(lambda: len(world.reports()) == 1, "a file processed after the SIGHUP")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "received SIGHUP: nothing to reload" in err
    assert [r.status for r in world.runs()] == ["done"]
    world.close()
