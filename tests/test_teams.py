"""Issue 10.4: a team is one whatever its case, accents and spaces; the first spelling stays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clikit import run_cli, write_config
from importkit import EJ1, ET1, ET3, GOOD_PW, REFERENT, World, doctor, fast_settings, row
from profilesync.fileformat.report import read_report
from profilesync.store import db


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def imported(world: World, rows: list[list[str]], login: str = REFERENT) -> list[tuple[str, str]]:
    path = world.csv(rows)
    report = world.tmp / f"{path.stem}.report.csv"
    config = write_config(world.tmp, database={"url": world.url})
    res = run_cli("import", str(path), "--as", login, "--report", str(report), config=config)
    assert res.exit_code in {0, 1}, res.output
    return [(o.code.value, " | ".join(o.messages)) for o in read_report(report)]


def teams(world: World) -> list[tuple[str, str]]:
    return world.rows(
        "SELECT e.et, t.name FROM team t JOIN establishment e ON e.id = t.establishment_id "
        "ORDER BY t.id"
    )


def test_spellings_of_one_team_are_one_team(world: World) -> None:
    """Abuse: three spellings in one file make one team, named as first written."""
    assert imported(
        world,
        [
            row("C", role="CDC4", team="Urgences", password=GOOD_PW),
            doctor("C", role="CDC3E", team="URGENCES", password=GOOD_PW),
            doctor("C", 2, role="CDC3E", team="  urgences   ", password=GOOD_PW),
            doctor("C", 3, role="CDC3A", team="Urgénces", password=GOOD_PW),
        ],
    ) == [
        ("OK", "Compte créé | Équipe créée"),
        ("OK", "Compte créé"),
        ("OK", "Compte créé"),
        ("OK", "Compte créé"),
    ]
    assert teams(world) == [(ET1, "Urgences")]
    assert world.scalar("SELECT count(DISTINCT team_id) FROM profile") == 1


def test_an_m_or_s_with_another_spelling_finds_the_profile(world: World) -> None:
    imported(world, [row("C", role="CDC4", team="Soins intensifs", password=GOOD_PW)])
    assert imported(
        world,
        [
            row("M", role="CDC4", team="SOINS  INTENSIFS", fin="31/12/2026"),
            row("C", role="CDC4", team="soins intensifs"),
            row("S", role="CDC4", team="Soins Intensifs"),
        ],
    ) == [
        ("OK", "Date de fin modifiée"),
        (
            "ERREUR",
            "Ce profil existe déjà (même compte, établissement, rôle et équipe) : "
            "utilisez M pour le modifier.",
        ),
        ("OK", "Profil supprimé"),
    ]
    assert teams(world) == [(ET1, "Soins intensifs")]
    # The audit names the team as stored, whatever spelling the line used.
    assert world.rows(
        "SELECT action, entity_key FROM audit WHERE entity = 'profile' ORDER BY id"
    ) == [
        (action, f"cmartin/{ET1}/CDC4/Soins intensifs")
        for action in ("profile.create", "profile.update", "profile.delete")
    ]


def test_a_team_of_another_establishment_with_the_same_name_stays_apart(world: World) -> None:
    world.add_referent("both", ET1, ET3)
    assert imported(
        world,
        [
            row("C", role="CDC4", team="Urgences", password=GOOD_PW),
            row("C", role="CDC4", team="URGENCES", ej=ET3, et=ET3),
        ],
        login="both",
    ) == [
        ("OK", "Compte créé | Équipe créée"),
        ("OK", "Profil ajouté au compte existant | Équipe créée"),
    ]
    assert teams(world) == [(ET1, "Urgences"), (ET3, "URGENCES")]


def test_a_different_team_is_not_found(world: World) -> None:
    """Folding is not guessing: « Urgence » (singular) is another team."""
    imported(world, [row("C", role="CDC4", team="Urgences", password=GOOD_PW)])
    assert imported(world, [row("M", role="CDC4", team="Urgence")]) == [
        (
            "ERREUR",
            "Ce profil n'existe pas (aucun profil de ce compte avec ce rôle et cette équipe dans "
            "cet établissement) : vérifiez le rôle, l'équipe et l'identifiant ; pour un "
            "nouveau profil, utilisez C.",
        )
    ]


def test_the_migration_keys_existing_teams_and_keeps_clashing_ones_apart(
    empty_db_url: str,
) -> None:
    """Fault: a database where an older version made « Urgences » and « URGENCES » twice."""
    engine = db.make_engine(empty_db_url)
    try:
        db.upgrade(engine, "0005")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO establishment (id, ej, et, name, created_at) "
                    "VALUES (1, :ej, :et, 'A', '2026-01-01 00:00:00')"
                ),
                {"ej": EJ1, "et": ET1},
            )
            for team_id, name in [(1, "Urgences"), (2, "Pédiatrie"), (3, "URGENCES")]:
                conn.execute(
                    sa.text(
                        "INSERT INTO team (id, establishment_id, name, created_at) "
                        "VALUES (:i, 1, :n, '2026-01-01 00:00:00')"
                    ),
                    {"i": team_id, "n": name},
                )
        db.upgrade(engine)
        with engine.connect() as conn:
            keys = conn.execute(sa.text("SELECT id, name, key FROM team ORDER BY id")).all()
        assert [tuple(k) for k in keys] == [
            (1, "Urgences", "urgences"),
            (2, "Pédiatrie", "pediatrie"),
            (3, "URGENCES", "urgences#3"),
        ]
    finally:
        engine.dispose()


def test_a_team_name_that_folds_longer_than_the_column_still_works(world: World) -> None:
    """Abuse: 150 « ﬁ » ligatures fold to 300 letters, over the key column's 200."""
    assert imported(world, [row("C", role="CDC4", team="ﬁ" * 150, password=GOOD_PW)]) == [
        ("OK", "Compte créé | Équipe créée")
    ]
    assert imported(
        world, [row("M", role="CDC4", team="ﬁ" * 100 + "FI" * 50, fin="31/12/2026")]
    ) == [("OK", "Date de fin modifiée")]
    assert teams(world) == [(ET1, "ﬁ" * 150)]
