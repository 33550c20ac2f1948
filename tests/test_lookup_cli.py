"""`person show|find`, `team list`, `establishment show`, `runs --as/--status/--since`.

Issue 11.1, through the real CLI on SQLite and PostgreSQL, with data made by real imports
(importkit's World: two establishments of the référent `aref`, clock at 2026-03-15). The
directory part against a real slapd is in test_lookup_ldap.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import Result

from clikit import run_cli, write_config
from importkit import (
    EJ2,
    ET1,
    ET2,
    GOOD_PW,
    OTHER_PW,
    REFERENT,
    World,
    doctor,
    fast_settings,
    row,
    rpps,
)

CLAIRE = "e.lefevre@aphp.mssante.fr"
KEY = "elefevre"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    w.run(
        [
            # a pending profile: the account is locked until 01/04/2026
            row(
                "C",
                "Lefèvre",
                "Élodie",
                ident="elefevre",
                password=GOOD_PW,
                team="Urgences",
                email=CLAIRE,
                debut="01/04/2026",
            ),
            doctor("C", password=GOOD_PW),
            row("C", "O'Brien", "Seán", ident="s_obrien", password=GOOD_PW, role="SYNT"),
            row("C", "Martin", "Léa", ident="lmartin", password=GOOD_PW, et=ET2, ej=EJ2),
        ]
    )
    w.run([row("M", "Lefèvre", "Élodie", ident="elefevre", team="Urgences", fin="30/06/2027")])
    yield w
    w.close()


def cli(world: World, *args: str) -> Result:
    return run_cli(*args, config=write_config(world.tmp, database={"url": world.url}))


def test_person_show_answers_why_she_cannot_log_in(world: World) -> None:
    result = cli(world, "person", "show", "elefevre")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "Élodie Lefèvre (elefevre, non-doctor)",
        f"  email:     {CLAIRE}",
        "  password:  set 2026-03-15 11:00 CET (expired, not yet written to the directory)",
        "  locked:    yes: no active profile (1 à venir); unlocks on 2026-04-01, "
        "when a profile starts",
        "profiles (1):",
        "  750100125 Pitié  CDC1 (Collaborateur partie administrative)  team: Urgences"
        "  à venir  01/04/2026 → 30/06/2027",
    ]
    assert "directory: not configured ([ldap] url is empty); changes queue up" in lines
    assert lines[-3:] == [
        "last runs that touched it (2):",
        "  #2 2026-03-15 11:00 CET aref f2.csv done",
        "  #1 2026-03-15 11:00 CET aref f1.csv done",
    ]
    assert "directory changes queued (2):" in lines


def test_person_show_lists_her_lines_that_were_refused_or_warned(world: World) -> None:
    """A refused line leaves no audit row; it is often the answer to the call."""
    world.run(
        [
            row("C", "Lefèvre", "Élodie", ident=KEY, password=GOOD_PW, team="Urgences"),
            row("M", "Lefèvre", "Élodie", ident=KEY.upper(), team="Urgences", password=OTHER_PW),
            row("C", "Petit", "Noé", ident="npetit", password=GOOD_PW),
        ]
    )
    result = cli(world, "person", "show", KEY)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-3:] == [
        "lines naming it not applied as such, latest runs (2):",
        "  #3 aref f3.csv line 2 ERREUR: Ce profil existe déjà (même compte, établissement, "
        "rôle et équipe) : utilisez M pour le modifier.",
        "  #3 aref f3.csv line 3 ALERTE: Mot de passe ignoré : celui du compte n'a pas expiré.",
    ]
    assert "  #3 " not in result.stdout.split("last runs that touched it")[1].split("lines")[0]
    assert OTHER_PW not in result.stdout and GOOD_PW not in result.stdout
    flagged = json.loads(cli(world, "person", "show", KEY, "--json").stdout)["flagged"]
    assert [(f["run_id"], f["line"], f["code"]) for f in flagged] == [
        (3, 2, "ERREUR"),
        (3, 3, "ALERTE"),
    ]


def test_person_show_never_prints_the_password_nor_its_hash(world: World) -> None:
    stored = world.scalar("SELECT password_hash FROM account WHERE key = 'elefevre'")
    assert stored.startswith("{ARGON2}")
    for args in (("elefevre",), ("elefevre", "--json")):
        result = cli(world, "person", "show", *args)
        out = result.stdout + result.stderr
        assert stored not in out and GOOD_PW not in out and "ARGON2" not in out


def test_person_show_json_for_scripts_and_a_doctor_by_rpps(world: World) -> None:
    result = cli(world, "person", "show", rpps(1), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["key"], data["rpps"], data["doctor"], data["locked"]) == (
        rpps(1),
        rpps(1),
        True,
        False,
    )
    assert data["profiles"] == [
        {
            "et": ET1,
            "establishment": "Pitié",
            "team": None,
            "role": "CDC3D",
            "role_label": "Médecin déclarant (sans équipe)",
            "state": "active",
            "state_label": "actif",
            "debut": None,
            "fin": None,
        }
    ]
    assert data["directory"]["status"] == "not-configured"
    assert [r["id"] for r in data["runs"]] == [1]
    assert "password_hash" not in result.stdout


def test_unknown_person_is_one_line_and_exit_1(world: World) -> None:
    result = cli(world, "person", "show", "nobody")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: no account has the Identifiant or RPPS 'nobody'\n"


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("LEFEVRE", ["elefevre"]),  # case and accents ignored
        ("élodie lef", ["elefevre"]),  # prénom then nom
        ("lefèvre  élodie", ["elefevre"]),  # nom then prénom, spaces as typed
        ("aphp.mssante", ["elefevre"]),  # email
        ("o'brien", ["s_obrien"]),  # an apostrophe is a character
        ("_", ["s_obrien"]),  # not SQL's any-character
        ("seán", ["s_obrien"]),
        ("MART", ["lmartin"]),
    ],
)
def test_person_find_is_case_and_accent_blind(world: World, text: str, keys: list[str]) -> None:
    result = cli(world, "person", "find", text, "--json")
    assert result.exit_code == 0, result.stderr
    assert [p["key"] for p in json.loads(result.stdout)["people"]] == keys


@pytest.mark.parametrize("text", ["*)(uid=*", "%", "*", "' OR '1'='1", "%_%", "\\"])
def test_person_find_takes_metacharacters_literally(world: World, text: str) -> None:
    result = cli(world, "person", "find", text)
    assert result.exit_code == 1
    assert result.stdout == f"no person matches {text!r}\n"


def test_person_find_text_table_and_limit(world: World) -> None:
    # "e": Lefèvre, Martin Léa, O'Brien Seán; not Durand Paul (nor his RPPS)
    result = cli(world, "person", "find", "e", "--limit", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "KEY       NOM      PRENOM  EMAIL                      LOCKED",
        f"elefevre  Lefèvre  Élodie  {CLAIRE}  yes",
        "lmartin   Martin   Léa     -                          no",
        "3 people match, 2 shown: narrow the text or --limit",
    ]


def test_person_find_refuses_an_empty_text(world: World) -> None:
    result = cli(world, "person", "find", "  ")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: give some text to look for")


def test_establishment_show_counts_by_role_and_state(world: World) -> None:
    result = cli(world, "establishment", "show", ET1)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "750100125 Pitié (EJ 750712184)",
        f"  référents: {REFERENT}",
        "  teams: 1   accounts: 3",
    ]
    assert result.stdout.splitlines()[-4:] == [
        "  ROLE   PROFILES",
        "  CDC1   1 à venir",
        "  CDC3D  1 actif",
        "  SYNT   1 actif",
    ]
    data = json.loads(cli(world, "establishment", "show", ET1, "--json").stdout)
    assert data["counts"] == {
        "CDC1": {"pending": 1},
        "CDC3D": {"active": 1},
        "SYNT": {"active": 1},
    }
    assert data["referents"] == [REFERENT]


def test_establishment_show_of_an_unknown_et(world: World) -> None:
    result = cli(world, "establishment", "show", "010008407")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: establishment 010008407 is not registered")


def test_team_list(world: World) -> None:
    result = cli(world, "team", "list", "--et", ET1)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["TEAM      PROFILES", "Urgences  1 à venir"]
    assert cli(world, "team", "list", "--et", ET2).stdout == "no team\n"
    data = json.loads(cli(world, "team", "list", "--et", ET1, "--json").stdout)
    assert [(t["name"], t["states"]) for t in data] == [("Urgences", {"pending": 1})]


def test_runs_filters(world: World) -> None:
    world.add_referent("bref", ET2)
    world.run([row("C", "Petit", "Noé", ident="npetit", et=ET2, ej=EJ2)], submitter="bref")

    def ids(*args: str) -> list[int]:
        result = cli(world, "runs", "--json", *args)
        assert result.exit_code == 0, result.stderr
        return [r["id"] for r in json.loads(result.stdout)]

    assert ids() == [3, 2, 1]
    assert ids("--as", "BREF") == [3]
    assert ids("--as", REFERENT, "--status", "done") == [2, 1]
    assert ids("--since", "2026-03-15") == [3, 2, 1]
    assert ids("--since", "16/03/2026") == []
    assert ids("--since", "2026-03-15T11:00") == [3, 2, 1]  # 11:00 CET is 10:00 UTC
    assert ids("--since", "2026-03-15T10:00:01Z") == []


def test_runs_rejects_a_bad_status_or_date(world: World) -> None:
    bad = cli(world, "runs", "--status", "finished")
    assert bad.exit_code == 2
    assert "--status 'finished': one of claimed, running" in bad.stderr
    bad = cli(world, "runs", "--since", "yesterday")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: --since 'yesterday': give a date")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (("person", "show"), "Everything about one person"),
        (("person", "find"), "Find people by a fragment"),
        (("team", "list"), "The teams of an establishment"),
        (("establishment", "show"), "An establishment: its référents"),
        (("audit",), "Who changed what, when, from which file and line"),
        (("runs",), "--since"),
    ],
)
def test_every_lookup_command_has_help(command: tuple[str, ...], says: str) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0
    assert says in " ".join(result.stdout.split())


def test_person_show_says_a_parked_change_and_its_error(world: World) -> None:
    error = "65 objectClassViolation: attribute 'mail' not allowed"
    with world.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE directory_change SET parked = :t, attempts = 3, last_error = :e "
                "WHERE key = :k AND run_id = 1"
            ),
            {"t": True, "e": error, "k": KEY},
        )
    result = cli(world, "person", "show", KEY)
    lines = result.stdout.splitlines()
    i = lines.index("directory changes queued (2):")
    assert lines[i + 1] == f"  #2 parked, 3 attempt(s), next 2026-03-15 11:00 CET: {error}"
    assert lines[i + 2].startswith("  #") and " due, 0 attempt(s)" in lines[i + 2]
    queued = json.loads(cli(world, "person", "show", KEY, "--json").stdout)["queued"]
    assert [(q["status"], q["last_error"]) for q in queued] == [("parked", error), ("due", None)]
