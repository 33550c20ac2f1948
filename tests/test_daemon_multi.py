"""Two daemons (two processes) on one PostgreSQL and one inbox: every file exactly once."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemonkit import Inbox, account_row, write_csv
from fixtures_db import _truncate
from servicekit import daemon_config, start_daemon, wait_for

FILES = 50


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url = request.getfixturevalue("_pg_database")
    if url is None:
        pytest.fail("PostgreSQL is required for the multi-instance test")
    _truncate(url)
    yield url


def test_two_daemons_share_an_inbox_and_process_each_file_once(pg_url: str, tmp_path: Path) -> None:
    world = Inbox(pg_url, tmp_path)
    config = daemon_config(tmp_path, pg_url, rescan_seconds=2)
    daemons = [start_daemon(config), start_daemon(config)]
    try:
        wait_for(lambda: len(list((world.state / "daemons").glob("*.json"))) == 2, "both daemons")
        staging = tmp_path / "staging"
        staging.mkdir()
        for n in range(FILES):
            write_csv(staging / f"f{n:02d}.csv", [account_row(n)])
        for n in range(FILES):
            (staging / f"f{n:02d}.csv").rename(world.folder() / f"f{n:02d}.csv")
        wait_for(lambda: len(world.reports()) == FILES, f"{FILES} reports", timeout=240)
        wait_for(lambda: not [p for p in (world.state / "work").rglob("*.csv")], "work/ to empty")
    finally:
        for proc in daemons:
            proc.send_signal(signal.SIGTERM)
        errs = [proc.communicate(timeout=120)[1] for proc in daemons]
    assert [p.returncode for p in daemons] == [0, 0], errs
    runs = world.runs()
    assert sorted(r.file_name for r in runs) == [f"f{n:02d}.csv" for n in range(FILES)]
    assert {r.status for r in runs} == {"done"}
    assert world.scalar("SELECT count(*) FROM line_outcome") == FILES
    assert world.scalar("SELECT count(*) FROM account") == FILES
    assert len(list((world.state / "archive").rglob("*.csv"))) == FILES
    # Each file was logged by exactly one of the two daemons.
    processed = [err.count(" aref/f") for err in errs]
    assert sum(processed) == FILES, processed
    world.close()
