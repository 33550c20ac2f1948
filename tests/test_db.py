"""Engines and migrations on both backends: the migrated schema is the model's, upgrades
are idempotent and safe to race, SQLite behaves transactionally, messages hide secrets."""

from __future__ import annotations

import fnmatch
import threading
import tomllib
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from profilesync.store import db
from profilesync.store.model import Account, Base, Establishment, Profile, Referent

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = db.make_engine(db_url)
    yield eng
    eng.dispose()


# -- the schema -----------------------------------------------------------------------------


def test_migrated_schema_matches_the_model(engine: sa.Engine) -> None:
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; uq_profile_key is checked below instead.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == []


def test_profile_key_index_is_created_with_its_expression(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = 'uq_profile_key'"
        else:
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_profile_key'"
        ddl = conn.execute(sa.text(sql)).scalar_one()
    assert "UNIQUE INDEX" in ddl
    assert "coalesce(team_id, 0)" in ddl.lower()


def _account(session: Session, key: str) -> Account:
    account = Account(
        key=key,
        doctor=False,
        nom="Martin",
        prenom="Claire",
        password_hash="{ARGON2}x",
        password_set_at=NOW,
        locked=False,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(account)
    return account


def _profile(account: Account, est: Establishment, team_id: int | None) -> Profile:
    return Profile(
        account_id=account.id,
        establishment_id=est.id,
        role="CDC1",
        team_id=team_id,
        state="active",
        created_at=NOW,
        updated_at=NOW,
    )


def test_one_profile_per_key_even_without_a_team(engine: sa.Engine) -> None:
    with Session(engine) as session:
        est = Establishment(et="750100125", ej="750712184", name="", created_at=NOW)
        session.add(est)
        account = _account(session, "cmartin")
        session.flush()
        session.add(_profile(account, est, None))
        session.commit()
        session.add(_profile(account, est, None))
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()


def test_upgrade_is_idempotent(engine: sa.Engine) -> None:
    head = db.head_revision()
    assert db.current_revision(engine) == head
    result = db.upgrade(engine)
    assert result == db.UpgradeResult(head, head)
    assert not result.changed
    db.require_current(engine)


def test_upgrade_initialises_an_empty_database(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    try:
        assert db.current_revision(engine) is None
        with pytest.raises(db.SchemaOutOfDate, match="is not initialised: run `profilesync db"):
            db.require_current(engine)
        result = db.upgrade(empty_db_url)
        assert result == db.UpgradeResult(None, db.head_revision())
        assert result.changed
        db.require_current(engine)
    finally:
        engine.dispose()


def test_concurrent_upgrades_take_turns(empty_db_url: str) -> None:
    """Two instances starting together: one migrates, the other finds nothing to do."""
    barrier = threading.Barrier(2)
    results: list[db.UpgradeResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        engine = db.make_engine(empty_db_url)
        try:
            barrier.wait(timeout=30)
            results.append(db.upgrade(engine))
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    head = db.head_revision()
    assert sorted(results, key=lambda r: r.changed) == [
        db.UpgradeResult(head, head),
        db.UpgradeResult(None, head),
    ]


def test_out_of_date_message_names_both_revisions(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = db.head_revision()
    monkeypatch.setattr(db, "head_revision", lambda: "9998")
    with pytest.raises(db.SchemaOutOfDate) as info:
        db.require_current(engine)
    assert str(info.value).endswith(
        f"is at revision {current}, this version of profilesync expects 9998: "
        "run `profilesync db upgrade`"
    )


def test_a_newer_database_is_not_upgraded_by_older_code(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(db.SchemaOutOfDate) as info:
        db.require_current(engine)
    assert "is at revision 9999, unknown to this version of profilesync" in str(info.value)
    assert "upgraded by a newer version" in str(info.value)


# -- engines --------------------------------------------------------------------------------


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'a' / 'b.db'}")
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        engine.dispose()
    # synchronous: 1 is NORMAL (safe with WAL, one fsync per checkpoint, not per commit).
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,
    }


def test_foreign_keys_are_enforced(engine: sa.Engine) -> None:
    with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(
            sa.text("INSERT INTO referent_establishment VALUES (:r, :e)"), {"r": 41, "e": 42}
        )


def test_rolling_back_the_transaction_undoes_a_released_savepoint(engine: sa.Engine) -> None:
    """The importer's savepoint per line: the sqlite3 module's legacy mode breaks this."""
    factory = db.session_factory(engine)
    with factory() as session:
        session.begin()
        with session.begin_nested():
            session.add(Referent(login="kept-then-undone", created_at=NOW))
        session.rollback()
    with factory() as session:
        assert session.scalars(sa.select(Referent)).all() == []


def test_a_failed_savepoint_keeps_the_rest_of_the_transaction(engine: sa.Engine) -> None:
    factory = db.session_factory(engine)
    with factory.begin() as session:
        session.add(Referent(login="first", created_at=NOW))
        session.flush()
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            session.add(Referent(login="first", created_at=NOW))
        session.add(Referent(login="second", created_at=NOW))
    with factory() as session:
        assert sorted(session.scalars(sa.select(Referent.login))) == ["first", "second"]


def test_objects_stay_readable_after_commit(engine: sa.Engine) -> None:
    with db.session_factory(engine)() as session:
        referent = Referent(login="after", created_at=NOW)
        session.add(referent)
        session.commit()
        assert not sa.inspect(referent).expired
    assert referent.login == "after"
    assert referent.created_at == NOW


def test_concurrent_read_then_write_transactions_do_not_fail(engine: sa.Engine) -> None:
    """Two writers that read before writing: on SQLite a deferred BEGIN would fail with
    "database is locked" without waiting; BEGIN IMMEDIATE makes them queue."""
    factory = db.session_factory(engine)
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            for i in range(25):
                with factory.begin() as session:
                    session.scalar(sa.select(sa.func.count()).select_from(Referent))
                    session.add(Referent(login=f"{prefix}{i}", created_at=NOW))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Referent)) == 50


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:pw@h/d", "postgresql+psycopg://u:***@h/d"),
        ("postgres://u@h:5433/d", "postgresql+psycopg://u@h:5433/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///var/profilesync.db", "sqlite:///var/profilesync.db"),
    ],
)
def test_postgresql_urls_mean_psycopg_3(given: str, expected: str) -> None:
    assert db.display_url(given) == expected


def test_postgresql_engine_uses_psycopg_3() -> None:
    engine = db.make_engine("postgresql://postgres@127.0.0.1/test")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_unreachable_database_says_where_without_the_password() -> None:
    engine = db.make_engine("postgresql://profilesync:S3cret-PW@127.0.0.1:1/profiles")
    try:
        with pytest.raises(db.DatabaseUnavailable) as info:
            db.current_revision(engine)
    finally:
        engine.dispose()
    message = str(info.value)
    assert message.startswith(
        "cannot open the database postgresql+psycopg://profilesync:***@127.0.0.1:1/profiles: "
    )
    assert "S3cret-PW" not in message


def test_garbage_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(db.DatabaseError) as info:
        db.make_engine("not a url with p4ssword")
    assert "p4ssword" not in str(info.value)


def test_migrations_ship_in_the_wheel() -> None:
    """Every file Alembic needs at run time matches the package-data globs of pyproject."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["profilesync"]
    package = ROOT / "daemon" / "profilesync"
    needed = [
        p.relative_to(package).as_posix()
        for p in db.MIGRATIONS.rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    assert "store/migrations/env.py" in needed
    assert any(n.startswith("store/migrations/versions/") for n in needed)
    for name in needed:
        assert any(fnmatch.fnmatchcase(name, g) for g in globs), name


# -- SQLite migrations and foreign keys -------------------------------------------------------


@pytest.fixture
def sqlite_one_connection(tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated SQLite engine whose pool holds a single connection, reused every time."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'one.db'}", poolclass=sa.pool.StaticPool)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _fake_migration(
    monkeypatch: pytest.MonkeyPatch, body: str, seen: list[object] | None = None
) -> None:
    def fake_upgrade(cfg: object, revision: str) -> None:
        conn = cfg.attributes["connection"]  # type: ignore[attr-defined]
        if seen is not None:
            seen.append(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())
        conn.exec_driver_sql(body)

    monkeypatch.setattr(db.command, "upgrade", fake_upgrade)


def test_sqlite_migrations_run_without_foreign_key_actions(
    sqlite_one_connection: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch mode drops and recreates tables: with foreign keys on, ON DELETE CASCADE
    would empty the tables that reference them."""
    seen: list[object] = []
    _fake_migration(monkeypatch, "SELECT 1", seen)
    db.upgrade(sqlite_one_connection)
    assert seen == [0]
    with sqlite_one_connection.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_migration_breaking_foreign_keys_is_rolled_back(
    sqlite_one_connection: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_migration(monkeypatch, "INSERT INTO referent_establishment VALUES (41, 42)")
    with pytest.raises(db.DatabaseError) as info:
        db.upgrade(sqlite_one_connection)
    assert str(info.value) == (
        f"migration to {db.head_revision()} left 2 foreign key violations "
        "(first in table referent_establishment): rolled back"
    )
    with sqlite_one_connection.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM referent_establishment").scalar() == 0
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_postgresql_connections_are_named(pg_empty_url: str) -> None:
    engine = db.make_engine(pg_empty_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW application_name")).scalar() == "profilesync"
    finally:
        engine.dispose()


def test_errors_never_show_the_statement_s_parameters(db_url: str) -> None:
    """Parameters are cells and hashes: an error that reaches a log shows the SQL only (the
    server may still name the duplicated key, never the other columns)."""
    engine = db.make_engine(db_url)
    row = (
        "INSERT INTO account (key, doctor, nom, prenom, password_hash, password_set_at, "
        "locked, created_at, updated_at) VALUES ('dup', false, 'N', 'P', :h, :t, true, :t, :t)"
    )
    params = {"h": "{ARGON2}Secret-Hash-Value-42", "t": "2026-01-01 00:00:00"}
    try:
        with pytest.raises(sa.exc.IntegrityError) as info, engine.begin() as conn:
            conn.execute(sa.text(row), params)
            conn.execute(sa.text(row), params)
    finally:
        engine.dispose()
    assert "Secret-Hash-Value-42" not in str(info.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(info.value)
