"""FINESS, RPPS, MSSanté email and dates, with the real public values of FINESS.md."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum import luhn

from profilesync.fileformat import identifiers as ids
from profilesync.fileformat import messages as msg
from profilesync.fileformat.outcome import Problem

EJ = "Finess EJ"
ET = "Finess ET"
DEBUT = "Date de début"

# ---------------------------------------------------------------------------------------------
# FINESS
# ---------------------------------------------------------------------------------------------

PUBLIC_FINESS = [
    "750712184",  # AP-HP (EJ)
    "750100125",  # Pitié-Salpêtrière (ET)
    "130786049",  # AP-HM
    "690781810",  # HCL
    "010780062",
    "2A0000154",
    "2B0000038",
    "2B0004246",
]


@pytest.mark.parametrize("value", PUBLIC_FINESS)
def test_public_finess_numbers_are_valid(value: str) -> None:
    assert ids.finess_valid(value)
    assert ids.read_finess(value, ET) == (value, None)


@pytest.mark.parametrize("value", ["2a0000154", "2b0004246"])
def test_corsican_letters_are_read_in_either_case(value: str) -> None:
    assert ids.read_finess(value, EJ) == (value.upper(), None)


def test_corsica_maps_to_21_and_22_in_one_place() -> None:
    assert ids.CORSICA_DIGITS == {"2A": "21", "2B": "22"}
    # 2A0000154 is valid because 210000154 passes Luhn; read 2A as 20 and it would not.
    assert ids.finess_valid("2A0000154")
    assert luhn.is_valid("210000154")
    assert not luhn.is_valid("200000154")


@pytest.mark.parametrize("value", ["750712185", "2A0000155", "750100126", "010780063"])
def test_wrong_key_is_refused(value: str) -> None:
    assert not ids.finess_valid(value)
    assert ids.read_finess(value, ET) == (None, Problem.erreur(msg.finess_key(ET)))
    assert msg.finess_key(ET) == "Finess ET : clé de contrôle fausse, vérifiez le n° FINESS"


def test_leading_zero_dropped_by_a_spreadsheet_is_completed_with_a_note() -> None:
    # SPEC 2b: a certain repair, the line stays OK.
    value, problem = ids.read_finess("10780062", EJ)
    assert value == "010780062"
    assert problem == Problem.note("Finess EJ complété : 010780062")


def test_eight_digits_that_stay_invalid_hint_at_a_missing_key() -> None:
    # 75071218 is AP-HP without its key: 075071218 does not pass either.
    assert ids.read_finess("75071218", ET) == (
        None,
        Problem.erreur(
            "Finess ET : 8 chiffres, faux même complété d'un 0 initial ; vérifiez le n° FINESS, "
            "sa clé (9e chiffre) manque peut-être"
        ),
    )


MALFORMED = (
    "n'est pas un n° FINESS (9 caractères : le département, 01 à 95, 2A, 2B, 97 ou 98, "
    "puis 7 chiffres)"
)


@pytest.mark.parametrize(
    "value",
    [
        "7507121840",  # 10 digits
        "7507121",  # 7 digits
        "75071218A",  # letter key
        "2C0000154",  # not a Corsican code
        "AB1234567",
        "750 712 184",
        "000000000",  # département 00 (passes Luhn)
        "990000002",  # département 99 (passes Luhn)
        "960000000",  # département 96
        "٧٥٠٧١٢١٨٤",  # Arabic-Indic digits: isdigit() says yes, FINESS says no
    ],
)
def test_malformed_finess_is_refused(value: str) -> None:
    assert ids.read_finess(value, EJ) == (None, Problem.erreur(f"Finess EJ : {MALFORMED}"))


@pytest.mark.parametrize("value", ["970000006", "980000004", "950000000", "200000008"])
def test_overseas_and_every_metropolitan_departement_are_accepted(value: str) -> None:
    assert luhn.is_valid(value)  # the test values themselves are right
    assert ids.finess_valid(value)


def test_finess_in_scientific_notation_hints_at_text_format() -> None:
    assert ids.read_finess("7,50712E+08", ET) == (
        None,
        Problem.erreur(
            "Finess ET : en notation scientifique, le tableur a perdu des chiffres ; formatez "
            "la colonne en Texte et saisissez à nouveau le numéro"
        ),
    )


# ---------------------------------------------------------------------------------------------
# RPPS
# ---------------------------------------------------------------------------------------------


def test_known_rpps_is_valid() -> None:
    assert ids.read_rpps("10100473148") == ("10100473148", None)


@pytest.mark.parametrize("body", ["1000000001", "1010047314", "2999999999", "0000000000"])
def test_generated_rpps_is_valid_whatever_its_first_digits(body: str) -> None:
    value = body + luhn.calc_check_digit(body)
    assert ids.rpps_valid(value)


@pytest.mark.parametrize("value", ["10001234567", "10101201234", "10100473149"])
def test_rpps_with_a_wrong_key_is_refused(value: str) -> None:
    assert ids.read_rpps(value) == (
        None,
        Problem.erreur("N° RPPS : clé de contrôle fausse, vérifiez le n° RPPS"),
    )


@pytest.mark.parametrize("value", ["1,00001E+10", "1.01005E+10", "1,01005e+10", "1E+10"])
def test_rpps_in_scientific_notation_hints_at_text_format(value: str) -> None:
    assert ids.read_rpps(value) == (
        None,
        Problem.erreur(
            "N° RPPS : en notation scientifique, le tableur a perdu des chiffres ; formatez la "
            "colonne en Texte et saisissez à nouveau le numéro"
        ),
    )


def test_national_pp_identifier_hints_at_removing_the_8() -> None:
    assert ids.read_rpps("810100473148") == (
        None,
        Problem.erreur(
            "N° RPPS : c'est l'identifiant national (8 suivi du n° RPPS) ; retirez le 8 initial"
        ),
    )


@pytest.mark.parametrize(
    "value",
    ["1010047314", "101004731480", "810100473149", "1010047314A", "٩٩٩٩٩٩٩٩٩٩٩", "10100 73148"],
)
def test_malformed_rpps_is_refused(value: str) -> None:
    assert ids.read_rpps(value) == (
        None,
        Problem.erreur("N° RPPS : n'est pas un n° RPPS (11 chiffres)"),
    )


@pytest.mark.parametrize("value", ["10100473148", "750712184", "0", "18", "79927398713"])
def test_luhn_ok_agrees_with_stdnum(value: str) -> None:
    assert ids.luhn_ok(value) is (luhn.checksum(value) == 0)


# ---------------------------------------------------------------------------------------------
# MSSanté email
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("anais.lefevre@mssante.fr", "anais.lefevre@mssante.fr"),
        ("jean.dupont@aphp.mssante.fr", "jean.dupont@aphp.mssante.fr"),
        ("Jean.Dupont@CH-Exemple.MSSANTE.FR", "jean.dupont@ch-exemple.mssante.fr"),
        ("a+b@pro.ch-exemple.mssante.fr", "a+b@pro.ch-exemple.mssante.fr"),
    ],
)
def test_mssante_addresses_are_kept_lower_case(text: str, stored: str) -> None:
    assert ids.read_mssante_email(text) == (stored, None)


NOT_MSSANTE = Problem.alerte(
    "Email : n'est pas une adresse MSSanté (…@mssante.fr ou …@<domaine>.mssante.fr) ; ignoré"
)
MALFORMED_EMAIL = Problem.alerte("Email : n'est pas une adresse email valide ; ignoré")


@pytest.mark.parametrize(
    "text",
    [
        "francois.oeuvre@gmail.com",
        "x@mssante.fr.evil.com",
        "x@xmssante.fr",
        "x@mssante.com",
        "x@mssante-fr.org",
    ],
)
def test_other_domains_are_ignored_with_alerte(text: str) -> None:
    assert ids.read_mssante_email(text) == (None, NOT_MSSANTE)


@pytest.mark.parametrize(
    "text",
    [
        "jean.dupont",
        "@mssante.fr",
        "jean@",
        "jean..dupont@mssante.fr",
        ".jean@mssante.fr",
        "jean dupont@mssante.fr",
        "jean@@mssante.fr",
        "jean@.mssante.fr",
        "jean@-x.mssante.fr",
        "jéan@mssante.fr",
        "jean@mssante.fr\n",
        "\u212a@mssante.fr",  # Kelvin sign: IGNORECASE alone would take it for k
        "x" * 65 + "@mssante.fr",
        "x@" + "a" * 250 + ".mssante.fr",
    ],
)
def test_malformed_addresses_are_ignored_with_alerte(text: str) -> None:
    assert ids.read_mssante_email(text) == (None, MALFORMED_EMAIL)


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

YEAR = 2026  # this year, as the rules get it from the injected clock


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/01/2026", date(2026, 1, 1)),
        ("1/3/2026", date(2026, 3, 1)),
        ("29/02/2028", date(2028, 2, 29)),
        ("31/12/9999", date(9999, 12, 31)),
        ("01/01/1900", date(1900, 1, 1)),
    ],
)
def test_dates_are_day_month_year(text: str, expected: date) -> None:
    assert ids.read_date(text, DEBUT, YEAR) == (expected, None)


def test_iso_date_is_repaired_with_a_note_saying_how_it_was_read() -> None:
    assert ids.read_date("2026-03-01", DEBUT, YEAR) == (
        date(2026, 3, 1),
        Problem.note("date de début lue au format AAAA-MM-JJ : 01/03/2026"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2026",
        "29/02/2027",
        "00/01/2026",
        "01/13/2026",
        "2026-02-30",
        "01/01/0001",
        "01/01/1899",
    ],
)
def test_dates_not_in_the_calendar_are_refused(text: str) -> None:
    assert ids.read_date(text, DEBUT, YEAR) == (
        None,
        Problem.erreur("Date de début : cette date n'existe pas dans le calendrier (JJ/MM/AAAA)"),
    )


def test_spreadsheet_serial_is_refused_with_the_date_it_probably_was() -> None:
    assert ids.read_date("45292", "Date de fin", YEAR) == (
        None,
        Problem.erreur(
            "Date de fin : n° de série de date du tableur (le 01/01/2024 ?) ; formatez la "
            "colonne en Texte et saisissez la date en JJ/MM/AAAA"
        ),
    )
    assert ids.read_date("46082,5", DEBUT, YEAR)[1] == Problem.erreur(
        msg.date_serial(DEBUT, "01/03/2026")
    )


@pytest.mark.parametrize(
    ("text", "this_year", "expected"),
    [
        ("01/03/26", 2026, date(2026, 3, 1)),
        ("1/3/26", 2026, date(2026, 3, 1)),
        ("30/06/27", 2026, date(2027, 6, 30)),
        # The window is [this year - 50, this year + 49]: both of its ends.
        ("01/01/76", 2026, date(1976, 1, 1)),
        ("31/12/75", 2026, date(2075, 12, 31)),
        ("01/01/00", 2026, date(2000, 1, 1)),
        ("15/08/99", 2026, date(1999, 8, 15)),
        # Another year moves the window: 1976 leaves it, 2076 enters.
        ("01/01/76", 2027, date(2076, 1, 1)),
    ],
)
def test_two_digit_years_are_completed_within_the_century_window(
    text: str, this_year: int, expected: date
) -> None:
    column = "Date de fin"
    assert ids.read_date(text, column, this_year) == (
        expected,
        Problem.note(
            f"date de fin complétée : {expected.day:02d}/{expected.month:02d}/{expected.year}"
        ),
    )


def test_two_digit_year_that_is_no_calendar_date_is_refused() -> None:
    assert ids.read_date("29/02/27", DEBUT, YEAR) == (
        None,
        Problem.erreur("Date de début : cette date n'existe pas dans le calendrier (JJ/MM/AAAA)"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "01-03-2026",
        "01.03.2026",
        "01032026",
        "2026",
        "1er mars 2026",
        "01/03/2026 00:00",
        "001/03/2026",
        "01/03/20266",
        "٠١/٠٣/٢٠٢٦",
        "2026-3-1",
    ],
)
def test_other_formats_are_refused(text: str) -> None:
    assert ids.read_date(text, DEBUT, YEAR) == (
        None,
        Problem.erreur("Date de début : n'est pas une date JJ/MM/AAAA"),
    )


def test_format_date_writes_jj_mm_aaaa() -> None:
    assert ids.format_date(date(2026, 3, 1)) == "01/03/2026"
    assert ids.format_date(date(1900, 12, 31)) == "31/12/1900"


def test_long_cells_are_judged_like_short_ones_without_being_cached() -> None:
    long_finess = "7" * 10_000
    assert ids.read_finess(long_finess, EJ) == (None, Problem.erreur(f"Finess EJ : {MALFORMED}"))
    assert ids.read_date("1" * 10_000, DEBUT, YEAR) == (
        None,
        Problem.erreur(msg.date_malformed(DEBUT)),
    )
    assert ids.read_date("01/01/2026" + " " * 10, DEBUT, YEAR)[0] is None


def test_cached_verdicts_keep_their_column() -> None:
    assert ids.read_finess("10780062", EJ)[1] == Problem.note("Finess EJ complété : 010780062")
    assert ids.read_finess("10780062", ET)[1] == Problem.note("Finess ET complété : 010780062")
    assert ids.read_date("45292", "Date de fin", YEAR)[1] != ids.read_date("45292", DEBUT, YEAR)[1]
