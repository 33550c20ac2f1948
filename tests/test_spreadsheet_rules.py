"""SPEC 2b, files that went through a spreadsheet: each rule with its exact code and message,
at the rule level (check_row) and through the import, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clikit import run_cli, run_process, write_config
from daemonkit import Inbox, report_rows
from importkit import ET3, GOOD_PW, REFERENT, World, fast_settings, row
from profilesync.config import PasswordSettings
from profilesync.fileformat import identifiers as ids
from profilesync.fileformat.lines import Checked
from profilesync.fileformat.outcome import Code, Problem
from profilesync.fileformat.report import read_report
from profilesync.fileformat.rules import check_row

TODAY = date(2026, 11, 26)
POLICY = PasswordSettings()
LOST = "un caractère a été perdu à l'enregistrement : enregistrez le fichier en « CSV UTF-8 »"
ALLOWED = "lettres, espaces, traits d'union, apostrophes et points seulement"
FINESS_SUMMARY = (
    "le tableur avait supprimé le 0 initial des FINESS — formatez ces colonnes en Texte"
)


@dataclass(frozen=True)
class Row:
    number: int
    cells: tuple[str, ...]


def check(cells: list[str], today: date = TODAY) -> Checked:
    return check_row(Row(2, tuple(cells)), today, POLICY)


def found(checked: Checked) -> list[tuple[Code, str]]:
    return [(p.code, p.message) for p in checked.problems]


# --- certain repairs: the line stays OK, with a note -----------------------------------------


def test_finess_leading_zero_is_a_note_and_the_line_stays_ok() -> None:
    checked = check(row("M", ej="10780062", et="10780062"))
    assert found(checked) == [
        (Code.OK, "Finess EJ complété : 010780062"),
        (Code.OK, "Finess ET complété : 010780062"),
    ]
    assert checked.line is not None
    assert (checked.line.ej, checked.line.et) == ("010780062", "010780062")


def test_two_digit_years_are_completed_with_a_note() -> None:
    checked = check(row("M", debut="1/9/26", fin="30/06/27"))
    assert found(checked) == [
        (Code.OK, "date de début complétée : 01/09/2026"),
        (Code.OK, "date de fin complétée : 30/06/2027"),
    ]
    assert checked.line is not None
    assert (checked.line.debut, checked.line.fin) == (date(2026, 9, 1), date(2027, 6, 30))


def test_the_century_window_follows_the_injected_today() -> None:
    # [this year - 50, this year + 49]: 76 is 1976 in 2026 and 2076 in 2027.
    assert check(row("M", fin="01/01/76"), date(2026, 11, 26)).problems == (
        Problem.note("date de fin complétée : 01/01/1976"),
    )
    assert check(row("M", fin="01/01/76"), date(2027, 1, 1)).problems == (
        Problem.note("date de fin complétée : 01/01/2076"),
    )
    # Back in 2026 (a clock set back): no verdict of 2027 is remembered.
    assert check(row("M", fin="01/01/76"), date(2026, 11, 26)).problems == (
        Problem.note("date de fin complétée : 01/01/1976"),
    )


def test_a_completed_year_still_meets_the_other_date_rules() -> None:
    # 01/01/77 is 1977 in 2026: a C whose fin is already past stays ERREUR.
    checked = check(row("C", password=GOOD_PW, fin="01/01/77"))
    assert found(checked) == [
        (Code.OK, "date de fin complétée : 01/01/1977"),
        (
            Code.ERREUR,
            "Date de fin : le 01/01/1977 est passé, on ne peut pas créer un profil déjà terminé ; "
            "corrigez la date ou retirez la ligne",
        ),
    ]


@given(st.integers(2000, 2100), st.dates())
def test_a_two_digit_year_is_the_one_date_of_the_window_with_those_digits(
    this_year: int, day: date
) -> None:
    start, end = date(this_year - 50, 1, 1), date(this_year + 49, 12, 31)
    if not start <= day <= end:
        day = day.replace(year=start.year + (day.year - start.year) % 100)
        if not start <= day <= end:  # 29 February moved to a year without one
            return
    text = f"{day.day}/{day.month}/{day.year % 100:02d}"
    assert ids.read_date(text, "Date de fin", this_year) == (
        day,
        Problem.note(f"date de fin complétée : {day.day:02d}/{day.month:02d}/{day.year}"),
    )


def test_iso_date_is_a_note() -> None:
    assert found(check(row("M", debut="2026-09-01"))) == [
        (Code.OK, "date de début lue au format AAAA-MM-JJ : 01/09/2026")
    ]


# --- what a spreadsheet destroyed: ERREUR with the hint --------------------------------------


def test_serial_date_and_scientific_notation_say_to_format_as_text() -> None:
    assert found(check(row("M", fin="46203"))) == [
        (
            Code.ERREUR,
            "Date de fin : le tableur a changé la date en nombre (le 30/06/2026 ?) ; formatez la "
            "colonne en Texte et saisissez la date en JJ/MM/AAAA",
        )
    ]
    doctor = row("C", "Durand", "Paul", rpps_="1,01005E+10", role="CDC3D", ident="")
    assert found(check([*doctor[:9], GOOD_PW, *doctor[10:]])) == [
        (
            Code.ERREUR,
            "N° RPPS : en notation scientifique, le tableur a perdu des chiffres ; formatez la "
            "colonne en Texte et saisissez à nouveau le numéro",
        )
    ]


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        (row("M", nom="?ukasiewicz"), "Nom"),
        (row("M", prenom="Nguy?n Th? Lan"), "Prénom"),
        (row("M", team="Urgences p?diatriques", role="CDC4"), "Nom de l'équipe"),
        (row("M", ident="l?wa"), "Identifiant"),
        (row("M", email="j?rg@aphp.mssante.fr"), "Email"),
        (row("M", nom="Nguy\ufffdn"), "Nom"),
    ],
)
def test_a_lost_character_is_erreur_with_the_utf8_hint(cells: list[str], column: str) -> None:
    checked = check(cells)
    assert found(checked) == [(Code.ERREUR, f"{column} : {LOST}")]
    assert checked.line is None


@pytest.mark.parametrize(
    "name",
    [
        "Łukasiewicz",
        "Nguyễn Thị Lan",
        "O'Brien",
        "D’Arc",
        "Jean-Pierre",
        "St. Cyr",
        "Mu\u0308ller",  # a decomposed ü (macOS)
        "Παπαδόπουλος",
        "Иванов",
        "محمد",
        "Li\u00a0Na",
    ],
)
def test_names_of_any_alphabet_are_accepted(name: str) -> None:
    assert check(row("M", nom=name, prenom=name)).problems == ()


@pytest.mark.parametrize(
    ("name", "character", "position"),
    [("Dupont3", "3", 7), ("Du/pont", "/", 3), ("Marie(Anne)", "(", 6), ("Léa_Roux", "_", 4)],
)
def test_other_characters_in_names_are_erreur_naming_them(
    name: str, character: str, position: int
) -> None:
    checked = check(row("M", prenom=name))
    message = f"Prénom : caractère « {character} » non autorisé en position {position} ; {ALLOWED}"
    assert found(checked) == [(Code.ERREUR, message)]


# Printable characters that show nothing are refused as invisible, not as a name's (see
# test_invisible.py): left out here.
_BLANKS = "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
_NAME_CHARS = st.characters(categories=["L", "Mn", "Mc", "Zs"], exclude_characters=_BLANKS).filter(
    lambda c: not ("\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef")
) | (st.sampled_from("-'’.‐"))
_FORBIDDEN = st.sampled_from('0123456789/\\()[]{}_,;:!*+=<>|#$%&@~^"')


@given(st.text(_NAME_CHARS, min_size=1, max_size=40).map(str.strip).filter(bool))
def test_any_name_of_letters_marks_spaces_and_punctuation_of_names_is_accepted(
    name: str,
) -> None:
    checked = check(row("M", nom=name))
    assert not [p for p in checked.problems if p.code is Code.ERREUR and "Nom :" in p.message]


@given(
    st.text(st.characters(categories=["L"]), min_size=1, max_size=10),
    _FORBIDDEN,
    st.text(_NAME_CHARS, max_size=10),
)
def test_a_name_with_any_other_character_is_refused_naming_the_first(
    before: str, bad: str, after: str
) -> None:
    name = before + bad + after.rstrip()
    message = f"Nom : caractère « {bad} » non autorisé en position {len(before) + 1} ; {ALLOWED}"
    assert found(check(row("M", nom=name))) == [(Code.ERREUR, message)]


def test_a_shifted_row_never_quotes_a_character_of_its_cells() -> None:
    """The Rôle is not where it should be: the Prénom may be the password, so its
    characters are not judged (a message would name one)."""
    cells = row("C", "Martin", "Pass-Word-2026", role="", ident="cmartin")
    assert not [m for _, m in found(check(cells)) if "caractère" in m]
    cells = row("C", "Martin", "Pass-Word-2026?", role="", ident="cmartin")
    assert not [m for _, m in found(check(cells)) if "caractère" in m]


# --- through the import: the report's notes and summary ---------------------------------------


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    w.add_referent("ain", ET3)
    yield w
    w.close()


def _ain(action: str, nom: str, ident: str, **kw: str) -> list[str]:
    return row(action, nom, "Anne", ej="10780062", et="10780062", ident=ident, **kw)


def test_import_repairs_are_ok_with_a_note_and_one_summary_sentence_per_kind(
    world: World,
) -> None:
    rows = [
        _ain("C", "Abel", "aabel", password=GOOD_PW, fin="30/06/27"),
        _ain("C", "Bruno", "abruno", password=GOOD_PW),
        _ain("C", "Carre", "acarre", password=GOOD_PW, debut="2026-04-01"),
    ]
    result, outs = world.run(rows, submitter="ain")
    assert [(o.line, o.code) for o in outs] == [(2, Code.OK), (3, Code.OK), (4, Code.OK)]
    assert outs[0].messages == (
        "Finess EJ complété : 010780062",
        "Finess ET complété : 010780062",
        "date de fin complétée : 30/06/2027",
        "Compte créé",
    )
    assert outs[2].messages[-2:] == (
        "date de début lue au format AAAA-MM-JJ : 01/04/2026",
        "Compte créé",
    )
    assert world.scalar("SELECT fin FROM profile WHERE fin IS NOT NULL") in (
        date(2027, 6, 30),
        "2027-06-30",
    )
    lines = result.report_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[-3:] == [
        f";;3 lignes réparées : {FINESS_SUMMARY};" + ";" * 12,
        ";;1 ligne réparée : le tableur avait écrit des années sur 2 chiffres — formatez ces "
        "colonnes en Texte;" + ";" * 12,
        ";;1 ligne réparée : le tableur avait écrit des dates au format AAAA-MM-JJ — formatez "
        "ces colonnes en Texte;" + ";" * 12,
    ]
    # The summary rows are no lines of the file: reading the report back skips them.
    assert [o.line for o in read_report(result.report_path)] == [2, 3, 4]


def test_check_writes_the_summary_too(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        ";".join(row("M", ej="10780062", et="10780062", fin="30/06/27")) + "\r\n",
        encoding="utf-8",
    )
    report = tmp_path / "export.rapport.csv"
    res = run_cli("check", path, "--report", report)
    assert res.exit_code == 0, res.output
    assert report.read_text(encoding="utf-8-sig").splitlines()[-2:] == [
        f";;1 ligne réparée : {FINESS_SUMMARY};" + ";" * 12,
        ";;1 ligne réparée : le tableur avait écrit des années sur 2 chiffres — formatez ces "
        "colonnes en Texte;" + ";" * 12,
    ]


def test_import_never_applies_a_lost_character(world: World) -> None:
    """Abuse: a file whose names were mangled to `?` on purpose changes nothing."""
    world.run([row("C", "Łukasiewicz", "Jan", ident="jluk", password=GOOD_PW)])
    before = world.rows("SELECT nom, prenom FROM account")
    _, outs = world.run(
        [
            row("M", "?ukasiewicz", "Jan", ident="jluk"),
            row("C", "Nguy?n Th? Lan", "Lan", ident="lnguyen", password=GOOD_PW),
        ]
    )
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ERREUR, (f"Nom : {LOST}",)),
        (Code.ERREUR, (f"Nom : {LOST}",)),
    ]
    assert world.rows("SELECT nom, prenom FROM account") == before == [("Łukasiewicz", "Jan")]


def test_cli_import_of_a_windows_1252_save_is_refused_with_the_hint(world: World) -> None:
    world.run([row("C", "Łukasiewicz", "Jan", ident="jluk", password=GOOD_PW)])
    path = world.tmp / "excel.csv"
    # What « CSV (séparateur : point-virgule) » writes: Windows-1252, Ł as `?`.
    path.write_bytes(
        ";".join(row("M", "Łukasiewicz", "Jan", ident="jluk")).encode("cp1252", errors="replace")
    )
    res = run_process("import", path, "--as", REFERENT, config=_config(world))
    assert res.returncode == 1, res.stderr
    assert res.stdout.splitlines()[0] == "1 ligne : 0 OK, 0 ALERTE, 1 ERREUR"
    (out,) = read_report(path.with_name(f"{path.stem}.rapport.csv"))
    assert out.messages == (f"Nom : {LOST}",)


def _config(world: World) -> Path:
    return write_config(world.tmp, database={"url": world.url})


# --- a login that lost its leading zeros (store/actions.py) -----------------------------------

PROFILE_MISSING = (
    "Ce profil n'existe pas (aucun profil de ce compte avec ce rôle et cette équipe dans cet "
    "établissement) : vérifiez le rôle, l'équipe et l'identifiant ; pour un nouveau profil, "
    "utilisez C."
)
ZEROS_GUESSED = (
    "Identifiant lu comme 0045871 : le tableur avait supprimé les zéros initiaux ; formatez "
    "la colonne en Texte"
)


def test_m_and_s_apply_to_the_zero_padded_login_with_alerte(world: World) -> None:
    world.run([row("C", ident="0045871", password=GOOD_PW)])
    _, outs = world.run([row("M", ident="45871", email="cmartin@aphp.mssante.fr")])
    assert [(o.code, o.messages) for o in outs] == [(Code.ALERTE, (ZEROS_GUESSED, "Email modifié"))]
    assert world.rows("SELECT key, email FROM account") == [("0045871", "cmartin@aphp.mssante.fr")]
    _, outs = world.run([row("S", ident="45871")])
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ALERTE, (ZEROS_GUESSED, "Profil supprimé"))
    ]
    assert world.rows("SELECT state FROM profile") == [("deleted",)]


def test_c_of_a_login_that_lost_its_zeros_is_erreur_not_a_second_account(world: World) -> None:
    world.run([row("C", ident="0045871", password=GOOD_PW)])
    _, outs = world.run([row("C", ident="45871", password=GOOD_PW, role="CDC2")])
    assert [(o.code, o.messages) for o in outs] == [
        (Code.ERREUR, ("0045871 existe déjà : le tableur a supprimé les zéros initiaux",))
    ]
    assert world.scalar("SELECT count(*) FROM account") == 1
    assert world.scalar("SELECT count(*) FROM profile") == 1


def test_the_guess_works_within_one_file(world: World) -> None:
    _, outs = world.run(
        [row("C", ident="0045871", password=GOOD_PW), row("M", ident="45871", fin="31/12/2027")]
    )
    assert [(o.code, o.messages) for o in outs] == [
        (Code.OK, ("Compte créé",)),
        (Code.ALERTE, (ZEROS_GUESSED, "Date de fin modifiée")),
    ]


def test_a_login_that_names_an_account_of_ours_is_never_read_as_its_zero_padded_twin(
    world: World,
) -> None:
    """45871 and 0045871 are two accounts of the référent's (45871 created first, so the
    second C was no repair). An M or S naming 45871 means 45871, also in the file that
    creates 0045871: no guess, no ALERTE, and 0045871 is left alone."""
    world.run([row("C", ident="45871", password=GOOD_PW)])
    _, outs = world.run(
        [
            row("C", "Morel", "Paul", ident="0045871", password=GOOD_PW),
            row("M", ident="45871", email="cmartin@aphp.mssante.fr"),
        ]
    )
    assert [(o.code, o.messages) for o in outs] == [
        (Code.OK, ("Compte créé",)),
        (Code.OK, ("Email modifié",)),
    ]
    _, outs = world.run([row("S", ident="45871")])
    assert [(o.code, o.messages) for o in outs] == [(Code.OK, ("Profil supprimé",))]
    assert world.rows(
        "SELECT a.key, a.email, p.state FROM account a JOIN profile p ON p.account_id = a.id "
        "ORDER BY a.key"
    ) == [("0045871", None, "active"), ("45871", "cmartin@aphp.mssante.fr", "deleted")]


def test_two_padded_candidates_are_no_guess(world: World) -> None:
    world.run(
        [
            row("C", ident="0045871", password=GOOD_PW),
            row("C", "Morel", "Paul", ident="045871", password=GOOD_PW),
        ]
    )
    _, outs = world.run([row("M", ident="45871", email="x@aphp.mssante.fr")])
    assert [(o.code, o.messages) for o in outs] == [(Code.ERREUR, (PROFILE_MISSING,))]


def test_another_establishments_padded_login_is_never_looked_at(world: World) -> None:
    """Abuse: 0045871 belongs to the Ain's establishment only. Its look-alike 45871 in the
    Pitié's file gets exactly the answers an unknown login gets, and nothing there changes."""
    world.run([_ain("C", "Abel", "0045871", password=GOOD_PW)], submitter="ain")
    before = world.rows("SELECT key, nom, prenom, email FROM account ORDER BY key")

    def answers(ident: str) -> list[tuple[Code, tuple[str, ...]]]:
        _, outs = world.run(
            [
                row("M", ident=ident, email="x@aphp.mssante.fr"),
                row("S", ident=ident),
            ]
        )
        return [(o.code, o.messages) for o in outs]

    assert (
        answers("45871")
        == answers("99999")
        == [
            (Code.ERREUR, (PROFILE_MISSING,)),
            (Code.ERREUR, ("Ce profil n'existe pas ou est déjà supprimé : rien à supprimer.",)),
        ]
    )
    _, outs = world.run([row("C", "Zola", "Emile", ident="45871", password=GOOD_PW)])
    assert [(o.code, o.messages) for o in outs] == [(Code.OK, ("Compte créé",))]
    after = world.rows("SELECT key, nom, prenom, email FROM account ORDER BY key")
    assert after == [*before, ("45871", "Zola", "Emile", None)]
    assert (
        world.scalar(
            "SELECT count(*) FROM profile WHERE account_id = "
            "(SELECT id FROM account WHERE key = '0045871')"
        )
        == 1
    )


# --- through the daemon ------------------------------------------------------------------------


def test_the_daemon_reports_a_spreadsheets_damage_line_by_line(box: Inbox) -> None:
    """A file as Excel's « CSV (séparateur : point-virgule) » writes it back: the matricule
    without its zeros, a year on two digits, a lost letter."""
    box.drop("creation.csv", [row("C", "Dupont", "Jan", ident="0045871", password=GOOD_PW)])
    box.settle()
    box.drop(
        "retour.csv",
        [
            row("M", "Dupont", "Jan", ident="45871", fin="30/06/27"),
            row("C", "?ukasiewicz", "Jan", ident="jluk", password=GOOD_PW),
        ],
    )
    box.settle()
    report = next(p for p in box.reports() if p.name.startswith("retour."))
    rows = report_rows(report)
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        # The stateless rules' words first, then the store's.
        (
            "2",
            "ALERTE",
            f"date de fin complétée : 30/06/2027 | {ZEROS_GUESSED} | Date de fin modifiée",
        ),
        ("3", "ERREUR", f"Nom : {LOST}"),
        (
            "",
            "",
            "1 ligne réparée : le tableur avait écrit des années sur 2 chiffres — formatez ces "
            "colonnes en Texte",
        ),
    ]
    assert box.scalar("SELECT fin FROM profile") in (date(2027, 6, 30), "2027-06-30")
    assert box.scalar("SELECT count(*) FROM account") == 1
