"""A database outage is one WARNING when it starts and one INFO when it ends (issue 9), not
a traceback at every scan; no SQL parameter ever reaches the log. The outage is real:
PostgreSQL refuses the test database's connections and ends the open ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from daemonkit import Inbox, account_row
from fixtures_db import pg_base_url


@pytest.fixture
def pg_box(db_url: str, tmp_path: Path) -> Iterator[Inbox]:
    world = Inbox(db_url, tmp_path)
    yield world
    world.close()


def _allow(db_url: str, allowed: bool) -> None:
    name = sa.engine.make_url(db_url).database
    admin = sa.create_engine(pg_base_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
            )
            if not allowed:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
    finally:
        admin.dispose()


# PostgreSQL only: SQLite has no server to stop.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_outage_logs_once_when_it_starts_and_once_when_it_ends(
    pg_box: Inbox, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    pg_box.drop("a.csv", [account_row(1)])
    caplog.set_level(logging.DEBUG, logger="profilesync")
    _allow(db_url, False)
    try:
        for _ in range(4):
            pg_box.settle()
    finally:
        _allow(db_url, True)
    pg_box.settle()
    records = [r for r in caplog.records if r.name.startswith("profilesync")]
    loud = [r for r in records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in loud] == ["database unavailable"]
    assert all(r.exc_info is None for r in loud)
    assert any(r.getMessage().startswith("database available again after ") for r in records)
    assert [r.status for r in pg_box.runs()] == ["done"]
    assert pg_box.scalar("SELECT count(*) FROM account") == 1
