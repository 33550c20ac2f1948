"""The thresholds of masking, cell by cell (docs/architecture.md « Masking »; SPEC §4: a
password is never written to a report or an archive).

Issue 14: mutants of `fileformat/masking.py` that changed which Identifiant, Email or date
cell counts as "may hold a password" survived the suite. Each expectation here is written
out by hand from the rule, with the default policy (12 characters, 3 of the 4 classes
lower-case / upper-case / digit / other):

- in an aligned row (a role code in the Rôle cell, nothing beyond the 13th cell) the Mot
  de passe cell is masked when filled, and Identifiant, Email, Date de début and Date de
  fin are masked when at least 12 characters long and mixing at least 3 classes;
- an MSSanté address (ending `@mssante.fr` or `.mssante.fr`) is judged on its part before
  the last `@`; an address with nothing before its `@`, or any other address, is judged whole;
- any other row has every filled cell masked but the public values (FINESS, RPPS, action
  and role codes, dates).
"""

from __future__ import annotations

import pytest

from profilesync.config import PasswordSettings
from profilesync.fileformat.masking import character_classes, mask_passwords, masked_cells

M = "***"


def row(
    ident: str = "cm", password: str = "", email: str = "", debut: str = "", fin: str = ""
) -> list[str]:
    """An aligned C row of a CDC1 in Bourg-en-Bresse, with the five cells right of its Rôle."""
    return [
        "010780054", "010000024", "", "C", "Martin", "Claire", "", "CDC1",
        ident, password, email, debut, fin,
    ]  # fmt: skip


def right_of_role(cells: list[str]) -> list[str]:
    return list(masked_cells(cells)[8:])


# --- the classes a text mixes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "classes"),
    [
        ("", 0),
        ("abcdef", 1),  # lower-case only
        ("ABCDEF", 1),  # upper-case only
        ("123456", 1),  # digits only
        ("-_.@/ ", 1),  # other only (`_` is "other", not a letter)
        ("éèàç", 1),  # accented lower-case letters are lower-case
        ("ÉÈÀ", 1),
        ("abcDEF", 2),
        ("abc123", 2),
        ("abc-_.", 2),
        ("ABC123", 2),
        ("ABC-", 2),
        ("123-", 2),
        ("abcDEF1", 3),
        ("abcDEF-", 3),
        ("abc12-", 3),
        ("ABC12-", 3),
        ("aB1-", 4),
        ("Éa9_", 4),
    ],
)
def test_character_classes_counts_lower_upper_digit_and_other(text: str, classes: int) -> None:
    assert character_classes(text) == classes


# --- Identifiant and dates: 12 characters and 3 classes -----------------------------------


@pytest.mark.parametrize(
    ("ident", "masked"),
    [
        ("jeandupont12", False),  # 12 characters, lower-case and digits: 2 classes
        ("jeandupont1234", False),
        ("jean.dupont.cardio", False),  # lower-case and other: 2 classes
        ("jean.dupont1", True),  # 12 characters, lower-case, other and digit: 3
        ("jean.dupont", False),  # 3 classes but 11 characters
        ("JeanDupont12", True),  # upper, lower, digit: exactly 3
        ("JEANDUPONT12", False),  # upper and digit: 2
        ("JeanDupontXY", False),  # upper and lower: 2
        ("Jean-Dupont1", True),  # 4 classes
    ],
)
def test_an_identifiant_is_masked_when_it_could_be_a_password(ident: str, masked: bool) -> None:
    assert right_of_role(row(ident=ident)) == [M if masked else ident, "", "", "", ""]


@pytest.mark.parametrize(("column", "index"), [("debut", 3), ("fin", 4)])
def test_a_date_cell_holding_a_password_is_masked_and_a_long_date_is_not(
    column: str, index: int
) -> None:
    expected = ["cm", "", "", "", ""]
    expected[index] = M
    assert right_of_role(row(**{column: "Secret-Pass1"})) == expected
    long_date = "2027-06-30 00:00"  # 16 characters, digits and other: 2 classes
    expected[index] = long_date
    assert right_of_role(row(**{column: long_date})) == expected


# --- Email: an MSSanté address is judged on its local part ---------------------------------


@pytest.mark.parametrize("ident", ["cm", "jean.dupont.cardio"])  # the usual row, and the slow path
@pytest.mark.parametrize(
    ("email", "masked"),
    [
        # A password glued before the address by a missing `;`: the local part is the text
        # before the *last* @, here « Xy@Secret-2024jdupont », which could be a password.
        ("Xy@Secret-2024jdupont@mssante.fr", True),
        ("Xy@Secret-2024jdupont@ch-bourg.mssante.fr", True),
        # Short local parts cannot hold a password, however the whole address reads.
        ("J.Dupont1@ch-bourg.mssante.fr", False),
        ("J@Ch-Bourg1.mssante.fr", False),
        # A long local part with 2 classes only: not a password.
        ("jean.dupont.cardio@mssante.fr", False),
        # Nothing before the @: the whole cell is judged (a password may start with @).
        ("@Secret-Pass1.mssante.fr", True),
        ("@secret.mssante.fr", False),
        # Not MSSanté: judged whole.
        ("Jean.Dupont1@gmail.com", True),
        ("jean.dupont@hopital.fr", False),
        ("jean.dupont1@hopital.fr", True),  # lower, digit, other: 3 classes, 23 characters
    ],
)
def test_an_email_is_masked_when_it_could_hold_a_password(
    ident: str, email: str, masked: bool
) -> None:
    assert right_of_role(row(ident=ident, email=email)) == [
        ident,
        "",
        M if masked else email,
        "",
        "",
    ]


def test_a_short_mssante_address_keeps_the_usual_row_untouched() -> None:
    cells = row(email="cm@mssante.fr", debut="01/01/2027", fin="31/12/2027")
    assert list(masked_cells(cells)) == cells


def test_a_long_identifiant_alone_is_masked_and_the_short_address_beside_it_kept() -> None:
    cells = row(ident="Claire.Martin2", password="Secret-Pass1", email="cm@mssante.fr")
    assert right_of_role(cells) == [M, M, "cm@mssante.fr", "", ""]


# --- a weaker policy lowers the thresholds; a stricter one never raises them ---------------

LENIENT = PasswordSettings(min_length=8, min_classes=2)
STRICT = PasswordSettings(min_length=16, min_classes=4)


def test_a_lenient_policy_masks_the_shorter_passwords_it_accepts() -> None:
    """A policy of 8 characters and 2 classes accepts « secret12 »: in the Identifiant cell
    of a shifted row it is hidden; under the default policy it would not be a password."""
    cells = row(ident="secret12")
    assert list(masked_cells(cells, LENIENT)[8:]) == [M, "", "", "", ""]
    assert list(masked_cells(cells)[8:]) == ["secret12", "", "", "", ""]
    data = ";".join(cells).encode()
    expected = ";".join([*cells[:8], M, "", "", "", ""]).encode()
    assert mask_passwords(data, LENIENT) == expected
    assert mask_passwords(data) == data


def test_a_strict_policy_still_masks_what_the_default_policy_accepted() -> None:
    """A password set under the default policy stays valid after the operator makes the
    policy stricter: it must still be masked."""
    cells = row(ident="JeanDupont12")
    assert list(masked_cells(cells, STRICT)[8:]) == [M, "", "", "", ""]


# --- a header whose columns are out of order is not a header ------------------------------


def test_a_header_out_of_order_is_masked_as_a_data_row() -> None:
    """The reader rejects such a file (« colonnes dans le désordre »); its first row is then
    a row like any other: not aligned (no role code in the Rôle cell), so every cell that
    is not a public value is masked, column names included."""
    header = (
        "Finess ET;Finess EJ;Nom de l'équipe;Code action;Nom;Prénom;N° RPPS;Rôle;"
        "Identifiant;Mot de passe;Email;Date de début;Date de fin"
    )
    line = "010780054;010000024;;C;Martin;Claire;;CDC1;cm;Secret-Pass1;;;"
    data = (header + "\n" + line + "\n").encode()
    expected = ";".join([M] * 13) + "\n" + "010780054;010000024;;C;Martin;Claire;;CDC1;cm;***;;;\n"
    assert mask_passwords(data) == expected.encode()


# --- which rows are aligned ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["CDC1", "cdc1", "Cdc1", "cDC1", "Synt"])
def test_a_role_code_in_any_case_makes_the_row_aligned(role: str) -> None:
    """The rules read a role code in any case (SPEC §5), so such a row is aligned: only the
    cells right of the Rôle that could hold a password are masked, the names are kept."""
    cells = row(password="Secret-Pass1")
    cells[7] = role
    assert list(masked_cells(cells)) == [*cells[:9], M, "", "", ""]


@pytest.mark.parametrize("role", ["ſYNT", "ſynt", "CDC1x", "CDC 1", ""])
def test_a_role_cell_the_rules_refuse_makes_the_row_unaligned(role: str) -> None:
    """« ſYNT » (a long s) upper-cases to SYNT in Unicode, but the rules refuse it as a role
    code: the row may be shifted, so every filled cell but the public values is masked."""
    cells = row(password="Secret-Pass1")
    cells[7] = role
    public = ["010780054", "010000024", "", "C"]  # FINESS EJ, FINESS ET, (empty), action
    assert list(masked_cells(cells)) == [*public, M, M, "", M if role else "", M, M, "", "", ""]


def test_a_thirteen_cell_row_with_a_role_code_is_aligned() -> None:
    cells = row(password="Secret-Pass1")
    assert len(cells) == 13
    assert list(masked_cells(cells)) == [*cells[:9], M, "", "", ""]


def test_a_cell_beyond_the_thirteenth_makes_the_row_unaligned() -> None:
    cells = [*row(password="Secret-Pass1"), "en trop"]
    assert list(masked_cells(cells)) == [
        "010780054", "010000024", "", "C", M, M, "", "CDC1", M, M, "", "", "", M,
    ]  # fmt: skip


def test_an_email_cell_of_exactly_twelve_characters_holding_a_password_is_masked() -> None:
    """A password shifted one column right lands in Email: 12 characters, 4 classes."""
    assert right_of_role(row(email="Secret-Pass1")) == ["cm", "", M, "", ""]
    assert right_of_role(row(email="Secret-Pas1")) == ["cm", "", "Secret-Pas1", "", ""]


# --- only the first non-blank row can be the header ---------------------------------------

HEADER = (
    "Finess EJ;Finess ET;Nom de l'équipe;Code action;Nom;Prénom;N° RPPS;Rôle;"
    "Identifiant;Mot de passe;Email;Date de début;Date de fin"
)
LINE = "010780054;010000024;;C;Martin;Claire;;CDC1;cm;Secret-Pass1;;;"
LINE_MASKED = "010780054;010000024;;C;Martin;Claire;;CDC1;cm;***;;;"


def test_a_header_repeated_lower_in_the_file_is_masked_as_a_data_row() -> None:
    """Two files pasted one after the other: the reader takes only the first non-blank row
    for the header (SPEC §2), so the second header is a row like any other, unaligned (its
    Rôle cell holds « Rôle »): each of its cells is masked."""
    data = "\n".join(["", HEADER, LINE, HEADER, LINE, ""]).encode()
    expected = "\n".join(["", HEADER, LINE_MASKED, ";".join([M] * 13), LINE_MASKED, ""])
    assert mask_passwords(data) == expected.encode()


@pytest.mark.parametrize("when", ["30/06/2027", "1/7/2026", "30/06/27", "2027-06-30"])
def test_an_unaligned_row_keeps_its_dates_in_every_form_the_rules_read(when: str) -> None:
    """Dates are public values (a password is 12 characters or more; a date at most 10): a
    shifted row keeps them, so the référent can still tell which row it is."""
    cells = [*row(password="Secret-Pass1", debut=when, fin=when), "en trop"]
    masked = list(masked_cells(cells))
    assert masked[11:13] == [when, when]
    assert masked[9] == M
