"""The stateful rules of SPEC §4–§6, each with its exact code and message, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from importkit import (
    EJ1,
    EJ2,
    ET1,
    ET2,
    ET3,
    GOOD_PW,
    OTHER_PW,
    REFERENT,
    World,
    doctor,
    fast_settings,
    letters,
    row,
)
from profilesync.fileformat import messages
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.report import read_report
from profilesync.store.model import RunStatus
from profilesync.store.passwords import verify


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def codes(outs: list) -> list[tuple[int, str]]:
    return [(o.line, o.code.value) for o in outs]


# --- authorization ----------------------------------------------------------------------------


def test_unknown_submitter_rejects_the_whole_file(world: World) -> None:
    result, outs = world.run([row("C", password=GOOD_PW)], submitter="intrus")
    assert result.status is RunStatus.REJECTED
    assert result.reason == messages.unknown_submitter("intrus")
    assert outs == []
    assert world.scalar("SELECT count(*) FROM account") == 0
    report = result.report_path.read_text(encoding="utf-8-sig").splitlines()
    assert report[1].startswith("0;ERREUR;Fichier refusé : « intrus » n'est pas un référent")


def test_submitter_must_be_the_login_exactly(world: World) -> None:
    """A folder `ARef` or ` aref ` is not aref's (SPEC §6); the CLI normalises `--as`."""
    for submitter in ("ARef", " aref", "aref "):
        result, outs = world.run([row("C", password=GOOD_PW)], submitter=submitter)
        assert result.status is RunStatus.REJECTED
        assert result.reason == (
            f"Fichier refusé : « {submitter} » n'est pas un référent enregistré. "
            "Demandez à l'exploitant de vous enregistrer (profilesync referent add)."
        )
    assert world.scalar("SELECT count(*) FROM account") == 0
    result, outs = world.run([row("C", password=GOOD_PW)], submitter=REFERENT)
    assert result.status is RunStatus.DONE and outs[0].code is Code.OK
    assert world.scalar("SELECT DISTINCT actor FROM audit") == REFERENT


def test_unknown_et_is_erreur(world: World) -> None:
    # 130786049 is a valid FINESS that no operator registered as an ET.
    _, outs = world.run([row("C", ej=EJ2, et="130786049", password=GOOD_PW)])
    assert codes(outs) == [(2, "ERREUR")]
    assert outs[0].messages == (messages.et_unknown("130786049"),)
    assert world.scalar("SELECT count(*) FROM account") == 0


def test_ej_not_the_ets_ej_is_erreur(world: World) -> None:
    _, outs = world.run([row("C", ej=EJ1, et=ET2, password=GOOD_PW)])
    assert outs[0].code is Code.ERREUR
    assert outs[0].messages == (messages.ej_mismatch(EJ1, ET2, EJ2),)
    assert world.scalar("SELECT count(*) FROM profile") == 0


def test_et_of_another_referent_is_erreur_and_nothing_applied(world: World) -> None:
    _, outs = world.run([row("C", ej=ET3, et=ET3, password=GOOD_PW)])
    assert outs[0].code is Code.ERREUR
    assert outs[0].messages == (messages.not_referent(ET3),)
    assert world.scalar("SELECT count(*) FROM account") == 0
    assert world.scalar("SELECT count(*) FROM team") == 0


# --- C ----------------------------------------------------------------------------------------


def test_create_account_profile_team_audit_and_directory_changes(world: World) -> None:
    result, outs = world.run(
        [row("C", team="Urgences", role="CDC4", password=GOOD_PW, email="c.martin@aphp.mssante.fr")]
    )
    assert result.status is RunStatus.DONE
    assert codes(outs) == [(2, "OK")]
    (acc,) = world.rows(
        "SELECT key, doctor, nom, prenom, email, password_hash, locked FROM account"
    )
    assert acc[:5] == ("cmartin", False, "Martin", "Claire", "c.martin@aphp.mssante.fr")
    assert acc[5].startswith("{ARGON2}$argon2id$") and verify(acc[5], GOOD_PW)
    assert acc[6] is False or acc[6] == 0
    assert world.rows("SELECT role, state FROM profile") == [("CDC4", "active")]
    assert world.rows("SELECT name FROM team") == [("Urgences",)]
    assert sorted(world.rows("SELECT kind, key FROM directory_change")) == [
        ("account", "cmartin"),
        ("establishment", ET1),
    ]
    audits = world.rows("SELECT actor, line, action, changes FROM audit ORDER BY id")
    assert [(a[0], a[1], a[2]) for a in audits] == [
        (REFERENT, 2, "account.create"),
        (REFERENT, 2, "team.create"),
        (REFERENT, 2, "profile.create"),
    ]
    assert GOOD_PW not in str(audits)
    assert '"password": "changed"' in str(audits[0][3]) or "'password': 'changed'" in str(
        audits[0][3]
    )


def test_create_twice_is_erreur_profile_exists(world: World) -> None:
    _, outs = world.run([row("C", password=GOOD_PW), row("C", password=GOOD_PW)])
    assert codes(outs) == [(2, "OK"), (3, "ERREUR")]
    assert outs[1].messages == (messages.PROFILE_EXISTS,)
    assert world.scalar("SELECT count(*) FROM profile") == 1


def test_create_without_password_for_a_new_account_is_erreur(world: World) -> None:
    _, outs = world.run([row("C")])
    assert outs[0].code is Code.ERREUR
    assert outs[0].messages == (messages.password_required("cmartin"),)
    assert world.scalar("SELECT count(*) FROM account") == 0


def test_second_profile_of_a_known_account_needs_no_password(world: World) -> None:
    _, outs = world.run([row("C", password=GOOD_PW), row("C", role="SYNT")])
    assert codes(outs) == [(2, "OK"), (3, "OK")]
    assert world.scalar("SELECT count(*) FROM account") == 1
    assert world.scalar("SELECT count(*) FROM profile") == 2


def test_password_on_a_known_unexpired_account_is_ignored_with_alerte(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("C", role="SYNT", password=OTHER_PW)])
    assert outs[0].code is Code.ALERTE
    assert outs[0].messages == (messages.PASSWORD_IGNORED,)
    assert world.scalar("SELECT count(*) FROM profile") == 2
    assert verify(world.scalar("SELECT password_hash FROM account"), GOOD_PW)


def test_password_on_an_expired_account_is_applied(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    _, outs = world.run([row("M", password=OTHER_PW)])
    assert codes(outs) == [(2, "OK")]
    assert verify(world.scalar("SELECT password_hash FROM account"), OTHER_PW)
    (changes,) = world.rows("SELECT changes FROM audit WHERE action = 'account.update'")[0]
    assert "changed" in str(changes) and OTHER_PW not in str(changes)


def test_expired_password_replacement_must_pass_the_policy(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    # Contains the Nom: refused by the policy, so the line is not applied at all.
    _, outs = world.run([row("M", email="c@mssante.fr", password="Martin-Horse-42")])
    assert outs[0].code is Code.ERREUR
    assert outs[0].messages  # the rules' own message, asserted in their tests
    assert verify(world.scalar("SELECT password_hash FROM account"), GOOD_PW)
    assert world.scalar("SELECT email FROM account") is None


def test_identifiant_of_another_person_is_erreur(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("C", "Bernard", "Luc", role="SYNT", password=OTHER_PW)])
    assert outs[0].code is Code.ERREUR
    assert outs[0].messages == (messages.identifiant_taken("cmartin"),)
    assert world.scalar("SELECT count(*) FROM profile") == 1


def test_same_person_matched_case_and_accent_insensitively(world: World) -> None:
    world.run([row("C", "Lefèvre", "Élodie", ident="elef", password=GOOD_PW)])
    _, outs = world.run([row("C", "LEFEVRE", "elodie", ident="elef", role="SYNT")])
    assert codes(outs) == [(2, "OK")]
    # C never renames: the stored spelling stays.
    assert world.rows("SELECT nom, prenom FROM account") == [("Lefèvre", "Élodie")]


def test_doctor_known_by_rpps_names_differ_alerte(world: World) -> None:
    world.run([doctor("C", password=GOOD_PW)])
    _, outs = world.run([doctor("C", nom="Durant", role="CDC3E", team="Urgences")])
    assert outs[0].code is Code.ALERTE
    assert outs[0].messages == (messages.DOCTOR_NAMES_IGNORED,)
    assert world.rows("SELECT nom FROM account") == [("Durand",)]
    assert world.scalar("SELECT count(*) FROM profile") == 2


def test_email_of_a_known_account_is_updated_on_c(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("C", role="SYNT", email="cm@aphp.mssante.fr")])
    assert codes(outs) == [(2, "OK")]
    assert world.scalar("SELECT email FROM account") == "cm@aphp.mssante.fr"


def test_c_with_a_future_debut_is_pending_and_the_account_locked(world: World) -> None:
    world.run([row("C", password=GOOD_PW, debut="01/04/2026")])
    assert world.rows("SELECT state FROM profile") == [("pending",)]
    assert world.scalar("SELECT locked FROM account") in (True, 1)


# --- M ----------------------------------------------------------------------------------------


def test_modify_missing_profile_is_erreur(world: World) -> None:
    _, outs = world.run([row("M", email="c@mssante.fr")])
    assert outs[0].code is Code.ERREUR
    assert outs[0].messages == (messages.PROFILE_MISSING_M,)


def test_modify_updates_names_email_dates(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run(
        [row("M", "Martin-Roy", "Claire", email="cmr@mssante.fr", fin="31/12/2026")]
    )
    assert codes(outs) == [(2, "OK")]
    assert world.rows("SELECT nom, email FROM account") == [("Martin-Roy", "cmr@mssante.fr")]
    assert [str(r[0]) for r in world.rows("SELECT fin FROM profile")] == ["2026-12-31"]


def test_modify_identical_line_writes_nothing(world: World) -> None:
    world.run([row("C", password=GOOD_PW, email="cm@mssante.fr", fin="31/12/2026")])
    before = (
        world.rows("SELECT * FROM account"),
        world.rows("SELECT * FROM profile"),
        world.scalar("SELECT count(*) FROM audit"),
        world.scalar("SELECT count(*) FROM directory_change"),
    )
    world.clock.advance(timedelta(hours=1))
    _, outs = world.run([row("M", email="cm@mssante.fr", fin="31/12/2026"), row("M")])
    assert codes(outs) == [(2, "OK"), (3, "OK")]
    after = (
        world.rows("SELECT * FROM account"),
        world.rows("SELECT * FROM profile"),
        world.scalar("SELECT count(*) FROM audit"),
        world.scalar("SELECT count(*) FROM directory_change"),
    )
    assert after == before


def test_identical_m_leaves_a_stale_state_to_the_jobs(world: World) -> None:
    world.run([row("C", password=GOOD_PW, debut="01/04/2026")])
    world.clock.advance(timedelta(days=30))  # début passed; the validity job has not run
    audits = world.scalar("SELECT count(*) FROM audit")
    _, outs = world.run([row("M", debut="01/04/2026")])
    assert outs[0].code is Code.OK
    assert world.rows("SELECT state FROM profile") == [("pending",)]
    assert world.scalar("SELECT count(*) FROM audit") == audits
    _, outs = world.run([row("M", fin="31/12/2026")])  # a real change recomputes the state
    assert world.rows("SELECT state FROM profile") == [("active",)]
    assert world.scalar("SELECT locked FROM account") in (False, 0)


def test_modify_doctor_names_ignored_with_alerte(world: World) -> None:
    world.run([doctor("C", password=GOOD_PW)])
    _, outs = world.run([doctor("M", nom="Autre", email="pd@mssante.fr")])
    assert outs[0].code is Code.ALERTE
    assert outs[0].messages == (messages.DOCTOR_NAMES_IGNORED,)
    assert world.rows("SELECT nom, email FROM account") == [("Durand", "pd@mssante.fr")]


def test_modify_password_not_expired_is_ignored_with_alerte(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("M", password=OTHER_PW)])
    assert outs[0].code is Code.ALERTE
    assert outs[0].messages == (messages.PASSWORD_IGNORED,)
    assert verify(world.scalar("SELECT password_hash FROM account"), GOOD_PW)


def test_modify_fin_before_stored_debut_is_erreur(world: World) -> None:
    world.run([row("C", password=GOOD_PW, debut="01/04/2026")])
    _, outs = world.run([row("M", fin="20/03/2026")])
    assert outs[0].code is Code.ERREUR
    assert outs[0].messages == (messages.fin_before_debut_stored("20/03/2026", "01/04/2026"),)


def test_modify_fin_in_the_past_ends_the_profile_and_locks(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("M", fin="14/03/2026")])
    assert codes(outs) == [(2, "OK")]
    assert world.rows("SELECT state FROM profile") == [("ended",)]
    assert world.scalar("SELECT locked FROM account") in (True, 1)


# --- S ----------------------------------------------------------------------------------------


def test_delete_missing_profile_is_erreur(world: World) -> None:
    _, outs = world.run([row("S")])
    assert outs[0].code is Code.ERREUR
    assert outs[0].messages == (messages.PROFILE_MISSING_S,)


def test_delete_keeps_account_and_team_and_locks_the_account(world: World) -> None:
    world.run([row("C", role="CDC4", team="Bloc", password=GOOD_PW)])
    _, outs = world.run([row("S", role="CDC4", team="Bloc")])
    assert codes(outs) == [(2, "OK")]
    assert world.rows("SELECT state FROM profile") == [("deleted",)]
    assert world.scalar("SELECT locked FROM account") in (True, 1)
    assert world.scalar("SELECT count(*) FROM team") == 1
    assert world.scalar("SELECT count(*) FROM directory_change WHERE kind = 'account'") == 2


def test_delete_one_of_two_profiles_keeps_the_account_unlocked(world: World) -> None:
    world.run([row("C", password=GOOD_PW), row("C", role="SYNT")])
    world.run([row("S", role="SYNT")])
    assert world.scalar("SELECT locked FROM account") in (False, 0)


def test_delete_twice_is_erreur(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([row("S"), row("S")])
    assert codes(outs) == [(2, "OK"), (3, "ERREUR")]
    assert outs[1].messages == (messages.PROFILE_MISSING_S,)


# --- one file, several lines on one profile --------------------------------------------------


def test_c_s_c_in_one_file_revives_the_same_profile(world: World) -> None:
    _, outs = world.run(
        [row("C", password=GOOD_PW), row("S"), row("C", fin="31/12/2026"), row("M", fin="")]
    )
    assert codes(outs) == [(2, "OK"), (3, "OK"), (4, "OK"), (5, "OK")]
    assert [(r[0], str(r[1])) for r in world.rows("SELECT state, fin FROM profile")] == [
        ("active", "2026-12-31")
    ]
    assert world.scalar("SELECT locked FROM account") in (False, 0)


def test_lines_see_earlier_lines_across_batches(db_url: str, tmp_path: Path) -> None:
    settings = fast_settings(tmp_path).with_overrides(database={"batch_size": 2})
    w = World(db_url, tmp_path, settings)
    try:
        _, outs = w.run(
            [row("C", password=GOOD_PW), row("S"), row("S"), row("C"), row("C", password=GOOD_PW)]
        )
        assert codes(outs) == [(2, "OK"), (3, "OK"), (4, "ERREUR"), (5, "OK"), (6, "ERREUR")]
        assert outs[4].messages == (messages.PROFILE_EXISTS,)
    finally:
        w.close()


def test_stateless_errors_are_reported_and_not_applied(world: World) -> None:
    _, outs = world.run([row("C", password=GOOD_PW, role="XYZ"), row("C", password=GOOD_PW)])
    assert codes(outs) == [(2, "ERREUR"), (3, "OK")]
    assert world.scalar("SELECT count(*) FROM profile") == 1


# --- the mass-delete safeguard ----------------------------------------------------------------


def _people(n: int) -> list[list[str]]:
    return [row("C", f"Nom{letters(i)}", "Pré", ident=f"u{i}", password=GOOD_PW) for i in range(n)]


def test_mass_delete_waits_for_approval_then_applies(world: World) -> None:
    world.run(_people(40))
    deletes = [row("S", f"Nom{letters(i)}", "Pré", ident=f"u{i}") for i in range(12)]
    result, outs = world.run(deletes)
    assert result.status is RunStatus.AWAITING_APPROVAL
    assert outs == []
    assert result.reason == messages.awaiting_approval(
        result.run_id, messages.deletion_share(12, 40, ET1)
    )
    assert "profilesync approve" in result.reason
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 0
    # Not an ERREUR: the file waits (issue 10); the real report replaces this one.
    lines = result.report_path.read_bytes().decode("utf-8-sig").split("\r\n")
    assert lines[1].split(";")[:2] == ["0", "ATTENTE"]
    assert len(lines) == 3 and lines[2] == ""

    from profilesync.store.importer import approve_run

    approved = approve_run(
        result.run_id,
        approver="operateur",
        settings=world.settings,
        session_factory=world.sf,
        clock=world.clock,
    )
    assert approved.status is RunStatus.DONE
    assert approved.summary.ok == 12
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 12
    assert world.scalar("SELECT approved_by FROM import_run WHERE id = :i", i=result.run_id) == (
        "operateur"
    )
    assert [(o.line, o.code) for o in read_report(approved.report_path)] == [
        (n, Code.OK) for n in range(2, 14)
    ]


def test_deletes_in_an_et_not_the_submitters_do_not_hold_the_file(world: World) -> None:
    deletes = [
        row("S", f"Nom{letters(i)}", "Pré", ident=f"u{i}", ej=ET3, et=ET3) for i in range(12)
    ]
    result, outs = world.run(deletes)
    assert result.status is RunStatus.DONE
    assert {o.messages for o in outs} == {(messages.not_referent(ET3),)}


def test_few_deletes_below_the_minimum_apply_at_once(world: World) -> None:
    world.run(_people(12))
    result, _ = world.run([row("S", f"Nom{letters(i)}", "Pré", ident=f"u{i}") for i in range(9)])
    assert result.status is RunStatus.DONE  # 9 > 25 % of 12 but fewer than 10


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_reports_like_a_real_run_and_changes_nothing(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    rows_ = [row("C", "Petit", "Léo", ident="lpetit", password=GOOD_PW), row("S"), row("S")]
    before = world.scalar("SELECT count(*) FROM import_run"), world.rows("SELECT * FROM profile")
    dry, _ = world.run(rows_, dry_run=True, report_path=world.tmp / "dry.csv")
    assert dry.run_id is None
    after = world.scalar("SELECT count(*) FROM import_run"), world.rows("SELECT * FROM profile")
    assert after == before
    assert world.scalar("SELECT count(*) FROM audit") == 2
    real, _ = world.run(rows_, report_path=world.tmp / "real.csv")
    assert (world.tmp / "dry.csv").read_bytes() == (world.tmp / "real.csv").read_bytes()
    assert (dry.summary, real.summary) == (real.summary, dry.summary)
    assert real.summary.erreur == 1
