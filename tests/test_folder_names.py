"""Inbox folder names match logins exactly (SPEC §6): a folder that only resembles a login
gets no référent's rights, and makes no folder appear in the outbox.

Through the daemon's burst mode on both engines. The référent is `aref`.
"""

from __future__ import annotations

import pytest

from daemonkit import REFERENT, Inbox, account_row, report_rows

STAMP = "2026-03-15_11h00"  # daemonkit's FixedClock, 2026-03-15 10:00 UTC, in Paris time


def refused(login: str) -> str:
    return (
        f"Fichier refusé : « {login} » n'est l'identifiant d'aucun référent enregistré. "
        "Déposez le fichier dans votre propre dossier (celui qui porte exactement votre "
        "identifiant) ; si vous n'en avez pas, demandez à votre équipe informatique de vous "
        "enregistrer comme référent."
    )


@pytest.mark.parametrize("folder", ["AREF", "Aref", "aref ", " aref", "aref\u200b", "inconnu"])
def test_a_folder_that_only_resembles_a_login_is_a_stranger(box: Inbox, folder: str) -> None:
    box.drop("x.csv", [account_row(1)], login=folder)
    [done] = box.settle().files
    assert done.status == "rejected"
    assert box.scalar("SELECT count(*) FROM account") == 0
    assert box.scalar("SELECT count(*) FROM audit") == 0
    # No outbox folder appears for it (the only file of the outbox is the real référent's
    # template); the report is kept for the operator.
    assert sorted(p.relative_to(box.outbox).as_posix() for p in box.outbox.rglob("*")) == [
        REFERENT,
        f"{REFERENT}/modele.csv",
    ]
    [report] = (box.state / "strangers" / folder).glob("*.rapport.csv")
    assert report.name == f"x.{STAMP}.rapport.csv"
    rows = report_rows(report)
    assert rows[1][:3] == ["0", "ERREUR", refused(folder)]
    assert len(rows) == 2
    assert not list((box.inbox / folder).glob("*.csv"))  # moved out of the inbox


def test_the_exact_login_folder_works(box: Inbox) -> None:
    box.drop("x.csv", [account_row(1)], login=REFERENT)
    [done] = box.settle().files
    assert done.status == "done"
    [report] = box.reports(REFERENT)
    assert report_rows(report)[1][:2] == ["2", "OK"]
    assert not (box.state / "strangers").exists()


def test_an_outbox_folder_the_operator_made_receives_the_refusal(box: Inbox) -> None:
    """A référent whose folders exist but who is not registered yet reads why."""
    (box.outbox / "nouveau").mkdir(parents=True)
    box.drop("x.csv", [account_row(1)], login="nouveau")
    box.settle()
    [report] = box.reports("nouveau")
    assert report_rows(report)[1][:3] == ["0", "ERREUR", refused("nouveau")]


def test_a_warning_names_the_folder(box: Inbox, caplog: pytest.LogCaptureFixture) -> None:
    box.drop("x.csv", [account_row(1)], login="AREF")
    with caplog.at_level("WARNING", logger="profilesync.service.claim"):
        box.settle()
    assert any("inbox/AREF/" in r.getMessage() for r in caplog.records)
