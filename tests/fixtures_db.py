"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

`db_url` yields the URL of an empty, fully migrated database. PostgreSQL gets one
throw-away database per test session (dropped at the end), truncated between tests.
A missing PostgreSQL skips loudly, or fails when PROFILESYNC_TEST_REQUIRE_ALL=1 (CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from profilesync.model import Base

PG_ENV = "PROFILESYNC_TEST_POSTGRES_URL"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def require_all() -> bool:
    return os.environ.get("PROFILESYNC_TEST_REQUIRE_ALL") == "1"


def missing_backend(what: str) -> None:
    """Skip loudly on a developer machine; fail in CI, which must never skip a backend."""
    message = f"!!! BACKEND MISSING: {what} — these tests did NOT run !!!"
    if require_all():
        pytest.fail(message)
    pytest.skip(message)


def _create_schema(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str | None]:
    base_url = sa.make_url(os.environ.get(PG_ENV, DEFAULT_PG))
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    name = f"profilesync_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        yield None
        _ = exc
        return
    url = base_url.set(database=name).render_as_string(hide_password=False)
    _create_schema(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty migrated database, once per engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'profilesync.db'}"
        _create_schema(url)
        yield url
        return
    pg = request.getfixturevalue("_pg_database")
    if pg is None:
        missing_backend(f"PostgreSQL at {os.environ.get(PG_ENV, DEFAULT_PG)}")
    _truncate(pg)
    yield pg
