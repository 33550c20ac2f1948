"""Properties of the stateless rules: no input crashes them, identifiers keep their promises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hypothesis import example, given
from hypothesis import strategies as st
from stdnum import luhn

from profilesync.config import PasswordSettings
from profilesync.fileformat import identifiers as ids
from profilesync.fileformat.outcome import Code, Problem
from profilesync.fileformat.rules import check_row


@dataclass(frozen=True)
class Row:
    number: int
    cells: tuple[str, ...]


TODAY = date(2026, 11, 26)
POLICY = PasswordSettings()
DEPARTEMENTS = [f"{n:02d}" for n in range(1, 96)] + ["2A", "2B", "97", "98"]

# Cells that are sometimes right, so that valid lines are generated too, not only garbage.
_MEANINGFUL = [
    ["750712184", "10780062", "2A0000154", "750712185", "1,00001E+10"],
    ["750100125", "010780062", "2B0004246", "75071218"],
    ["", "Urgences adultes", "Réa\nnimation"],
    ["C", "M", "S", "c", "X"],
    ["Dupont", "", "x" * 101, "Lefèvre"],
    ["Jean", "", "Anaïs"],
    ["", "10100473148", "10001234567", "810100473148", "1.01005E+10"],
    ["CDC3D", "CDC3E", "CDC3A", "CDC4", "CDC1", "cdc2", "SYNT", "OEC1", "OEC2", "", "CDC9"],
    ["", "jdupont", "hélène", "12345678901"],
    ["", "Tr3s-Secret-Pass!", "court"],
    ["", "a@mssante.fr", "x@gmail.com", "x@mssante.fr.evil.com", "pas une adresse"],
    ["", "01/01/2026", "2026-03-01", "45292", "31/02/2026", "1/3/26"],
    ["", "31/12/2027", "01/01/2020", "25/11/2026", "26/11/2026"],
]
_ANY_TEXT = st.text(max_size=30)


def _cell(i: int) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(_MEANINGFUL[i]), _ANY_TEXT)


_RANDOM_ROWS = st.tuples(*(_cell(i) for i in range(13))).flatmap(
    lambda cells: st.lists(_ANY_TEXT, max_size=2).map(lambda extra: cells + tuple(extra))
)
_VALID = [
    (
        "750712184", "750100125", "Urgences", "C", "Dupont", "Jean", "10100473148", "CDC3E",
        "", "Tr3s-Secret-Pass!", "jean.dupont@aphp.mssante.fr", "01/01/2026", "",
    ),
    ("010780062", "010780062", "", "M", "Roux", "Léa", "", "OEC1", "lroux", "", "", "", ""),
]  # fmt: skip


@st.composite
def _near_valid_rows(draw: st.DrawFn) -> tuple[str, ...]:
    """A valid row with up to 3 cells replaced: reaches the valid and the one-problem paths."""
    cells = list(draw(st.sampled_from(_VALID)))
    for i in draw(st.lists(st.integers(0, 12), max_size=3)):
        cells[i] = draw(_cell(i))
    return tuple(cells) + tuple(draw(st.lists(st.just(""), max_size=2)))


_ROWS = st.one_of(_RANDOM_ROWS, _near_valid_rows())


@given(_ROWS)
@example(("",) * 13)
@example(("",) * 15)
def test_any_row_gives_a_checked_whose_line_is_none_exactly_on_erreur(
    cells: tuple[str, ...],
) -> None:
    checked = check_row(Row(5, cells), TODAY, POLICY)
    assert checked.number == 5
    assert len(checked.cells) == 13
    has_erreur = any(p.code is Code.ERREUR for p in checked.problems)
    assert (checked.line is None) == has_erreur
    assert all(p.code in (Code.OK, Code.ALERTE, Code.ERREUR) for p in checked.problems)
    if cells[9]:
        assert checked.cells[9] == "***"
    if checked.line is not None:
        assert checked.line.number == 5


_PASSWORDS = st.text(min_size=1, max_size=20).map(lambda s: "PW§" + s)


@given(_ROWS, _PASSWORDS)
def test_the_password_never_reaches_a_message_or_the_cells(
    cells: tuple[str, ...], password: str
) -> None:
    cells = (*cells[:9], password, *cells[10:])
    checked = check_row(Row(1, cells), TODAY, POLICY)
    assert password not in checked.cells
    for problem in checked.problems:
        assert "PW§" not in problem.message


def _with_key(body: str) -> str:
    return body + luhn.calc_check_digit(body.replace("2A", "21").replace("2B", "22"))


_SIX_DIGITS = st.text(alphabet="0123456789", min_size=6, max_size=6)
_FINESS = st.builds(lambda dep, n: _with_key(dep + n), st.sampled_from(DEPARTEMENTS), _SIX_DIGITS)
_FINESS_01_09 = st.builds(
    lambda dep, n: _with_key(dep + n), st.sampled_from(DEPARTEMENTS[:9]), _SIX_DIGITS
)
_RPPS = st.text(alphabet="0123456789", min_size=10, max_size=10).map(
    lambda body: body + luhn.calc_check_digit(body)
)


def _one_digit_changed(value: str, data: st.DataObject) -> str:
    positions = [i for i, c in enumerate(value) if c.isdigit()]
    i = data.draw(st.sampled_from(positions))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != value[i]]))
    return value[:i] + digit + value[i + 1 :]


def _doctor_row(ej: str, et: str, rpps: str) -> Row:
    return Row(
        1,
        (ej, et, "", "C", "Dupont", "Jean", rpps, "CDC3D", "", "", "", "", ""),
    )


@given(_FINESS, st.data())
def test_generated_finess_passes_and_any_single_digit_change_fails(
    finess: str, data: st.DataObject
) -> None:
    assert ids.read_finess(finess, "Finess EJ") == (finess, None)
    checked = check_row(_doctor_row(finess, finess, "10100473148"), TODAY, POLICY)
    assert checked.problems == ()
    assert checked.line is not None
    assert (checked.line.ej, checked.line.et) == (finess, finess)

    changed = _one_digit_changed(finess, data)
    assert not ids.finess_valid(changed)
    value, problem = ids.read_finess(changed, "Finess EJ")
    assert value is None
    assert problem is not None
    assert problem.code is Code.ERREUR


@given(_FINESS_01_09)
def test_a_finess_whose_leading_zero_was_dropped_comes_back_with_a_note(finess: str) -> None:
    # SPEC 2b: a certain repair keeps the line OK, with a note naming the completed value.
    assert ids.read_finess(finess[1:], "Finess ET") == (
        finess,
        Problem.note(f"Finess ET complété : {finess}"),
    )


@given(_RPPS, st.data())
def test_generated_rpps_passes_and_any_single_digit_change_fails(
    rpps: str, data: st.DataObject
) -> None:
    assert ids.read_rpps(rpps) == (rpps, None)
    checked = check_row(_doctor_row("750712184", "750100125", rpps), TODAY, POLICY)
    assert checked.problems == ()
    assert checked.line is not None
    assert checked.line.rpps == rpps

    changed = _one_digit_changed(rpps, data)
    assert not ids.rpps_valid(changed)
    bad = check_row(_doctor_row("750712184", "750100125", changed), TODAY, POLICY)
    assert bad.line is None
    assert [p.code for p in bad.problems] == [Code.ERREUR]


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_luhn_ok_is_stdnum_luhn(digits: str) -> None:
    assert ids.luhn_ok(digits) is (luhn.checksum(digits) == 0)


_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31))


@given(_DATES)
def test_dates_round_trip_through_jj_mm_aaaa(value: date) -> None:
    text = ids.format_date(value)
    assert ids.read_date(text, "Date de fin", 2026) == (value, None)
    short = f"{value.day}/{value.month}/{value.year}"
    assert ids.read_date(short, "Date de fin", 2026) == (value, None)


@given(_DATES)
def test_iso_dates_are_read_with_a_note_naming_the_same_day(value: date) -> None:
    read, problem = ids.read_date(value.isoformat(), "Date de début", 2026)
    assert read == value
    assert problem == Problem.note(
        f"date de début lue au format AAAA-MM-JJ : {value.day:02d}/{value.month:02d}/{value.year}"
    )


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_LOCAL = st.from_regex(r"[A-Za-z0-9_+-]{1,10}(\.[A-Za-z0-9_+-]{1,10}){0,2}", fullmatch=True)


@given(_LOCAL, st.lists(_LABEL, max_size=3), st.sampled_from(["mssante.fr", "MSSante.FR"]))
def test_any_mssante_address_is_kept_lower_case(local: str, labels: list[str], domain: str) -> None:
    address = f"{local}@{'.'.join([*labels, domain])}"
    assert ids.read_mssante_email(address) == (address.lower(), None)
    value, problem = ids.read_mssante_email(address + ".evil.com")
    assert value is None
    assert problem is not None
    assert problem.code is Code.ALERTE
