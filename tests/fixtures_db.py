"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

`db_url` yields the URL of an empty database migrated by the real Alembic migrations (the
schema production gets, not `create_all`). PostgreSQL gets one throw-away database per
test session (dropped at the end), truncated between tests; SQLite gets a copy of a file
migrated once per session. A missing PostgreSQL skips loudly, or fails when
PROFILESYNC_TEST_REQUIRE_ALL=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from profilesync.store import db
from profilesync.store.model import Base

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


def pg_base_url() -> str:
    return os.environ.get(PG_ENV, DEFAULT_PG)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[sa.Engine | None]:
    """An AUTOCOMMIT engine on the PostgreSQL server (to create databases), or None."""
    admin = sa.create_engine(pg_base_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError:
        admin.dispose()
        yield None
        return
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_scratch(pg_server: sa.Engine | None) -> Iterator[str | None]:
    if pg_server is None:
        yield None
        return
    name = f"profilesync_scratch_{uuid.uuid4().hex[:10]}"
    with pg_server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(pg_base_url()).set(database=name).render_as_string(hide_password=False)
    with pg_server.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_empty_url(_pg_scratch: str | None) -> str:
    """A PostgreSQL database with no schema at all (emptied here: far faster than a new one)."""
    if _pg_scratch is None:
        missing_backend(f"PostgreSQL at {pg_base_url()}")
    assert _pg_scratch is not None
    engine = sa.create_engine(_pg_scratch)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return _pg_scratch


@pytest.fixture(scope="session")
def _pg_database(pg_server: sa.Engine | None) -> Iterator[str | None]:
    if pg_server is None:
        yield None
        return
    name = f"profilesync_test_{uuid.uuid4().hex[:10]}"
    with pg_server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(pg_base_url()).set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    yield url
    with pg_server.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrating is slow)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "profilesync.db"
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        db.upgrade(engine)
    finally:
        # The last connection closing checkpoints the WAL into the main file.
        engine.dispose()
    assert not path.with_name(path.name + "-wal").exists()
    return path


def _truncate(url: str) -> None:
    """Empty every table and restart the ids (DELETE: ten times faster than TRUNCATE here)."""
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            # A connection a previous test leaked (a subprocess killed mid-transaction, a
            # session never closed) may still hold row locks: end it, so that it can
            # neither block this cleanup nor the next test's daemons.
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            sequences = conn.execute(
                sa.text("SELECT sequence_name FROM information_schema.sequences")
            ).scalars()
            for name in list(sequences):
                conn.execute(sa.text(f'ALTER SEQUENCE "{name}" RESTART'))
            # A test may have moved the revision (to test the refusal): put it back.
            conn.execute(
                sa.text("UPDATE alembic_version SET version_num = :h"), {"h": db.head_revision()}
            )
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that was never initialised, once per engine (SQLite: no folder yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'not' / 'yet' / 'profilesync.db'}"
    url: str = request.getfixturevalue("pg_empty_url")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty migrated database, once per engine."""
    if request.param == "sqlite":
        path = tmp_path / "profilesync.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    pg = request.getfixturevalue("_pg_database")
    if pg is None:
        missing_backend(f"PostgreSQL at {pg_base_url()}")
    _truncate(pg)
    yield pg
