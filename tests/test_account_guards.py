"""Account-level data of a shared account, and account kinds (SPEC §4), through real imports.

Issue 14: mutants of store/actions.py that applied a password to an account shared with
another establishment, dropped the « compte partagé » ALERTEs, warned of a rename for a
doctor whose names did not change, stopped an M at its first ALERTE, or let a doctor's
line reach a non-doctor account, survived the suite.

SPEC §4: account-level data (Nom and Prénom of a non-doctor, Email, password) is changed
by a référent only when every active or pending profile of the account is in an
establishment they manage; otherwise the field is ignored with ALERTE.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from importkit import ET1, ET3, GOOD_PW, OTHER_PW, World, doctor, fast_settings, row, rpps
from profilesync.fileformat import messages
from profilesync.fileformat.outcome import Code
from profilesync.store.passwords import verify

BOTH = "both"  # a référent of ET1 and ET3: ET3 is not the test référent's


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    w.add_referent(BOTH, ET1, ET3)
    yield w
    w.close()


def shared(world: World) -> None:
    """cmartin, with a profile in ET1 (the test référent's) and one in ET3 (not theirs);
    passwords old enough to have expired."""
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("C", et=ET3, ej=ET3)], submitter=BOTH)
    assert [o.code for o in outs] == [Code.OK]
    world.clock.advance(timedelta(days=400))


def account(world: World) -> tuple[str, str, str | None, str]:
    ((nom, prenom, email, stored),) = world.rows(
        "SELECT nom, prenom, email, password_hash FROM account"
    )
    return nom, prenom, email, stored


def test_a_shared_accounts_names_are_ignored_with_alerte(world: World) -> None:
    shared(world)
    _, outs = world.run([row("M", "Martin-Durand", "Claire")])
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ALERTE, ("Aucun changement", messages.NAMES_SHARED))
    ]
    assert account(world)[:2] == ("Martin", "Claire")


def test_a_shared_accounts_email_is_ignored_with_alerte(world: World) -> None:
    shared(world)
    _, outs = world.run([row("M", email="claire.martin@chu.mssante.fr")])
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ALERTE, ("Aucun changement", messages.EMAIL_SHARED))
    ]
    assert account(world)[2] is None


def test_a_shared_accounts_expired_password_is_not_replaced(world: World) -> None:
    shared(world)
    _, outs = world.run([row("M", password=OTHER_PW)])
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ALERTE, ("Aucun changement", messages.PASSWORD_SHARED))
    ]
    stored = account(world)[3]
    assert verify(stored, GOOD_PW)
    assert not verify(stored, OTHER_PW)


def test_the_same_names_on_a_shared_doctor_say_nothing(world: World) -> None:
    """A doctor's account is national: another establishment's profile shares it, and an M
    repeating its names is OK, with no word about names."""
    world.run([doctor("C", password=GOOD_PW)])
    _, outs = world.run([doctor("C", et=ET3, ej=ET3)], submitter=BOTH)
    assert [o.code for o in outs] == [Code.OK]
    _, outs = world.run([doctor("M", fin="31/12/2026")])
    assert [(o.code, o.messages) for o in outs] == [(Code.OK, ("Date de fin modifiée",))]


def test_an_m_with_an_alerte_still_applies_the_rest(world: World) -> None:
    world.run([doctor("C", password=GOOD_PW)])
    _, outs = world.run([doctor("M", nom="Duval", fin="31/12/2026")])
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ALERTE, ("Date de fin modifiée", messages.DOCTOR_NAMES_IGNORED))
    ]
    ((fin,),) = world.rows("SELECT fin FROM profile")
    assert str(fin)[:10] == "2026-12-31"


def test_a_doctors_line_never_reaches_a_non_doctors_account(world: World) -> None:
    """An account keyed by an 11-digit login (made before logins like an RPPS were refused)
    is a non-doctor's: a doctor's C line with that RPPS is refused, nothing added."""
    world.run([row("C", password=GOOD_PW)])
    key = rpps(1)
    with world.engine.begin() as conn:
        conn.execute(sa.text("UPDATE account SET key = :k"), {"k": key})
    _, outs = world.run([doctor("C", 1, nom="Martin", prenom="Claire")])
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ERREUR, (messages.key_is_not_doctor(key),))
    ]
    assert world.scalar("SELECT count(*) FROM profile") == 1


# --- teams (SPEC §1 table, §4: a team that does not exist is created on C) -------------------


def _queued(world: World, run_id: int | None) -> list[tuple[str, str]]:
    rows = world.rows("SELECT kind, key FROM directory_change WHERE run_id = :r", r=run_id)
    return sorted((str(k), str(v)) for k, v in rows)


def test_a_new_team_is_created_once_recorded_and_sent_to_the_directory(world: World) -> None:
    result, outs = world.run([row("C", password=GOOD_PW, role="CDC4", team="Urgences")])
    assert [o.code for o in outs] == [Code.OK]
    ((est_id,),) = world.rows("SELECT id FROM establishment WHERE et = :et", et=ET1)
    assert world.rows("SELECT establishment_id, name FROM team") == [(est_id, "Urgences")]
    assert world.rows(
        "SELECT action, entity, entity_key, line FROM audit WHERE entity = 'team'"
    ) == [("team.create", "team", f"{ET1}/Urgences", 2)]
    ((changes,),) = world.rows("SELECT changes FROM audit WHERE entity = 'team'")
    assert (json.loads(changes) if isinstance(changes, str) else changes) == {}
    assert _queued(world, result.run_id) == [("account", "cmartin"), ("establishment", ET1)]


def test_a_team_that_exists_is_joined_not_created_again(world: World) -> None:
    world.run([row("C", password=GOOD_PW, role="CDC4", team="Urgences")])
    result, outs = world.run(
        [row("C", "Petit", "Emma", ident="epetit", password=GOOD_PW, role="CDC1", team="Urgences")]
    )
    assert [o.code for o in outs] == [Code.OK]
    assert world.scalar("SELECT count(*) FROM team") == 1
    assert world.scalar("SELECT count(*) FROM audit WHERE action = 'team.create'") == 1
    assert _queued(world, result.run_id) == [("account", "epetit")]
    profiles = world.rows("SELECT DISTINCT team_id FROM profile")
    assert len(profiles) == 1 and profiles[0][0] is not None


def test_a_password_the_person_changed_in_the_directory_restarts_its_age(world: World) -> None:
    """SPEC §4: once set, the directory owns the password; a change the person made there
    (recorded by the push as directory_password_at) restarts its age, so a référent's M
    cannot replace a password its owner chose ten days ago, however old profilesync's is."""
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=400))  # profilesync's password: long expired (90 days)
    with world.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE account SET directory_password_at = :at"),
            {"at": world.clock.now() - timedelta(days=10)},
        )
    _, outs = world.run([row("M", password=OTHER_PW)])
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ALERTE, ("Aucun changement", messages.PASSWORD_IGNORED))
    ]
    assert verify(account(world)[3], GOOD_PW)
    world.clock.advance(timedelta(days=81))  # the directory's change is 91 days old
    _, outs = world.run([row("M", password=OTHER_PW)])
    assert [(o.code, o.messages) for o in outs] == [(Code.OK, ("Mot de passe modifié",))]
