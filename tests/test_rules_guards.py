"""Edges of the stateless rules (fileformat/rules.py) that mutation testing found unpinned.

Issue 14. Every expectation comes from SPEC: dates inclusive (§3), cells beyond the 13th
must be empty (§2), an S line naming only a team (§4), an Identifiant ignored for a doctor
(§5), every problem of a line reported (§7) with its physical line number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from profilesync.config import PasswordSettings
from profilesync.fileformat import messages as msg
from profilesync.fileformat.lines import Checked
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.rules import check_row

TODAY = date(2026, 11, 26)
POLICY = PasswordSettings()
RPPS = "10100473148"  # a valid RPPS (Luhn over 11 digits)

# Finess EJ, Finess ET, équipe, action, Nom, Prénom, RPPS, Rôle, Identifiant, mot de passe,
# email, début, fin.
NON_DOCTOR = ("750712184", "750100125", "", "C", "Garnier", "Cécile", "", "CDC1", "cgarnier",
              "Un-Mot2Passe-Long", "", "", "")  # fmt: skip
DOCTOR = ("750712184", "750100125", "", "C", "Dupont", "Jean", RPPS, "CDC3D", "",
          "Tr3s-Secret-Pass!", "", "", "")  # fmt: skip
COLUMN = {name: i for i, name in enumerate(
    ("ej", "et", "team", "action", "nom", "prenom", "rpps", "role", "identifiant", "password",
     "email", "debut", "fin"))}  # fmt: skip


@dataclass(frozen=True)
class Row:
    number: int
    cells: tuple[str, ...]


def cells(base: tuple[str, ...] = NON_DOCTOR, **changes: str) -> tuple[str, ...]:
    out = list(base)
    for name, value in changes.items():
        out[COLUMN[name]] = value
    return tuple(out)


def check(row: tuple[str, ...], number: int = 7) -> Checked:
    return check_row(Row(number, row), TODAY, POLICY)


def messages(checked: Checked) -> list[str]:
    return [p.message for p in checked.problems]


# --- dates (SPEC §3: début inclusive from 00:00, fin inclusive up to the end of that day) --------


def test_fin_on_the_day_of_debut_is_a_one_day_profile() -> None:
    checked = check(cells(debut="01/12/2026", fin="01/12/2026"))
    assert checked.problems == ()
    assert checked.line is not None
    assert (checked.line.debut, checked.line.fin) == (date(2026, 12, 1), date(2026, 12, 1))


def test_fin_the_day_before_debut_is_refused() -> None:
    checked = check(cells(debut="02/12/2026", fin="01/12/2026"))
    assert messages(checked) == ["Date de fin : antérieure à la date de début"]


def test_a_create_ending_today_is_still_accepted() -> None:
    assert check(cells(fin="26/11/2026")).problems == ()


def test_a_create_that_ended_yesterday_is_refused() -> None:
    checked = check(cells(fin="25/11/2026"))
    assert [p.code for p in checked.problems] == [Code.ERREUR]
    assert "25/11/2026" in messages(checked)[0]


def test_a_create_ended_yesterday_on_its_first_day_says_only_that_it_ended() -> None:
    checked = check(cells(debut="25/11/2026", fin="25/11/2026"))
    assert messages(checked) == [msg.fin_past_on_create("25/11/2026")]


def test_a_create_ending_today_but_starting_tomorrow_says_only_fin_before_debut() -> None:
    checked = check(cells(debut="27/11/2026", fin="26/11/2026"))
    assert messages(checked) == ["Date de fin : antérieure à la date de début"]


def test_a_modify_may_set_a_fin_already_past() -> None:
    """Only C refuses a past fin: an M ending a profile yesterday is how one ends it."""
    checked = check(cells(action="M", password="", fin="25/11/2026"))
    assert checked.problems == ()


# --- cells beyond the 13th (SPEC §2) ------------------------------------------------------------


def test_a_fourteenth_cell_filled_behind_an_empty_fifteenth_is_refused() -> None:
    checked = check((*NON_DOCTOR, "décalé", ""))
    assert checked.line is None
    assert messages(checked) == [msg.extra_cells(14)]


def test_empty_cells_after_a_filled_fin_are_fine() -> None:
    checked = check((*cells(fin="31/12/2027"), ""))
    assert checked.problems == ()
    assert checked.line is not None and checked.line.fin == date(2027, 12, 31)


# --- shifted columns ------------------------------------------------------------------------------


def test_a_role_two_columns_left_says_two_columns() -> None:
    row = list(NON_DOCTOR)
    del row[5:7]  # Prénom and RPPS cells lost: the Rôle now sits two columns left
    checked = check((*row, "", ""))
    assert checked.line is None
    assert len(checked.problems) == 1
    assert "de 2 colonnes trop à gauche" in messages(checked)[0]


def test_a_shifted_role_written_in_mixed_case_is_recognised() -> None:
    row = list(cells(role="Cdc1"))
    row.insert(5, "Marie")  # a stray ';' inside the Prénom: the Rôle moves one right
    checked = check(tuple(row[:13]))
    assert "le Rôle est d'une colonne trop à droite" in messages(checked)[0]


# --- S line naming a team (SPEC §4) -------------------------------------------------------------


@pytest.mark.parametrize(
    "person",
    [{"nom": "Garnier"}, {"prenom": "Cécile"}, {"rpps": RPPS}, {"identifiant": "cgarnier"}],
)
def test_an_s_line_naming_a_person_is_not_a_team_deletion(person: dict[str, str]) -> None:
    blank = {"nom": "", "prenom": "", "rpps": "", "identifiant": "", "password": ""}
    checked = check(cells(**{**blank, **person}, team="Urgences", action="S", role="CDC4"))
    assert msg.TEAM_DELETION not in messages(checked)
    assert checked.line is None  # the person is incomplete: ERREUR for what is missing


def test_an_s_line_naming_only_a_team_is_a_team_deletion() -> None:
    blank = {"nom": "", "prenom": "", "rpps": "", "identifiant": "", "password": ""}
    checked = check(cells(**blank, team="Urgences", action="S", role="CDC4"))
    assert messages(checked) == [msg.TEAM_DELETION]


# --- every problem of the line, with its number (SPEC §7) --------------------------------------


def test_a_problem_in_a_name_keeps_the_problems_of_earlier_columns() -> None:
    for column in ("team", "nom", "prenom"):
        row = cells(role="CDC4", team="Urgences") if column == "team" else cells()
        checked = check(cells(row, ej="", **{column: "A\u200bB"}))
        assert messages(checked)[0] == msg.required("Finess EJ")
        assert len(checked.problems) == 2, column


def test_a_refused_row_keeps_its_line_number() -> None:
    checked = check(cells(ej=""), number=42)
    assert checked.line is None
    assert checked.number == 42


def test_a_missing_nom_is_not_found_in_the_password() -> None:
    checked = check(cells(nom="", password="Xxxx-Horse-4242"))
    assert messages(checked) == [msg.required("Nom")]


def test_a_missing_identifiant_is_not_found_in_the_password() -> None:
    checked = check(cells(identifiant="", password="Xxxx-Horse-4242"))
    assert len(checked.problems) == 1
    assert checked.problems[0].message.startswith("Identifiant")


def test_the_password_of_a_line_with_an_unknown_role_is_still_checked_against_its_login() -> None:
    checked = check(cells(role="CDC9", password="Cgarnier-Pass-42"))
    assert msg.PASSWORD_CONTAINS_LOGIN in messages(checked)


# --- an Identifiant for a doctor is ignored (SPEC §5) ------------------------------------------


def test_an_identifiant_given_for_a_doctor_is_dropped_from_the_line() -> None:
    checked = check(cells(DOCTOR, identifiant="jdupont"))
    assert [p.code for p in checked.problems] == [Code.ALERTE]
    assert checked.line is not None
    assert checked.line.identifiant == ""
    assert checked.line.account_key == RPPS


# --- invisible characters: named, at the position the référent sees ---------------------------


@pytest.mark.parametrize("column", ["nom", "prenom"])
@pytest.mark.parametrize("character", ["\u200b", "\u3164", "\u2800"])
def test_an_invisible_character_is_named_at_its_position(column: str, character: str) -> None:
    checked = check(cells(**{column: f"Jean{character}Marc"}))
    assert checked.line is None
    [message] = messages(checked)
    assert message.startswith({"nom": "Nom : ", "prenom": "Prénom : "}[column])
    assert f"U+{ord(character):04X}" in message
    assert "en position 5 " in message


def test_an_invisible_character_in_an_identifiant_is_named_at_its_position() -> None:
    checked = check(cells(identifiant="cgar\u200bnier"))
    assert checked.line is None
    [message] = messages(checked)
    assert message.startswith("Identifiant : ")
    assert "U+200B" in message and "en position 5 " in message
    # the rest, "cgarnier", is a valid login: nothing more to say


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\u202f"])
def test_a_space_inside_a_name_is_not_invisible(space: str) -> None:
    checked = check(cells(prenom=f"Jean{space}Marc"))
    assert checked.problems == ()


# --- a password that landed in another cell, under a lowered policy (SPEC §4, §7) -------------


def test_under_a_shorter_policy_a_short_password_in_the_fin_cell_is_masked() -> None:
    """The policy is configurable: with 8 characters, an 8-character password the référent
    typed one cell too far right never reaches the report."""
    policy = PasswordSettings(min_length=8)
    checked = check_row(Row(7, cells(password="", fin="Ab1-cd2!")), TODAY, policy)
    assert checked.cells[COLUMN["fin"]] == "***"
    assert checked.line is None  # and the cell is no date


def test_a_malformed_identifiant_is_still_looked_for_in_the_password_without_accents() -> None:
    """Every problem of the line (SPEC §7): the Identifiant « hélène » is malformed, and the
    password « Helene-Pass-42x » contains it once accents are set aside."""
    checked = check(cells(identifiant="hélène", password="Helene-Pass-42x"))
    assert msg.PASSWORD_CONTAINS_LOGIN in messages(checked)


def test_in_a_row_with_an_unknown_role_a_too_long_nom_is_named() -> None:
    checked = check(cells(role="CDC9", nom="N" * 101))
    assert msg.text_too_long("Nom", 101, 100) in messages(checked)


def test_a_lost_character_in_the_identifiant_is_the_only_complaint_about_it() -> None:
    """An Identifiant whose « é » a Windows-1252 save turned into `?` cannot be read: the line
    says so (SPEC 2b) and judges nothing else against a login it does not know — not even
    whether the password contains it."""
    checked = check(cells(identifiant="c?cile.garnier", password="Xxxx-Yyyy-2026"))
    assert checked.line is None
    assert [p.code for p in checked.problems] == [Code.ERREUR]
    assert messages(checked) == [
        "Identifiant : un caractère a été perdu à l'enregistrement : enregistrez le fichier "
        "en « CSV UTF-8 »"
    ]
