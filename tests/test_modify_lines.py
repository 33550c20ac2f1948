"""M and S lines at their edges (SPEC §3–§4), each expectation from the SPEC's words.

Issue 14: mutants of store/actions.py that ignored the line's début, left a profile active
when its début moved into the future, forgot to tell the directory that an account's lock
flipped, applied a Nom only together with a Prénom, refused fin = début, checked the
password against the old Nom, or emptied the audit rows, all survived the suite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from importkit import GOOD_PW, World, doctor, fast_settings, row
from profilesync.fileformat import messages
from profilesync.fileformat.outcome import Code
from profilesync.store.passwords import verify

# World's clock: 15/03/2026.


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def profile(world: World) -> tuple[str | None, str | None, str]:
    ((debut, fin, state),) = world.rows("SELECT debut, fin, state FROM profile")
    return (debut and str(debut)[:10], fin and str(fin)[:10], state)


def locked(world: World) -> bool:
    return bool(world.scalar("SELECT locked FROM account"))


def queued_by(world: World, run_id: int | None) -> list[tuple[str, str]]:
    """The directory changes a run queued: (kind, key)."""
    rows = world.rows("SELECT kind, key FROM directory_change WHERE run_id = :r", r=run_id)
    return [(str(k), str(v)) for k, v in rows]


def audits(world: World, action: str) -> list[tuple[str, dict[str, Any]]]:
    rows = world.rows(
        "SELECT entity_key, changes FROM audit WHERE action = :a ORDER BY id", a=action
    )
    return [(key, ch if isinstance(ch, dict) else json.loads(ch)) for key, ch in rows]


# --- dates --------------------------------------------------------------------------------------


def test_m_with_a_debut_stores_that_debut(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("M", debut="01/03/2026")])
    assert [o.code for o in outs] == [Code.OK]
    assert profile(world) == ("2026-03-01", None, "active")


def test_a_debut_moved_into_the_future_deactivates_and_locks(world: World) -> None:
    """SPEC §3/§4: a profile is active from its début; an account with no active profile
    left cannot log in — its directory entry is locked, so the directory must hear of it."""
    world.run([row("C", password=GOOD_PW)])
    assert not locked(world)
    result, outs = world.run([row("M", debut="01/06/2026")])
    assert [o.code for o in outs] == [Code.OK]
    assert profile(world) == ("2026-06-01", None, "pending")
    assert locked(world)
    assert queued_by(world, result.run_id) == [("account", "cmartin")]


def test_a_debut_brought_back_to_today_reactivates_and_unlocks(world: World) -> None:
    world.run([row("C", password=GOOD_PW, debut="01/06/2026")])
    assert locked(world)
    result, _ = world.run([row("M", debut="15/03/2026")])
    assert profile(world) == ("2026-03-15", None, "active")
    assert not locked(world)
    assert queued_by(world, result.run_id) == [("account", "cmartin")]


def test_a_fin_already_past_on_m_deactivates_and_locks(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    result, outs = world.run([row("M", fin="14/03/2026")])
    assert [o.code for o in outs] == [Code.OK]
    assert profile(world) == (None, "2026-03-14", "ended")  # not active: locked
    assert locked(world)
    assert queued_by(world, result.run_id) == [("account", "cmartin")]


def test_fin_equal_to_debut_is_a_one_day_profile(world: World) -> None:
    """SPEC §3: only « fin before début » is ERREUR; fin is inclusive up to the end of the day."""
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("M", debut="15/03/2026", fin="15/03/2026")])
    assert [o.code for o in outs] == [Code.OK]
    assert profile(world) == ("2026-03-15", "2026-03-15", "active")


def test_fin_before_the_stored_debut_is_erreur_naming_both_dates(world: World) -> None:
    world.run([row("C", password=GOOD_PW, debut="01/03/2026")])
    _, outs = world.run([row("M", fin="28/02/2026")])
    assert [o.code for o in outs] == [Code.ERREUR]
    assert outs[0].messages == (messages.fin_before_debut_stored("28/02/2026", "01/03/2026"),)
    assert profile(world) == ("2026-03-01", None, "active")


# --- names --------------------------------------------------------------------------------------


def test_m_changing_only_the_nom_renames(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    result, outs = world.run([row("M", "Lefebvre", "Claire")])
    assert [o.code for o in outs] == [Code.OK]
    assert world.rows("SELECT nom, prenom FROM account") == [("Lefebvre", "Claire")]
    assert queued_by(world, result.run_id) == [("account", "cmartin")]
    assert audits(world, "account.update") == [("cmartin", {"nom": ["Martin", "Lefebvre"]})]


def test_m_changing_only_the_prenom_renames(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    result, outs = world.run([row("M", "Martin", "Claire-Marie")])
    assert [o.code for o in outs] == [Code.OK]
    assert world.rows("SELECT nom, prenom FROM account") == [("Martin", "Claire-Marie")]
    assert queued_by(world, result.run_id) == [("account", "cmartin")]
    assert audits(world, "account.update") == [("cmartin", {"prenom": ["Claire", "Claire-Marie"]})]


def test_m_of_a_doctor_keeps_the_names_with_alerte(world: World) -> None:
    world.run([doctor("C", password=GOOD_PW)])
    result, outs = world.run([doctor("M", nom="Dupond")])
    assert [o.code for o in outs] == [Code.ALERTE]
    assert outs[0].messages == ("Aucun changement", messages.DOCTOR_NAMES_IGNORED)
    assert world.rows("SELECT nom, prenom FROM account") == [("Durand", "Paul")]
    assert queued_by(world, result.run_id) == []


# --- the password of an M line ------------------------------------------------------------------


def test_an_expired_password_may_not_contain_the_new_nom(world: World) -> None:
    """SPEC §4: the password must not contain the Nom — the one the line gives it."""
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    _, outs = world.run([row("M", "Lefebvre", "Claire", password="Lefebvre-Horse-42")])
    assert [o.code for o in outs] == [Code.ERREUR]
    assert messages.PASSWORD_CONTAINS_NOM in outs[0].messages
    assert world.rows("SELECT nom FROM account") == [("Martin",)]
    assert verify(world.scalar("SELECT password_hash FROM account"), GOOD_PW)


def test_an_expired_password_may_contain_the_nom_the_line_replaces(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    _, outs = world.run([row("M", "Lefebvre", "Claire", password="Martin-Horse-42")])
    assert [o.code for o in outs] == [Code.OK]
    assert world.rows("SELECT nom FROM account") == [("Lefebvre",)]
    assert verify(world.scalar("SELECT password_hash FROM account"), "Martin-Horse-42")


def test_a_doctors_expired_password_is_checked_against_the_stored_nom(world: World) -> None:
    """A doctor's names on an M line are ignored: the Nom is the account's (Durand)."""
    world.run([doctor("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    _, outs = world.run([doctor("M", nom="Dupond", password="Durand-Horse-42")])
    assert outs[0].code is Code.ERREUR
    assert messages.PASSWORD_CONTAINS_NOM in outs[0].messages
    _, outs = world.run([doctor("M", nom="Dupond", password="Dupond-Horse-42")])
    assert outs[0].code is Code.ALERTE
    assert outs[0].messages == ("Mot de passe modifié", messages.DOCTOR_NAMES_IGNORED)
    assert verify(world.scalar("SELECT password_hash FROM account"), "Dupond-Horse-42")


# --- what the audit keeps -----------------------------------------------------------------------


def test_the_audit_keeps_what_an_m_changed_on_the_profile(world: World) -> None:
    world.run([row("C", password=GOOD_PW, fin="31/12/2026")])
    world.run([row("M", debut="01/06/2026", fin="30/06/2027")])
    assert audits(world, "profile.update") == [
        (
            "cmartin/750100125/CDC1/",
            {
                "debut": [None, "2026-06-01"],
                "fin": ["2026-12-31", "2027-06-30"],
                "state": ["active", "pending"],
            },
        )
    ]


def test_the_audit_keeps_what_an_s_changed(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    result, _ = world.run([row("S")])
    assert audits(world, "profile.delete") == [
        ("cmartin/750100125/CDC1/", {"state": ["active", "deleted"]})
    ]
    assert world.rows("SELECT actor, line, run_id FROM audit WHERE action = 'profile.delete'") == [
        ("aref", 2, result.run_id)
    ]
    assert locked(world)
    assert queued_by(world, result.run_id) == [("account", "cmartin")]


def test_the_audit_of_an_email_change_keeps_old_and_new(world: World) -> None:
    world.run([row("C", password=GOOD_PW, email="a@mssante.fr")])
    world.run([row("M", email="b@aphp.mssante.fr")])
    assert audits(world, "account.update") == [
        ("cmartin", {"email": ["a@mssante.fr", "b@aphp.mssante.fr"]})
    ]


def test_the_audit_keeps_a_debut_moved_from_one_date_to_another(world: World) -> None:
    world.run([row("C", password=GOOD_PW, debut="01/03/2026")])
    world.run([row("M", debut="01/06/2026")])
    assert audits(world, "profile.update") == [
        (
            "cmartin/750100125/CDC1/",
            {"debut": ["2026-03-01", "2026-06-01"], "state": ["active", "pending"]},
        )
    ]


def test_audit_rows_name_the_entity_they_are_about(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    world.run([row("M", "Lefebvre", "Claire", fin="31/12/2026")])
    world.run([row("S", "Lefebvre", "Claire")])
    got = world.rows("SELECT action, entity FROM audit WHERE run_id IS NOT NULL ORDER BY id")
    assert [tuple(r) for r in got][:1] == [("account.create", "account")]
    assert [tuple(r) for r in got][-3:] == [
        ("account.update", "account"),
        ("profile.update", "profile"),
        ("profile.delete", "profile"),
    ]


def test_an_expired_password_replaced_is_audited_without_the_password(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    world.run([row("M", password="Batterie-Agrafe-77")])
    assert audits(world, "account.update") == [("cmartin", {"password": "changed"})]


def test_an_empty_email_on_m_leaves_the_stored_one(world: World) -> None:
    """SPEC §4: « An empty optional field means "unchanged" »."""
    world.run([row("C", password=GOOD_PW, email="cm@aphp.mssante.fr")])
    world.run([row("M", "Lefebvre", "Claire")])
    assert world.rows("SELECT nom, email FROM account") == [("Lefebvre", "cm@aphp.mssante.fr")]
    assert audits(world, "account.update") == [("cmartin", {"nom": ["Martin", "Lefebvre"]})]


def test_a_second_profile_with_the_same_email_changes_nothing_on_the_account(
    world: World,
) -> None:
    world.run([row("C", password=GOOD_PW, email="cm@aphp.mssante.fr")])
    _, outs = world.run([row("C", role="SYNT", email="cm@aphp.mssante.fr")])
    assert [o.code for o in outs] == [Code.OK]
    assert audits(world, "account.update") == []
    assert world.scalar("SELECT count(*) FROM profile") == 2


# --- one key, one kind of account ---------------------------------------------------------------
# Files cannot make such accounts (an 11-digit Identifiant is refused by the rules), but a
# database that predates that rule, or an operator, can: the line is refused, not merged.


def _legacy_account(world: World, key: str, *, doctor_: bool) -> None:
    from importkit import T0
    from profilesync.store.model import Account

    with world.sf() as s:
        s.add(Account(key=key, doctor=doctor_, rpps=key if doctor_ else None, nom="Durand",
                      prenom="Paul", password_hash="{ARGON2}x", password_set_at=T0,
                      locked=True, created_at=T0, updated_at=T0))  # fmt: skip
        s.commit()


def test_a_doctors_rpps_already_a_non_doctors_key_is_erreur(world: World) -> None:
    from importkit import rpps

    _legacy_account(world, rpps(1), doctor_=False)
    _, outs = world.run([doctor("C", password=GOOD_PW)])
    assert [o.code for o in outs] == [Code.ERREUR]
    # The account has no profile in the référent's establishments: « déjà utilisé », the
    # words that say nothing of its kind (SPEC §4).
    assert outs[0].messages == (messages.identifiant_taken(rpps(1)),)
    assert world.scalar("SELECT count(*) FROM profile") == 0


def test_an_identifiant_already_a_doctors_key_is_erreur(world: World) -> None:
    _legacy_account(world, "pdurand", doctor_=True)
    _, outs = world.run([row("C", "Durand", "Paul", ident="pdurand", password=GOOD_PW)])
    assert [o.code for o in outs] == [Code.ERREUR]
    assert outs[0].messages == (messages.identifiant_taken("pdurand"),)
    assert world.scalar("SELECT count(*) FROM profile") == 0


def test_a_doctors_account_keeps_the_rpps(world: World) -> None:
    """SPEC §4: a doctor's account is keyed by RPPS, and carries it."""
    from importkit import rpps

    world.run([doctor("C", password=GOOD_PW)])
    assert world.rows("SELECT key, rpps, doctor FROM account") == [(rpps(1), rpps(1), True)]


def test_the_audit_of_a_new_account_keeps_its_fields_but_not_the_password(world: World) -> None:
    world.run([row("C", password=GOOD_PW, email="cm@aphp.mssante.fr")])
    assert audits(world, "account.create") == [
        (
            "cmartin",
            {
                "nom": [None, "Martin"],
                "prenom": [None, "Claire"],
                "email": [None, "cm@aphp.mssante.fr"],
                "password": "changed",
            },
        )
    ]


# --- C of an account that exists -----------------------------------------------------------------


def test_c_for_a_known_account_with_an_expired_password_sets_the_new_one(world: World) -> None:
    """SPEC §4: a password supplied for an existing account follows the account-level rule:
    it replaces the old one once that has expired."""
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    _, outs = world.run([row("C", role="SYNT", password="Batterie-Agrafe-77")])
    assert [o.code for o in outs] == [Code.OK]
    assert verify(world.scalar("SELECT password_hash FROM account"), "Batterie-Agrafe-77")


def test_c_for_a_known_account_with_a_password_the_policy_refuses_is_erreur(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    _, outs = world.run([row("C", role="SYNT", password="Martin-Horse-42")])
    assert [o.code for o in outs] == [Code.ERREUR]
    assert messages.PASSWORD_CONTAINS_NOM in outs[0].messages
    assert world.scalar("SELECT count(*) FROM profile") == 1
    assert verify(world.scalar("SELECT password_hash FROM account"), GOOD_PW)


def test_a_team_named_by_two_c_lines_is_created_once(world: World) -> None:
    """SPEC §2: a team that does not exist is created on C — once."""
    world.run(
        [
            row("C", team="Urgences", password=GOOD_PW),
            row("C", "Petit", "Léo", ident="lpetit", team="Urgences", password=GOOD_PW),
        ]
    )
    assert world.scalar("SELECT count(*) FROM team") == 1
    assert world.scalar("SELECT count(*) FROM audit WHERE action = 'team.create'") == 1
    world.run([row("C", "Roux", "Léa", ident="lroux", team="Urgences", password=GOOD_PW)])
    assert world.scalar("SELECT count(*) FROM team") == 1


def test_the_audit_of_a_c_keeps_the_profile_and_the_team_it_created(world: World) -> None:
    world.run([row("C", team="Urgences", password=GOOD_PW, debut="01/03/2026", fin="31/12/2026")])
    got = world.rows(
        "SELECT action, entity, entity_key, changes FROM audit WHERE action <> 'account.create'"
        " ORDER BY id"
    )
    assert [(a, e, k, c if isinstance(c, dict) else json.loads(c)) for a, e, k, c in got] == [
        ("team.create", "team", "750100125/Urgences", {}),
        (
            "profile.create",
            "profile",
            "cmartin/750100125/CDC1/Urgences",
            {"debut": [None, "2026-03-01"], "fin": [None, "2026-12-31"]},
        ),
    ]


def test_a_deleted_profile_created_again_comes_back_and_says_so(world: World) -> None:
    world.run([row("C", password=GOOD_PW, fin="31/12/2026")])
    world.run([row("S")])
    _, outs = world.run([row("C", debut="01/06/2026", fin="30/06/2027")])
    assert [o.code for o in outs] == [Code.OK]
    assert profile(world) == ("2026-06-01", "2027-06-30", "pending")
    got = world.rows(
        "SELECT entity, entity_key, changes FROM audit WHERE action = 'profile.recreate'"
    )
    assert [(e, k, c if isinstance(c, dict) else json.loads(c)) for e, k, c in got] == [
        (
            "profile",
            "cmartin/750100125/CDC1/",
            {
                "debut": [None, "2026-06-01"],
                "fin": ["2026-12-31", "2027-06-30"],
                "state": ["deleted", "pending"],
            },
        )
    ]


def test_c_for_a_doctor_with_a_password_holding_the_stored_nom_is_erreur(world: World) -> None:
    """The line's Nom is ignored for a doctor (ALERTE): the password is checked against the
    stored one, which only the account knows."""
    world.run([doctor("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    line = doctor("C", nom="Dupond", role="CDC3E", team="Urgences", password="Durand-Horse-42")
    _, outs = world.run([line])
    assert [o.code for o in outs] == [Code.ERREUR]
    assert messages.PASSWORD_CONTAINS_NOM in outs[0].messages
    assert world.scalar("SELECT count(*) FROM profile") == 1
