"""Issue 10.3: the Message column of an applied line says what was done, through the CLI.

Every expected text is the guide's (docs/guide-referent.md, « Ce que dit le rapport »).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clikit import run_cli, write_config
from daemonkit import Inbox, account_row, report_rows
from importkit import GOOD_PW, OTHER_PW, REFERENT, World, doctor, fast_settings, row
from profilesync.fileformat.report import read_report


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def imported(world: World, rows: list[list[str]]) -> list[tuple[int, str, str]]:
    """`profilesync import` of `rows`; the report's (Ligne, Code, Message)."""
    path = world.csv(rows)
    report = world.tmp / f"{path.stem}.report.csv"
    config = write_config(world.tmp, database={"url": world.url})
    res = run_cli("import", str(path), "--as", REFERENT, "--report", str(report), config=config)
    assert res.exit_code in {0, 1}, res.output
    return [(o.line, o.code.value, " | ".join(o.messages)) for o in read_report(report)]


def test_each_action_says_what_it_did(world: World) -> None:
    assert imported(
        world,
        [
            row("C", password=GOOD_PW),
            row("C", role="CDC4", team="Urgences"),
            doctor("C", password=GOOD_PW, role="CDC3E", team="urgences"),
        ],
    ) == [
        (2, "OK", "Compte créé"),
        (3, "OK", "Profil ajouté au compte existant | Équipe créée"),
        (4, "OK", "Compte créé"),
    ]
    assert imported(
        world,
        [
            row("M", "Martin", "Claire"),
            row("M", "Martin-Dubois", "Claire", email="c.martin@aphp.mssante.fr"),
            row("M", "Martin-Dubois", "Claire-Marie", debut="01/01/2026", fin="31/12/2026"),
            row("S", "Martin-Dubois", "Claire-Marie", role="CDC4", team="URGENCES"),
            doctor("M", role="CDC3E", team="Urgences", email="p.durand@mssante.fr"),
        ],
    ) == [
        (2, "OK", "Aucun changement"),
        (3, "OK", "Nom modifié | Email modifié"),
        (4, "OK", "Prénom modifié | Date de début modifiée | Date de fin modifiée"),
        (5, "OK", "Profil supprimé"),
        (6, "OK", "Email modifié"),
    ]


def test_a_deleted_profile_created_again_says_so(world: World) -> None:
    imported(world, [row("C", password=GOOD_PW), row("C", role="SYNT")])
    assert imported(world, [row("S"), row("C")]) == [
        (2, "OK", "Profil supprimé"),
        (3, "OK", "Profil recréé (il avait été supprimé)"),
    ]


def test_an_ignored_field_is_alerte_and_still_says_what_was_done(world: World) -> None:
    """ALERTE only when a field was ignored (the seed's codes): what was done comes first."""
    imported(world, [row("C", password=GOOD_PW)])
    assert imported(world, [row("M", password=OTHER_PW, fin="31/12/2026")]) == [
        (
            2,
            "ALERTE",
            "Date de fin modifiée | Mot de passe ignoré : celui du compte n'a pas expiré.",
        ),
    ]


def test_an_erreur_line_gets_no_note(world: World) -> None:
    """Abuse: a refused line must not read as if something had been done."""
    assert imported(world, [row("M"), row("S"), row("C")]) == [
        (
            2,
            "ERREUR",
            "Ce profil n'existe pas (aucun profil de ce compte avec ce rôle et cette équipe dans "
            "cet établissement) : vérifiez le rôle, l'équipe et l'identifiant ; pour un "
            "nouveau profil, utilisez C.",
        ),
        (3, "ERREUR", "Ce profil n'existe pas ou est déjà supprimé : rien à supprimer."),
        (
            4,
            "ERREUR",
            "Mot de passe obligatoire : le compte cmartin n'existe pas encore, "
            "il en faut un pour le créer.",
        ),
    ]
    assert world.scalar("SELECT count(*) FROM profile") == 0


def test_dry_run_says_the_same_and_changes_nothing(world: World) -> None:
    """Fault side: the notes of a dry run are the real run's, and nothing is written."""
    path = world.csv([row("C", password=GOOD_PW), row("M", email="c@aphp.mssante.fr")])
    config = write_config(world.tmp, database={"url": world.url})
    report = world.tmp / "dry.csv"
    res = run_cli(
        "import", str(path), "--as", REFERENT, "--dry-run", "--report", str(report), config=config
    )
    assert res.exit_code == 0, res.output
    assert [(o.code.value, o.messages) for o in read_report(report)] == [
        ("OK", ("Compte créé",)),
        ("OK", ("Email modifié",)),
    ]
    assert world.scalar("SELECT count(*) FROM account") == 0


def test_the_daemon_s_report_says_what_was_done(box: Inbox) -> None:
    """Through the daemon: a file dropped, the outbox read."""
    box.drop("profils.csv", [account_row(1), account_row(1, role="SYNT", password="")])
    box.settle()
    first_row = account_row(1)
    user1 = {"nom": first_row[4], "prenom": first_row[5], "ident": "user1"}
    box.drop("suite.csv", [row("M", email="u1@mssante.fr", **user1), row("S", **user1)])
    box.settle()
    [first] = [r for r in box.reports() if r.name.startswith("profils.")]
    [second] = [r for r in box.reports() if r.name.startswith("suite.")]
    assert [r[:3] for r in report_rows(first)[1:]] == [
        ["2", "OK", "Compte créé"],
        ["3", "OK", "Profil ajouté au compte existant"],
    ]
    assert [r[:3] for r in report_rows(second)[1:]] == [
        ["2", "OK", "Email modifié"],
        ["3", "OK", "Profil supprimé"],
    ]
