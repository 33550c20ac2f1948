"""Opening the profile database and keeping its schema in step with the code (Alembic).

One place decides how an engine is made, so that SQLite behaves like a real transactional
database (WAL, foreign keys, a busy timeout, SAVEPOINTs that work) and PostgreSQL always
goes through psycopg 3. The schema belongs to the migrations shipped inside the package;
commands refuse to run on a database whose revision is not the one the code expects,
rather than failing later on a missing column.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from profilesync import filemodes
from profilesync.errors import ProfilesyncError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "run `profilesync db upgrade`"
# SQLite waits this long for another writer before giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant of our own: two processes upgrading one PostgreSQL database take turns.
_PG_MIGRATION_LOCK = 0x70726F66  # "prof"


class DatabaseError(ProfilesyncError):
    """The database cannot be opened or used as configured."""


class DatabaseUnavailable(DatabaseError):
    """The database server or file cannot be reached or opened."""


class SchemaOutOfDate(DatabaseError):
    """The database schema is not the revision this version of profilesync expects."""


@dataclass(frozen=True)
class UpgradeResult:
    """The revisions before and after `upgrade`; equal when there was nothing to do."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def normalise_url(url: str | URL) -> URL:
    """`postgresql://` and `postgres://` mean psycopg 3: the only PostgreSQL driver we ship."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseError(f"[database] url is not a database URL: {_safe(url)!r}") from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: str | URL) -> str:
    """The URL for messages and logs: never with its password."""
    return normalise_url(url).render_as_string(hide_password=True)


def missing_file(url: str | URL) -> bool:
    """Whether `url` is a SQLite file that does not exist yet (nothing to read)."""
    parsed = normalise_url(url)
    database = parsed.database or ""
    return (
        parsed.get_backend_name() == "sqlite"
        and bool(database)
        and database != ":memory:"
        and not database.startswith("file:")
        and not Path(database).is_file()
    )


def make_engine(url: str | URL, *, create: bool = True, **kwargs: Any) -> Engine:
    """An engine for the configured URL; extra keyword arguments go to `create_engine`.

    `create=False` is for commands that only read (`status`, `runs`, `check-config`…): a
    SQLite file that does not exist is then `SchemaOutOfDate` naming `db upgrade`,
    instead of an empty file and its folder appearing behind the operator's back.
    """
    parsed = normalise_url(url)
    # A statement's parameters are cells, names, password hashes: an error message (which
    # reaches logs and the operator's terminal) shows the SQL, never them.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, create=create, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        # A daemon keeps connections for days: check them before use rather than fail
        # the first query after a server restart or a firewall's idle timeout.
        kwargs.setdefault("pool_pre_ping", True)
        connect_args = kwargs.setdefault("connect_args", {})
        if "application_name" not in parsed.query:
            connect_args.setdefault("application_name", "profilesync")
    try:
        return sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise DatabaseError(f"cannot use database {display_url(parsed)}: {exc}") from None


def _sqlite_engine(url: URL, *, create: bool, **kwargs: Any) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        if not create and missing_file(url):
            raise SchemaOutOfDate(
                f"the database {display_url(url)} is not initialised: {UPGRADE_HINT}"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create the folder of the database {path}: {exc.strerror}"
            ) from None
    engine = sa.create_engine(url, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    if database and database != ":memory:" and not database.startswith("file:"):
        files = [Path(database + suffix) for suffix in ("", "-wal", "-shm")]
        # The file holds every account and password hash: the service user's alone, even
        # when created under a lax umask (SQLite gives -wal and -shm the same mode).
        sa.event.listen(engine, "connect", lambda *_: filemodes.make_private_files(*files))
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module, whose legacy mode neither
    # begins before a SAVEPOINT nor before DDL: `_sqlite_on_begin` emits our own BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _sqlite_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_wal(cursor: Any) -> None:
    # WAL is a property of the file. Switching a new file to it takes a lock SQLite does
    # not wait for (no busy handler): two processes opening a brand-new database at once
    # get "database is locked". Retry for as long as the busy timeout would have waited.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_on_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, where the busy timeout applies; a deferred
    # transaction that reads and then writes can fail at once with "database is locked"
    # when another writer committed in between (the busy handler cannot help there).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (reports are built from them)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration, without an alembic.ini: the scripts live in the package.

    Developers create a revision with
    `alembic.command.revision(db.alembic_config(), autogenerate=True, message=…)` after
    setting `sqlalchemy.url` with `cfg.set_main_option`.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The revision this version of the code expects."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise DatabaseError("no migration found in the package: broken installation")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or None for a database that was never initialised."""
    with _connect(engine) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(target: str | URL | Engine, revision: str = "head") -> UpgradeResult:
    """Bring the schema to `revision` in one transaction; a no-op when already there."""
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with _connect(engine) as conn, _foreign_key_actions_off(conn), conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            before = MigrationContext.configure(conn).get_current_revision()
            command.upgrade(alembic_config(conn), revision)
            after = MigrationContext.configure(conn).get_current_revision()
            if conn.dialect.name == "sqlite":
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise DatabaseError(
                        f"migration to {after} left {len(broken)} foreign key violations "
                        f"(first in table {broken[0][0]}): rolled back"
                    )
    finally:
        if engine is not target:
            engine.dispose()
    return UpgradeResult(before, after)


@contextmanager
def _foreign_key_actions_off(conn: Connection) -> Iterator[None]:
    """SQLite only: migrations run with foreign keys off, as SQLite's ALTER TABLE recipe says.

    Alembic's batch mode rebuilds a table by copying it and dropping the original; with
    foreign keys on, that DROP would run the ON DELETE CASCADE of every referencing table
    (losing, say, every référent link). The pragma is a no-op inside a transaction, so it
    is set on the raw connection before BEGIN; `upgrade` runs `foreign_key_check` before
    committing, and the pooled connection gets its foreign keys back whatever happens.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def require_current(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` unless the database is exactly at the code's revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = display_url(engine.url)
    if current is None:
        raise SchemaOutOfDate(f"the database {where} is not initialised: {UPGRADE_HINT}")
    known = {s.revision for s in _scripts().walk_revisions()}
    if current not in known:
        raise SchemaOutOfDate(
            f"the database {where} is at revision {current}, unknown to this version of "
            f"profilesync (which expects {head}): it was upgraded by a newer version; "
            "install that version again"
        )
    raise SchemaOutOfDate(
        f"the database {where} is at revision {current}, this version of profilesync "
        f"expects {head}: {UPGRADE_HINT}"
    )


@contextmanager
def transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits as a whole at the end of the block, or not at all.

    The database failing on the way (server gone, lock timeout) is `DatabaseUnavailable`
    naming it, so that no caller has to know the driver's exceptions.
    """
    with session_factory() as session:
        try:
            with session.begin():
                yield session
        except sa.exc.OperationalError as exc:
            raise _failed(session.get_bind().engine, exc) from exc


@contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    try:
        conn = engine.connect()
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot open the database {display_url(engine.url)}: {first_line(exc.orig)}"
        ) from None
    with conn:
        try:
            yield conn
        except sa.exc.OperationalError as exc:
            raise _failed(engine, exc) from exc


def _failed(engine: Engine, exc: sa.exc.OperationalError) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"database error on {display_url(engine.url)}: {first_line(exc.orig or exc)}"
    )


def first_line(error: BaseException | None) -> str:
    """The driver's message without its SQL and background link, which mean nothing to an
    operator and may be long."""
    text = str(error or "").strip()
    return text.splitlines()[0] if text else "unknown error"


def _safe(url: str | URL) -> str:
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    # An unparsable URL may still hold a password after "user:": keep only the scheme.
    return url.split("://", 1)[0] + "://…" if "://" in url else "…"
