"""`profilesync audit`: who changed what, when, from which file and line (issue 11.2).

Through the real CLI on SQLite and PostgreSQL, with rows written by real imports, by an
operator's `account set` and by the validity job; then what an old database's rows become
through migration 0003. Never a password nor a hash in the output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner, Result

from clikit import run_cli, write_config
from importkit import EJ2, ET1, ET2, GOOD_PW, World, fast_settings, row
from profilesync.cli import app
from profilesync.store import db
from profilesync.store.model import Audit

KEY = "elefevre"
PROFILE = f"{KEY}/{ET1}/CDC1/Urgences"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    w.run(
        [
            row(
                "C",
                "Lefèvre",
                "Élodie",
                ident=KEY,
                password=GOOD_PW,
                team="Urgences",
                debut="01/04/2026",
            ),
            row("C", "Martin", "Léa", ident="lmartin", password=GOOD_PW, et=ET2, ej=EJ2),
        ]
    )
    w.run([row("M", "Lefèvre", "Élodie", ident=KEY, team="Urgences", fin="30/06/2027")])
    yield w
    w.close()


def cli(world: World, *args: str) -> Result:
    return run_cli(*args, config=write_config(world.tmp, database={"url": world.url}))


def test_audit_of_a_run_says_who_which_file_and_line_and_what(world: World) -> None:
    result = cli(world, "audit", "--run", "1", "--et", ET1)
    assert result.exit_code == 0, result.stderr
    where = "2026-03-15 11:00 CET  referent aref run #1 f1.csv line 2"
    assert result.stdout.splitlines() == [
        f"{where}  team.create {ET1}/Urgences",
        f"{where}  profile.create {PROFILE}  debut: ∅ → 2026-04-01",
    ]


def test_audit_of_a_person_across_runs_and_an_operator(world: World) -> None:
    set_names = CliRunner().invoke(
        app,
        ["account", "set", KEY, "--nom", "Lefèvre-Roux"],
        env={
            "PROFILESYNC_CONFIG": None,
            "PROFILESYNC_DATABASE_URL": world.url,
            "SUDO_USER": "alice",
        },
    )
    assert set_names.exit_code == 0, set_names.stderr
    result = cli(world, "audit", "--person", KEY.upper())
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"2026-03-15 11:00 CET  referent aref run #1 f1.csv line 2  account.create {KEY}  "
        "nom: ∅ → Lefèvre, prenom: ∅ → Élodie, password: changed"
    )
    assert lines[1] == (
        f"2026-03-15 11:00 CET  referent aref run #1 f1.csv line 2  profile.create {PROFILE}"
        "  debut: ∅ → 2026-04-01"
    )
    assert lines[2] == (
        f"2026-03-15 11:00 CET  referent aref run #2 f2.csv line 2  profile.update {PROFILE}"
        "  fin: ∅ → 2027-06-30"
    )
    assert len(lines) == 4
    assert lines[3].endswith(
        f"  operator operator:alice  account.update {KEY}  nom: Lefèvre → Lefèvre-Roux"
    )


def test_audit_json_holds_before_and_after(world: World) -> None:
    result = cli(world, "audit", "--run", "2", "--json")
    assert result.exit_code == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert {k: entry[k] for k in ("actor", "actor_kind", "run_id", "file", "line")} == {
        "actor": "aref",
        "actor_kind": "referent",
        "run_id": 2,
        "file": "f2.csv",
        "line": 2,
    }
    assert (entry["account_key"], entry["et"], entry["role"], entry["team"]) == (
        KEY,
        ET1,
        "CDC1",
        "Urgences",
    )
    assert entry["changes"] == {"fin": [None, "2027-06-30"]}
    assert entry["at"] == "2026-03-15T10:00:00+00:00"


def test_s_and_c_again_audit_the_team_as_stored_not_as_typed(world: World) -> None:
    """The team was created as « Urgences »; the S line types « URGENCES » and the C that
    brings the profile back « urgences » (teams match ignoring case, SPEC §4): the audit
    rows, which `undo` and `audit --person` read, name the profile with the stored spelling."""
    world.run([row("S", "Lefèvre", "Élodie", ident=KEY, team="URGENCES")])
    result = cli(world, "audit", "--run", "3", "--json")
    assert result.exit_code == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert (entry["action"], entry["entity_key"], entry["team"]) == (
        "profile.delete",
        PROFILE,
        "Urgences",
    )
    world.run([row("C", "Lefèvre", "Élodie", ident=KEY, team="urgences")])
    result = cli(world, "audit", "--run", "4", "--json")
    (entry,) = json.loads(result.stdout)
    assert (entry["action"], entry["entity_key"], entry["team"]) == (
        "profile.recreate",
        PROFILE,
        "Urgences",
    )


def test_audit_filters_by_establishment_and_date(world: World) -> None:
    ets = json.loads(cli(world, "audit", "--et", ET2, "--json").stdout)
    assert [(e["action"], e["entity_key"]) for e in ets] == [
        ("profile.create", f"lmartin/{ET2}/CDC1/")
    ]
    assert cli(world, "audit", "--since", "2026-03-16").stdout == "no audited change matches\n"
    assert json.loads(cli(world, "audit", "--since", "15/03/2026", "--json").stdout)


def test_audit_limit_keeps_the_newest(world: World) -> None:
    result = cli(world, "audit", "--limit", "1")
    assert result.stdout.splitlines() == [
        f"2026-03-15 11:00 CET  referent aref run #2 f2.csv line 2  profile.update {PROFILE}"
        "  fin: ∅ → 2027-06-30",
        "(only the newest 1 shown: narrow with --since or raise --limit)",
    ]


def test_a_job_is_audited_as_system(world: World) -> None:
    # Today is past 01/04/2026: the validity job activates the profile and unlocks.
    job = cli(world, "jobs", "run", "validity")
    assert job.exit_code == 0, job.stderr
    rows = json.loads(cli(world, "audit", "--person", KEY, "--json").stdout)
    system = [(r["actor_kind"], r["actor"], r["action"]) for r in rows if r["run_id"] is None]
    assert ("system", "profilesync:validity", "profile.active") in system
    assert ("system", "profilesync:validity", "account.unlock") in system


def test_a_hash_in_an_audit_row_is_never_printed(world: World) -> None:
    """Abuse: a row written by a buggy writer with a hash and a password in `changes`."""
    stored = world.scalar("SELECT password_hash FROM account WHERE key = :k", k=KEY)
    with world.sf() as s:
        s.add(
            Audit(
                at=datetime(2026, 3, 16, tzinfo=UTC),
                actor="operator:mallory",
                actor_kind="operator",
                action="account.update",
                entity="account",
                entity_key=KEY,
                account_key=KEY,
                changes={"password_hash": [None, stored], "userPassword": GOOD_PW},
            )
        )
        s.commit()
    for args in ((), ("--json",)):
        result = cli(world, "audit", "--person", KEY, *args)
        assert result.exit_code == 0, result.stderr
        assert stored not in result.stdout and GOOD_PW not in result.stdout
        assert "ARGON2" not in result.stdout
    last = cli(world, "audit", "--person", KEY).stdout.splitlines()[-1]
    assert last.endswith("password_hash: changed, userPassword: changed")


def test_migration_fills_the_new_columns_of_old_rows(db_url: str) -> None:
    """A database audited before 0003: its rows get a kind, an account and a place."""
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as conn:
            command.downgrade(db.alembic_config(conn), "0002")
        old = sa.table(
            "audit",
            *(sa.column(c) for c in ("at", "actor", "action", "entity", "entity_key")),
            sa.column("changes", sa.JSON()),
        )
        at = datetime(2026, 3, 15, 10, 0)
        rows = [
            ("aref", "profile.create", "profile", f"{KEY}/{ET1}/CDC1/Urg/ences"),
            ("operator:bob", "account.update", "account", KEY),
            ("profilesync:validity", "account.lock", "account", KEY),
            ("directory-sync", "account.password_superseded", "account", KEY),
            ("aref", "team.create", "team", f"{ET1}/Urgences"),
            ("operator:bob", "establishment.add", "establishment", ET2),
        ]
        with engine.begin() as conn:
            conn.execute(
                old.insert(),
                [
                    {"at": at, "actor": a, "action": b, "entity": c, "entity_key": d, "changes": {}}
                    for a, b, c, d in rows
                ],
            )
        db.upgrade(engine)
        with engine.connect() as conn:
            got = conn.execute(
                sa.text("SELECT actor_kind, account_key, et, role, team FROM audit ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in got] == [
        ("referent", KEY, ET1, "CDC1", "Urg/ences"),
        ("operator", KEY, None, None, None),
        ("system", KEY, None, None, None),
        ("system", KEY, None, None, None),
        ("referent", None, ET1, None, "Urgences"),
        ("operator", None, ET2, None, None),
    ]


def test_a_database_before_the_audit_columns_is_refused_with_the_fix(world: World) -> None:
    """Fault: the code is newer than the schema; nothing is half-read, the fix is named."""
    with world.engine.begin() as conn:
        command.downgrade(db.alembic_config(conn), "0002")
    try:
        for args in (("audit",), ("person", "show", KEY), ("person", "find", "lef")):
            result = cli(world, *args)
            assert result.exit_code == 2
            assert "profilesync db upgrade" in result.stderr
            assert result.stdout == ""
    finally:
        db.upgrade(world.engine)
