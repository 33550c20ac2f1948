"""kill -9 at every step of a file's life, then a restart: each file once, one report.

The subprocess kills itself at a named point (`PROFILESYNC_TEST_CRASH_AT`, see
`profilesync.faults`); the next `run --once` must finish the file without applying a line
twice, and leave exactly one run, one report, one archive and an empty work folder.
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from clikit import run_process
from daemonkit import GOOD_PW, REFERENT, Inbox, account_row, report_rows
from profilesync.faults import CRASH_ENV, POINTS
from servicekit import daemon_config

LINES = 5


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_9_anywhere_resumes_to_exactly_once(point: str, db_url: str, tmp_path: Path) -> None:
    world = Inbox(db_url, tmp_path)
    config = daemon_config(tmp_path, db_url, batch_size=2)
    path = world.drop("crash.csv", [account_row(n) for n in range(1, LINES + 1)])
    os.utime(path, (1_000_000_000, 1_000_000_000))  # long complete: `--once` takes it

    crashed = run_process("run", "--once", config=config, env={CRASH_ENV: point})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    resumed = run_process("run", "--once", config=config)
    assert resumed.returncode == 0, resumed.stderr
    again = run_process("run", "--once", config=config)
    assert again.returncode == 0, again.stderr

    [run] = world.runs()
    assert (run.status, run.total, run.ok) == ("done", LINES, LINES)
    assert world.scalar("SELECT count(*) FROM line_outcome") == LINES
    assert world.scalar("SELECT count(*) FROM account") == LINES
    assert world.scalar("SELECT count(*) FROM profile") == LINES
    [report] = world.reports()
    assert [r[1] for r in report_rows(report)[1:]] == ["OK"] * LINES
    archive, private = Path(run.archive_path), Path(run.private_copy_path)
    assert GOOD_PW.encode() not in archive.read_bytes()
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert list((world.state / "archive" / REFERENT).iterdir()) == [archive]
    assert not [
        p for p in (world.state / "work").rglob("*") if p.is_file() and not p.name.endswith(".lock")
    ]
    assert not list(world.folder().iterdir())
    world.close()
