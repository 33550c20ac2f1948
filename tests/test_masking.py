"""The one masking rule (masking.masked_cells) and the shapes that used to leak a password.

Every kept copy of a row — the report, `line_outcome.cells`, the archive — must hide the
password whatever the row's shape: one `;` too few, one too many, a bare line break. The
three reproductions below leaked it in all three places before the rule existed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from importkit import REFERENT, World, fast_settings
from profilesync.config import LimitsSettings, PasswordSettings
from profilesync.fileformat.columns import COLUMNS
from profilesync.fileformat.csvfile import FileRejected, clean_cells, rows_from_bytes
from profilesync.fileformat.masking import (
    UnterminatedQuote,
    aligned,
    could_hold_password,
    mask_passwords,
    masked_cells,
    records,
)
from profilesync.fileformat.report import report_cells
from profilesync.fileformat.rules import check_row
from profilesync.store.importer import import_file

PW = "Zq9-Sentinel-Xw7"
TODAY = date(2026, 3, 15)
POLICY = PasswordSettings()
LIMITS = LimitsSettings(max_rows=10_000)


def cells(line: str) -> tuple[str, ...]:
    return tuple(line.split(";"))


# ---------------------------------------------------------------------------------------------
# The rule, cell by cell
# ---------------------------------------------------------------------------------------------


def test_an_aligned_row_masks_only_its_password_when_nothing_else_could_be_one() -> None:
    row = cells(
        "750712184;750100125;Urgences adultes;C;Dupont-Durand;Jean;10000000017;CDC3E;;"
        f"{PW};jean.dupont@aphp.mssante.fr;01/01/2026;31/12/2027"
    )
    assert aligned(row)
    assert masked_cells(row) == (*row[:9], "***", *row[10:])


def test_an_identifiant_that_could_hold_a_password_is_masked_even_in_an_aligned_row() -> None:
    # The `;` between Identifiant and Mot de passe forgotten: the password is glued to the
    # login, and the row still looks aligned (13 cells, Rôle in place).
    row = cells(f"750712184;750100125;;M;Garçon;Cécile;;CDC1;cgarcon{PW};;;;")
    assert masked_cells(row) == (*row[:8], "***", "", "", "", "")
    # Logins that cannot hold a 12-character, 3-class password stay visible.
    for login in ("cgarcon", "jean.dupont", "JDupont2024", "c.garcon-2"):
        assert masked_cells((*row[:8], login, *row[9:]))[8] == login


def test_an_email_is_masked_when_its_local_part_could_hold_a_password() -> None:
    base = cells("750712184;750100125;;M;Garçon;Cécile;;CDC1;cgarcon;;x;;")

    def shown(email: str) -> str:
        return masked_cells((*base[:10], email, *base[11:]))[10]

    assert shown("jdupont2@aphp.mssante.fr") == "jdupont2@aphp.mssante.fr"
    assert shown("Jean.Dupont@aphp.mssante.fr") == "Jean.Dupont@aphp.mssante.fr"
    # The price of the rule: a 12-character local part mixing 3 classes is hidden too.
    assert shown("jean.dupont2@aphp.mssante.fr") == "***"
    assert shown(f"{PW}cgarcon@aphp.mssante.fr") == "***"  # glued by a missing `;`
    assert shown(PW) == "***"  # pushed right by a `;` too many
    assert shown("Pass@word.2024") == "***"  # not an MSSanté address: judged whole


def test_dates_are_masked_only_when_they_could_hold_a_password() -> None:
    base = cells("750712184;750100125;;M;Garçon;Cécile;;CDC1;cgarcon;;;;")
    for text in ("01/01/2026", "31/02/2026", "2026-01-01", "45292", "01/01/202631/12/2027"):
        assert masked_cells((*base[:11], text, text))[11:] == (text, text)
    assert masked_cells((*base[:11], PW, ""))[11:] == ("***", "")


def test_a_row_without_its_role_in_place_shows_only_public_values() -> None:
    row = cells(
        f"750712184;750100125;Réa;nimation;c;Garçon;Cécile;10000000017;cdc4;cgarcon;{PW};"
        "a@mssante.fr;2026-01-01;31/12/2027"
    )
    assert not aligned(row)
    assert masked_cells(row) == (
        "750712184",
        "750100125",
        "***",
        "***",
        "c",
        "***",
        "***",
        "10000000017",
        "cdc4",
        "***",
        "***",
        "***",
        "2026-01-01",
        "31/12/2027",
    )


def test_a_filled_cell_beyond_the_13th_makes_a_row_not_aligned() -> None:
    row = cells(f"750712184;750100125;;C;Garçon;Cécile;;CDC1;cgarcon;{PW};;;")
    assert aligned((*row, "", ""))
    assert not aligned((*row, "", "note"))
    assert masked_cells((*row, "note"))[4:] == (
        "***",
        "***",
        "",
        "CDC1",
        "***",
        "***",
        *[""] * 3,
        "***",
    )


def test_the_thresholds_follow_a_weaker_policy_never_a_stricter_one() -> None:
    assert could_hold_password("Ab1-defghijk")  # 12 characters, 4 classes
    assert not could_hold_password("Ab1-defghij")  # 11
    assert not could_hold_password("abcdefghijk-")  # 2 classes
    weak = PasswordSettings(min_length=8, min_classes=2)
    assert could_hold_password("abcdefg-", weak)
    strict = PasswordSettings(min_length=16, min_classes=4)
    assert could_hold_password("Ab1-defghijk", strict)


_CELL = st.sampled_from(
    ["", "750712184", "C", "m", "CDC1", "cdc3d", "Dupont", PW, f"jd{PW}", "01/01/2026", "***",
     "a@mssante.fr", f"{PW}x@mssante.fr", "10000000017", "Urgences adultes", "x"]
)  # fmt: skip


@given(st.lists(_CELL, max_size=16).map(tuple))
def test_masking_twice_is_masking_once(row: tuple[str, ...]) -> None:
    once = masked_cells(row)
    assert len(once) == len(row)
    assert masked_cells(once) == once
    # What the rules stored is what the report shows (report_cells adds nothing).
    assert report_cells(once) == (once + ("",) * 13)[:13]


# ---------------------------------------------------------------------------------------------
# The archive splits records exactly as the csv module does
# ---------------------------------------------------------------------------------------------

_TEXT = st.lists(
    st.sampled_from([";", '"', '""', "\r", "\n", "\r\n", "a", " ", "é", '="', "\u200b", "\t"]),
    max_size=60,
).map("".join)


@given(_TEXT)
def test_records_are_the_csv_module_s_rows(text: str) -> None:
    expected = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    try:
        got = [[value for _, _, value in fields] for fields in records(text)]
    except UnterminatedQuote:
        # No readable archive then (issue 14); the reader refuses such a file anyway.
        with pytest.raises(FileRejected):
            list(rows_from_bytes(text.encode(), LIMITS))
        return
    # csv gives [] for an empty line, records() one empty field: both blank rows.
    assert [r or [""] for r in expected] == got


@given(_TEXT)
def test_the_archive_reads_the_rows_csvfile_reads(text: str) -> None:
    try:
        rows = [r.cells for r in rows_from_bytes(text.encode(), LIMITS)]
    except FileRejected:
        return
    mine = [clean_cells(v for _, _, v in fields) for fields in records(text)]
    mine = [c + ("",) * (13 - len(c)) for c in mine if any(c)]
    assert rows == mine


# ---------------------------------------------------------------------------------------------
# The reproductions: report, line_outcome.cells and archive, on both engines
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def imported(world: World, line: str) -> tuple[list[str], list[list[str]], bytes]:
    """Report rows (as text lines), line_outcome cells, archive of a one-line file."""
    path = world.tmp / "f.csv"
    data = line.encode("utf-8")
    path.write_bytes(data)
    report = world.tmp / "r.csv"
    import_file(
        path, REFERENT, settings=world.settings, session_factory=world.sf, clock=world.clock,
        report_path=report,
    )  # fmt: skip
    stored = [
        json.loads(c) if isinstance(c, str) else c
        for c in (r[0] for r in world.rows("SELECT cells FROM line_outcome ORDER BY line"))
    ]
    archive = mask_passwords(data, world.settings.passwords)
    assert archive is not None
    rows = report.read_bytes().decode("utf-8-sig").split("\r\n")[1:-1]
    for text in (*rows, json.dumps(stored), archive.decode()):
        assert PW.lower() not in text.lower()
    return rows, stored, archive


@dataclass(frozen=True)
class Shape:
    """A one-line file and what each copy of it must hold: report rows, line_outcome.cells,
    archive bytes."""

    line: str
    report: list[str]
    stored: list[list[str]]
    archive: bytes


_FINESS = (
    "n'est pas un n° FINESS (9 caractères : le département, 01 à 95, 2A, 2B, 97 ou 98, "
    "puis 7 chiffres)"
)
_LEFT = (
    "Colonnes décalées : le Rôle est d'une colonne trop à gauche, sans doute un « ; » manquant "
    "(une cellule vide supprimée) ; rajoutez-le pour retrouver les 13 colonnes (les autres "
    "colonnes n'ont pas été vérifiées)"
)
SHAPES = {
    # The empty N° RPPS cell lost its `;`: the Rôle is one column left, the password in the
    # Identifiant column.
    "one-semicolon-too-few": Shape(
        f"750712184;750100125;;C;Garçon;Cécile;CDC1;cgarcon;{PW};;01/01/2026;\r\n",
        [f'1;ERREUR;"{_LEFT}";750712184;750100125;;C;***;***;CDC1;***;***;;01/01/2026;;'],
        [["750712184", "750100125", "", "C", "***", "***", "CDC1", "***", "***", "",
          "01/01/2026", "", ""]],
        b"750712184;750100125;;C;***;***;CDC1;***;***;;01/01/2026;\r\n",
    ),
    # A bare CR in the Nom: two rows, the password in the second one's Prénom column.
    "bare-cr": Shape(
        f"750712184;750100125;;C;Gar\rçon;Cécile;;CDC1;cgarcon;{PW};;01/01/2026;\r\n",
        [
            "1;ERREUR;Prénom : obligatoire, la cellule est vide | Rôle : obligatoire, la "
            "cellule est vide;750712184;750100125;;C;***;;;;;;;;",
            f'2;ERREUR;"Finess EJ : {_FINESS} | Finess ET : {_FINESS} | Code action : inconnu ; '
            "utilisez C (créer), M (modifier) ou S (supprimer) | Rôle : inconnu ; codes "
            'possibles : CDC3D, CDC3E, CDC3A, CDC4, CDC1, CDC2, SYNT, OEC1, OEC2";'
            "***;***;;CDC1;***;***;;01/01/2026;;;;;",
        ],
        [["750712184", "750100125", "", "C", "***", *[""] * 8],
         ["***", "***", "", "CDC1", "***", "***", "", "01/01/2026", *[""] * 5]],
        b"750712184;750100125;;C;***\r***;***;;CDC1;***;***;;01/01/2026;\r\n",
    ),
    # An empty cell too many after the Identifiant: the password is in the Email column.
    "one-semicolon-too-many": Shape(
        f"750712184;750100125;;C;Garçon;Cécile;;CDC1;cgarcon;;{PW};;01/01/2026;\r\n",
        [
            "1;ERREUR;\"Email : n'est pas une adresse email valide ; ignoré | Date de fin : le "
            "01/01/2026 est passé, on ne peut pas créer un profil déjà terminé ; corrigez la "
            "date ou retirez la ligne\";750712184;750100125;;C;Garçon;Cécile;;CDC1;cgarcon;;"
            "***;;01/01/2026"
        ],
        [["750712184", "750100125", "", "C", "Garçon", "Cécile", "", "CDC1", "cgarcon", "",
          "***", "", "01/01/2026"]],
        "750712184;750100125;;C;Garçon;Cécile;;CDC1;cgarcon;;***;;01/01/2026;\r\n".encode(),
    ),
    # A doctor's row whose empty Identifiant lost its `;`: the password slid into it.
    "doctor-identifiant": Shape(
        f"750712184;750100125;;C;Durand;Paul;10000000017;CDC3D;{PW};;;\r\n",
        [
            "1;ERREUR;Identifiant : ignoré pour le rôle CDC3D (médecin), le compte d'un "
            "médecin est son n° RPPS | Mot de passe obligatoire : le compte 10000000017 "
            "n'existe pas encore, il en faut un pour le créer.;750712184;750100125;;C;Durand;"
            "Paul;10000000017;CDC3D;***;;;;"
        ],
        [["750712184", "750100125", "", "C", "Durand", "Paul", "10000000017", "CDC3D", "***",
          "", "", "", ""]],
        b"750712184;750100125;;C;Durand;Paul;10000000017;CDC3D;***;;;\r\n",
    ),
}  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_shape_that_used_to_leak_the_password(world: World, shape: Shape) -> None:
    assert imported(world, shape.line) == (shape.report, shape.stored, shape.archive)


def test_a_glued_login_is_hidden_from_the_messages_too(world: World) -> None:
    # C of a new account whose password was glued to the login: the store's message names
    # the account key, which is that cell lower-cased.
    line = f"750712184;750100125;;C;Garçon;Cécile;;CDC1;cgarcon{PW};;;;\r\n"
    rows, stored, _ = imported(world, line)
    assert rows == [
        "1;ERREUR;Mot de passe obligatoire : le compte *** n'existe pas encore, il en faut un "
        "pour le créer.;750712184;750100125;;C;Garçon;Cécile;;CDC1;***;;;;"
    ]
    assert stored[0][8] == "***"


def test_the_rules_mask_as_the_archive_does() -> None:
    line = f"750712184;750100125;;C;Garçon;Cécile;CDC1;cgarcon;{PW};;01/01/2026;"
    [row] = rows_from_bytes(line.encode(), LIMITS)
    checked = check_row(row, TODAY, POLICY)
    assert checked.cells == masked_cells(row.cells)
    assert mask_passwords(line.encode()) == ";".join(checked.cells[:12]).encode()


def test_the_archive_keeps_the_header_names_and_masks_anything_else_in_it() -> None:
    names = list(COLUMNS)
    names[9] = PW  # a header with a password typed over « Mot de passe »
    header = ";".join(names)
    data = f"\r\n{header}\r\n750712184;750100125;;M;Roux;Léa;;OEC1;lroux;{PW};;;\r\n"
    [row] = rows_from_bytes(data.encode(), LIMITS)  # csvfile skips that header too
    assert row.number == 3
    masked = mask_passwords(data.encode())
    assert masked is not None
    assert masked.decode() == (
        f"\r\n{header.replace(PW, '***')}\r\n750712184;750100125;;M;Roux;Léa;;OEC1;lroux;***;;;\r\n"
    )
