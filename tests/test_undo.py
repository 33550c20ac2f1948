"""`profilesync undo RUN [--dry-run]` (issue 11.3) through the real CLI, on both engines.

The data is made by imports through the CLI; the expected messages are the report's literal
French words. The round trip runs against a real slapd: import, undo, and the database and
the directory are back where they were (`reconcile` and a dump of the tables say so).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from ldap3 import Connection

from clikit import run_cli, run_process, write_config
from fixtures_db import _truncate, missing_backend
from fixtures_ldap import ldap_section, members, read_entry
from importkit import ET1, GOOD_PW, OTHER_PW, REFERENT, World, doctor, fast_settings, row, rpps
from profilesync.config import LdapSettings
from profilesync.directory.tree import Tree
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.report import read_report
from profilesync.store.undo import UndoResult, undo_run
from servicekit import wait_for

REMOVED = "Annulé : le profil créé par l'import a été retiré"
RESTORED = "Annulé : le profil supprimé par l'import a été rétabli avec ses dates"
REVERTED = "Annulé : les dates du profil ont été rétablies"
ACCOUNT_REVERTED = "Annulé : nom, prénom ou email du compte rétablis"
ACCOUNT_REMOVED = "Annulé : le compte créé par l'import a été retiré"
ACCOUNT_KEPT = (
    "Compte conservé : il a d'autres profils (le compte créé par l'import reste en place)"
)
MDP_KEPT = (
    "Mot de passe non rétabli : un mot de passe n'est jamais restauré, le compte garde "
    "celui fixé par l'import"
)

BASELINE = [
    row("C", password=GOOD_PW, email="c.martin@aphp.mssante.fr"),
    row(
        "C",
        "Dupont",
        "Pierre",
        ident="pdupont",
        role="SYNT",
        password=GOOD_PW,
        email="p.dupont@aphp.mssante.fr",
        fin="31/12/2030",
    ),
    row("C", "Doe", "Jane", ident="jdoe", role="OEC1", password=GOOD_PW),
    doctor("C", password=GOOD_PW),
]
# C of a new account (in a new team), C adding a profile to an existing account (cmartin;
# and the doctor), M changing dates and email, S of a profile.
WRONG = [
    row("C", "Nouveau", "Luc", ident="lnouveau", role="CDC2", team="Urgences", password=OTHER_PW),
    row("C", role="CDC2"),
    row(
        "M",
        "Dupont",
        "Pierre",
        ident="pdupont",
        role="SYNT",
        email="p.dupont2@aphp.mssante.fr",
        debut="01/01/2024",
        fin="31/12/2099",
    ),
    row("S", "Doe", "Jane", ident="jdoe", role="OEC1"),
    doctor("C", role="CDC3E", team="Urgences"),
]


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def _config(world: World, **sections: Any) -> Path:
    return write_config(world.tmp, database={"url": world.url}, **sections)


def _cli(world: World, *args: str, config: Path | None = None) -> tuple[int, str]:
    result = run_cli(*args, config=config or _config(world))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug keeps its traceback
    return result.exit_code, result.output


def _import(world: World, rows: Sequence[Sequence[str]], config: Path | None = None) -> int:
    """Import `rows` through the CLI as the référent; the new run's number."""
    code, out = _cli(world, "import", str(world.csv(rows)), "--as", REFERENT, config=config)
    assert code in {0, 1}, out
    return int(world.scalar("SELECT max(id) FROM import_run"))


def _state(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Profiles, accounts (with the exact hash) and memberships, without bookkeeping."""
    return {
        "account": sorted(
            tuple(r)
            for r in world.rows(
                "SELECT key, doctor, rpps, nom, prenom, email, locked, password_hash, "
                "password_pending FROM account"
            )
        ),
        "profile": sorted(
            (r[0], r[1], r[2], r[3] or "", str(r[4]), str(r[5]), r[6])
            for r in world.rows(
                "SELECT a.key, e.et, p.role, t.name, p.debut, p.fin, p.state "
                "FROM profile p JOIN account a ON a.id = p.account_id "
                "JOIN establishment e ON e.id = p.establishment_id "
                "LEFT JOIN team t ON t.id = p.team_id"
            )
        ),
        "membership": sorted(
            tuple(r)
            for r in world.rows(
                "SELECT r.login, e.et FROM referent_establishment re "
                "JOIN referent r ON r.id = re.referent_id "
                "JOIN establishment e ON e.id = re.establishment_id"
            )
        ),
    }


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"\d+;", line)]


# -- the round trip, database and directory -----------------------------------------------------


def test_import_then_undo_gives_back_the_database_and_the_directory(
    world: World, ldap_settings: LdapSettings, ldap_admin: Connection
) -> None:
    config = _config(world, ldap=ldap_section(ldap_settings))
    _import(world, BASELINE, config)
    assert _cli(world, "directory", "sync", config=config)[0] == 0
    code, out = _cli(world, "reconcile", "--repair", config=config)  # the ETs' skeletons
    assert code == 0, out
    before = _state(world)

    wrong = _import(world, WRONG, config)
    assert _state(world) != before
    assert _cli(world, "directory", "sync", config=config)[0] == 0
    tree = Tree.from_settings(ldap_settings)
    assert tree.person("lnouveau") in members(ldap_admin, tree.team(ET1, "Urgences"))

    code, out = _cli(world, "undo", str(wrong), config=config)
    assert code == 0, out
    assert _lines(out) == [
        f"2;OK;{REMOVED} | {ACCOUNT_REMOVED}",
        f"3;OK;{REMOVED}",
        f"4;OK;{REVERTED} | {ACCOUNT_REVERTED}",
        f"5;OK;{RESTORED}",
        f"6;OK;{REMOVED}",
    ]
    assert "5 lignes : 5 OK, 0 ALERTE, 0 ERREUR" in out.splitlines()
    assert _state(world) == before

    assert _cli(world, "directory", "sync", config=config)[0] == 0
    code, out = _cli(world, "reconcile", config=config)
    assert code == 0, out
    assert out.strip().startswith("directory matches the database")
    # The team the wrong file created stays (teams are never deleted), with nobody in it.
    assert members(ldap_admin, tree.team(ET1, "Urgences")) == {tree.placeholder}
    assert read_entry(ldap_admin, tree.person("lnouveau")) is None


def test_undo_is_a_run_with_its_report_in_the_referents_outbox(world: World) -> None:
    _import(world, BASELINE)
    wrong = _import(world, WRONG)
    code, out = _cli(world, "undo", str(wrong))
    assert code == 0, out
    undo_id = wrong + 1
    assert f"undo recorded as run {undo_id}" in out
    (report,) = (world.tmp / "outbox" / REFERENT).glob("annulation-import-*.rapport.csv")
    assert f"report: {report}" in out
    got = read_report(report)
    assert [(o.line, o.code) for o in got] == [(n, Code.OK) for n in range(2, 7)]
    assert got[1].messages == (REMOVED,)
    assert got[0].cells[8] == "lnouveau" and got[0].cells[9] == "***"  # the file's cells
    assert OTHER_PW not in report.read_text(encoding="utf-8-sig")

    code, out = _cli(world, "runs", "--json")
    runs = json.loads(out)
    assert (runs[0]["id"], runs[0]["source"], runs[0]["status"], runs[0]["ok"]) == (
        undo_id,
        "undo",
        "done",
        5,
    )
    assert runs[0]["submitter"] == REFERENT
    assert runs[0]["reason"].startswith(f"undo of run {wrong} by operator:")
    code, out = _cli(world, "show", str(undo_id))
    assert code == 0 and f"3;OK;{REMOVED}" in out.splitlines()
    # The undo is audited in the operator's name, under its own run, with no secret.
    audits = world.rows(
        "SELECT actor, action, changes, actor_kind, account_key FROM audit WHERE run_id = :r",
        r=undo_id,
    )
    assert {a[1] for a in audits} == {
        "profile.remove",
        "profile.undo",
        "account.undo",
        "account.remove",
    }
    assert all(a[0].startswith("operator:") and a[3] == "operator" for a in audits)
    assert {a[4] for a in audits} == {"cmartin", "lnouveau", "pdupont", "jdoe", rpps(1)}
    assert "password" not in json.dumps([str(a[2]) for a in audits])
    queued = world.rows("SELECT key FROM directory_change WHERE run_id = :r", r=undo_id)
    assert sorted(k for (k,) in queued) == sorted(
        ["cmartin", "jdoe", "lnouveau", "pdupont", rpps(1)]
    )


# -- refusals, per profile ------------------------------------------------------------------------


def test_a_profile_changed_by_a_later_run_is_left_and_the_rest_is_undone(world: World) -> None:
    _import(world, BASELINE)
    wrong = _import(world, WRONG)
    later = _import(
        world, [row("M", "Dupont", "Pierre", ident="pdupont", role="SYNT", fin="30/06/2098")]
    )
    code, out = _cli(world, "undo", str(wrong))
    assert code == 1, out
    assert _lines(out)[2] == (
        f"4;ERREUR;Non annulé : le profil a été modifié depuis l'import (import {later}) | "
        f"{ACCOUNT_REVERTED}"
    )
    assert "5 lignes : 4 OK, 0 ALERTE, 1 ERREUR" in out
    dates = world.rows(
        "SELECT p.debut, p.fin FROM profile p JOIN account a ON a.id = p.account_id "
        "WHERE a.key = 'pdupont'"
    )
    assert [(str(d), str(f)) for d, f in dates] == [("2024-01-01", "2098-06-30")]
    assert world.scalar("SELECT email FROM account WHERE key = 'pdupont'") == (
        "p.dupont@aphp.mssante.fr"
    )
    assert world.scalar("SELECT count(*) FROM account WHERE key = 'lnouveau'") == 0


def test_an_account_changed_by_an_operator_is_left_as_it_is(world: World) -> None:
    _import(world, BASELINE)
    wrong = _import(world, WRONG)
    code, out = _cli(world, "account", "set", "pdupont", "--email", "pd@aphp.mssante.fr")
    assert code == 0, out
    code, out = _cli(world, "undo", str(wrong))
    assert code == 1, out
    (line4,) = [line for line in _lines(out) if line.startswith("4;")]
    assert line4.startswith(f"4;ERREUR;{REVERTED} | Non annulé : le compte a été modifié depuis")
    assert line4.endswith("(par l'exploitant)")
    assert world.scalar("SELECT email FROM account WHERE key = 'pdupont'") == "pd@aphp.mssante.fr"


def test_an_account_the_run_created_stays_while_a_later_profile_uses_it(world: World) -> None:
    first = _import(world, [row("C", "Nouveau", "Luc", ident="lnouveau", password=GOOD_PW)])
    _import(world, [row("C", "Nouveau", "Luc", ident="lnouveau", role="SYNT")])
    code, out = _cli(world, "undo", str(first))
    assert code == 0, out
    assert _lines(out) == [f"2;ALERTE;{REMOVED} | {ACCOUNT_KEPT}"]
    assert world.rows(
        "SELECT p.role FROM profile p JOIN account a ON a.id = p.account_id "
        "WHERE a.key = 'lnouveau'"
    ) == [("SYNT",)]


def test_a_password_set_by_the_run_is_not_restored_and_both_outputs_say_so(
    world: World,
) -> None:
    _import(world, BASELINE)
    old_hash = world.scalar("SELECT password_hash FROM account WHERE key = 'cmartin'")
    with world.engine.begin() as conn:  # the password expired (SPEC §4): a file may reset it
        conn.execute(
            sa.text("UPDATE account SET password_set_at = :t WHERE key = 'cmartin'"),
            {"t": (datetime.now(UTC) - timedelta(days=200)).replace(tzinfo=None)},
        )
    reset = _import(world, [row("M", password=OTHER_PW, email="claire.m@aphp.mssante.fr")])
    new_hash = world.scalar("SELECT password_hash FROM account WHERE key = 'cmartin'")
    assert new_hash != old_hash
    code, out = _cli(world, "undo", str(reset))
    assert code == 0, out
    assert _lines(out) == [f"2;ALERTE;{ACCOUNT_REVERTED} | {MDP_KEPT}"]
    assert (
        f"passwords are never restored: these accounts keep the password run {reset} set: cmartin"
        in out
    )
    assert world.scalar("SELECT password_hash FROM account WHERE key = 'cmartin'") == new_hash
    assert world.scalar("SELECT email FROM account WHERE key = 'cmartin'") == (
        "c.martin@aphp.mssante.fr"
    )
    (report,) = (world.tmp / "outbox" / REFERENT).glob("annulation-import-*.rapport.csv")
    assert read_report(report)[0].messages == (ACCOUNT_REVERTED, MDP_KEPT)


# -- what cannot be undone ------------------------------------------------------------------------


def test_undoing_a_run_twice_is_refused(world: World) -> None:
    _import(world, BASELINE)
    wrong = _import(world, WRONG)
    code, out = _cli(world, "undo", str(wrong))
    assert code == 0, out
    after = _state(world)
    result = run_process("undo", str(wrong), config=_config(world))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: run {wrong} was already undone by run {wrong + 1}"
    assert _state(world) == after


def test_undoing_an_undo_is_refused(world: World) -> None:
    wrong = _import(world, BASELINE)
    code, out = _cli(world, "undo", str(wrong))
    assert code == 0, out
    code, out = _cli(world, "undo", str(wrong + 1))
    assert code == 2
    assert (
        f"error: run {wrong + 1} is itself the undo of run {wrong}: an undo cannot be undone" in out
    )


def test_a_rejected_run_a_held_run_and_an_unknown_run_are_refused(world: World) -> None:
    _import(world, BASELINE)
    binary = world.tmp / "classeur.csv"
    binary.write_bytes(b"PK\x03\x04 not a csv file\x00")
    code, out = _cli(world, "import", str(binary), "--as", REFERENT)
    assert code == 2, out
    rejected = int(world.scalar("SELECT max(id) FROM import_run"))
    assert world.scalar("SELECT status FROM import_run WHERE id = :r", r=rejected) == "rejected"
    code, out = _cli(world, "undo", str(rejected))
    assert code == 2
    assert f"error: run {rejected} is rejected and changed nothing: there is nothing to undo" in out

    guarded = _config(world, imports={"mass_delete_min": 1, "mass_delete_share": 0.0})
    code, out = _cli(world, "import", str(world.csv([row("S")])), "--as", REFERENT, config=guarded)
    assert code == 2 and "file held for approval" in out
    held = int(world.scalar("SELECT max(id) FROM import_run"))
    code, out = _cli(world, "undo", str(held))
    assert code == 2
    assert f"error: run {held} is awaiting_approval and changed nothing" in out

    code, out = _cli(world, "undo", "999")
    assert (code, out.strip()) == (2, "error: no import run 999")


def test_a_run_still_being_processed_is_refused(world: World) -> None:
    run = _import(world, BASELINE)
    with world.engine.begin() as conn:  # as a daemon leaves it mid-file
        conn.execute(sa.text("UPDATE import_run SET status = 'running' WHERE id = :r"), {"r": run})
    before = _state(world)
    code, out = _cli(world, "undo", str(run))
    assert code == 2
    assert f"error: run {run} is still being processed (status running)" in out
    assert _state(world) == before


def test_a_run_that_changed_nothing_has_nothing_to_undo(world: World) -> None:
    _import(world, BASELINE)
    same = _import(world, [row("M", email="c.martin@aphp.mssante.fr")])
    code, out = _cli(world, "undo", str(same))
    assert (code, out.strip()) == (
        2,
        f"error: run {same} changed nothing: there is nothing to undo",
    )


# -- dry run ----------------------------------------------------------------------------------


def test_a_dry_run_prints_what_would_be_undone_and_changes_nothing(world: World) -> None:
    _import(world, BASELINE)
    wrong = _import(world, WRONG)
    after = _state(world)
    runs = world.scalar("SELECT count(*) FROM import_run")
    audits = world.scalar("SELECT count(*) FROM audit")
    code, out = _cli(world, "undo", str(wrong), "--dry-run")
    assert code == 0, out
    assert out.splitlines()[0] == f"dry run: nothing changed; undoing run {wrong} would give:"
    assert f"2;OK;{REMOVED} | {ACCOUNT_REMOVED}" in out.splitlines()
    assert "undo recorded" not in out
    assert _state(world) == after
    assert world.scalar("SELECT count(*) FROM import_run") == runs
    assert world.scalar("SELECT count(*) FROM audit") == audits
    assert not list((world.tmp / "outbox").rglob("annulation-*"))
    # …and the real undo afterwards is unaffected by it.
    code, out = _cli(world, "undo", str(wrong))
    assert code == 0, out


def test_undo_has_help_text() -> None:
    result = run_cli("undo", "--help")
    assert result.exit_code == 0
    assert "Undo an import" in result.output
    assert "--dry-run" in result.output


# -- fault --------------------------------------------------------------------------------------


def test_an_unwritable_outbox_leaves_everything_as_it_was(world: World) -> None:
    _import(world, BASELINE)
    wrong = _import(world, WRONG)
    after = _state(world)
    runs = world.scalar("SELECT count(*) FROM import_run")
    outbox = world.tmp / "outbox" / REFERENT
    outbox.parent.mkdir(parents=True, exist_ok=True)
    outbox.write_text("a file where the référent's folder should be")
    code, out = _cli(world, "undo", str(wrong))
    assert code == 2
    assert "error: cannot write the undo's report" in out
    assert "nothing was undone; fix the outbox and run the undo again" in out
    assert _state(world) == after
    assert world.scalar("SELECT count(*) FROM import_run") == runs
    outbox.unlink()
    code, out = _cli(world, "undo", str(wrong))
    assert code == 0, out


def test_a_profile_the_validity_job_changed_since_is_left(world: World) -> None:
    _import(world, BASELINE)
    wrong = _import(world, WRONG)
    with world.engine.begin() as conn:  # a state time made stale, as the job finds it
        conn.execute(
            sa.text(
                "UPDATE profile SET state = 'pending' WHERE role = 'SYNT' AND account_id = "
                "(SELECT id FROM account WHERE key = 'pdupont')"
            )
        )
    code, out = _cli(world, "jobs", "run", "validity")
    assert code == 0, out
    code, out = _cli(world, "undo", str(wrong))
    assert code == 1, out
    assert _lines(out)[2] == (
        "4;ERREUR;Non annulé : le profil a été modifié depuis l'import (changement d'état à "
        f"sa date de début ou de fin) | {ACCOUNT_REVERTED}"
    )
    assert "5 lignes : 4 OK, 0 ALERTE, 1 ERREUR" in out


def test_a_failed_run_is_undone_for_what_it_committed(world: World) -> None:
    """The daemon gave up on it after internal errors: its committed lines are real."""
    _import(world, BASELINE)
    before = _state(world)
    run = _import(world, WRONG[:2])
    with world.engine.begin() as conn:
        conn.execute(sa.text("UPDATE import_run SET status = 'failed' WHERE id = :r"), {"r": run})
    code, out = _cli(world, "undo", str(run))
    assert code == 0, out
    assert _lines(out) == [f"2;OK;{REMOVED} | {ACCOUNT_REMOVED}", f"3;OK;{REMOVED}"]
    assert _state(world) == before


def test_a_held_run_once_approved_can_be_undone(world: World) -> None:
    _import(world, BASELINE)
    before = _state(world)
    guarded = _config(world, imports={"mass_delete_min": 1, "mass_delete_share": 0.0})
    code, out = _cli(world, "import", str(world.csv([row("S")])), "--as", REFERENT, config=guarded)
    assert code == 2, out
    held = int(world.scalar("SELECT max(id) FROM import_run"))
    code, out = _cli(world, "approve", str(held), config=guarded)
    assert code == 0, out
    code, out = _cli(world, "undo", str(held))
    assert code == 0, out
    assert _lines(out) == [f"2;OK;{RESTORED}"]
    assert _state(world) == before


# -- concurrency (PostgreSQL: several daemons and operators share one database) -----------------


def test_a_change_committed_while_the_undo_waits_for_its_lock_is_seen(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The undo locks the run's accounts before it looks for later changes: a transaction
    that holds one of them and changes its profile makes the undo wait, then refuse it."""
    url = request.getfixturevalue("_pg_database")
    if url is None:
        missing_backend("PostgreSQL, for the lock of an undo")
    _truncate(url)
    world = World(url, tmp_path, fast_settings(tmp_path))
    try:
        world.run(BASELINE)
        wrong, _ = world.run(WRONG)
        assert wrong.run_id is not None
        done: list[UndoResult] = []
        with world.engine.connect() as blocker:
            blocker.execute(sa.text("SELECT id FROM account WHERE key = 'pdupont' FOR UPDATE"))
            blocker.execute(
                sa.text(
                    "INSERT INTO audit (at, actor, action, entity, entity_key, changes) VALUES "
                    "(now(), 'operator:someone', 'profile.update', 'profile', :k, '{}')"
                ),
                {"k": f"pdupont/{ET1}/SYNT/"},
            )
            undo = threading.Thread(
                target=lambda: done.append(
                    undo_run(
                        wrong.run_id or 0,
                        settings=world.settings,
                        session_factory=world.sf,
                        clock=world.clock,
                        actor="operator:test",
                    )
                )
            )
            undo.start()
            wait_for(lambda: _waiting_on_a_lock(world), "the undo to wait for the account's lock")
            blocker.commit()
        undo.join()
        (result,) = done
        assert [o.code for o in result.outcomes][2] is Code.ERREUR
        assert result.outcomes[2].messages[0] == (
            "Non annulé : le profil a été modifié depuis l'import (par l'exploitant)"
        )
    finally:
        world.close()


def _waiting_on_a_lock(world: World) -> bool:
    return bool(
        world.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
    )
