"""The fast paths give the answers of the plain code they replace (see benchmarks/README.md).

Each shortcut taken for speed (verdict caches, split email match, joined report rows,
`report_row` without a Line) is held equal here to the straightforward version.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from importkit import letters
from profilesync.config import PasswordSettings
from profilesync.fileformat import folding, rules
from profilesync.fileformat import identifiers as ids
from profilesync.fileformat import messages as msg
from profilesync.fileformat.outcome import Code, Outcome, Problem
from profilesync.fileformat.report import (
    BOM,
    HEADER,
    ReportError,
    ReportWriter,
    read_report,
    report_cells,
)
from speckit import guarded

TODAY = date(2026, 11, 26)
POLICY = PasswordSettings()


@dataclass(frozen=True)
class Row:
    number: int
    cells: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# identifiers
# ---------------------------------------------------------------------------------------------


def reference_email(text: str) -> ids.Parsed:
    """read_mssante_email as first written: two whole-cell matches."""
    if len(text) <= ids.EMAIL_MAX and text.find("@") <= 64:
        if ids._MSSANTE_EMAIL.fullmatch(text) is not None:
            return text.lower(), None
        if ids._EMAIL.fullmatch(text) is not None:
            return None, Problem.alerte(msg.EMAIL_NOT_MSSANTE)
    return None, Problem.alerte(msg.EMAIL_MALFORMED)


_EMAIL_ALPHABET = st.sampled_from("aZ09.-_@+!'K\u212aſé ") | st.characters()
_EMAIL_PARTS = st.sampled_from(
    ["mssante.fr", "MSSante.FR", "aphp.mssante.fr", "gmail.com", "mssante.fr.evil.com", "x", ""]
)


@given(
    st.text(_EMAIL_ALPHABET, max_size=80)
    | st.emails()
    | st.builds(lambda a, b: f"{a}@{b}", st.text(_EMAIL_ALPHABET, max_size=70), _EMAIL_PARTS)
)
@example("a" * 64 + "@mssante.fr")
@example("a" * 65 + "@mssante.fr")
@example("a@" + "b" * 250 + ".mssante.fr")
@example("a@b@mssante.fr")
@example("@mssante.fr")
@example("a.@mssante.fr")
@example("\u212a@mssante.fr")
def test_email_reader_equals_the_whole_cell_patterns(text: str) -> None:
    assert ids.read_mssante_email(text) == reference_email(text)
    assert ids.read_mssante_email(text) == reference_email(text)  # now from the domain cache


@given(st.text(st.sampled_from("0123456789٣²１a"), max_size=13))
@example("10100473148")
@example("10100473149")
def test_rpps_valid_equals_the_pattern_and_luhn(text: str) -> None:
    expected = re.fullmatch(r"[0-9]{11}", text) is not None and ids.luhn_ok(text)
    assert ids.rpps_valid(text) is expected


# ---------------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------------


def reference_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@given(st.text(max_size=30))
@example("Lefèvre")
@example("İstanbul")
@example("Œuvre ß ﬁ")
@example("e\u0301\u0301")
def test_fold_equals_dropping_combining_marks_one_by_one(text: str) -> None:
    assert folding.fold(text) == reference_fold(text)


def former_store_fold(text: str) -> str:
    """The store's own fold before it used `folding`: case-folded first, then decomposed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


# The two orders differ only on characters no name is written with: mathematical and
# enclosed letters, unit squares, modifier capitals (the former fold left them upper-case)
# and the Greek iota subscript and symbol variants (U+0345, U+03D2-U+03D4, U+03F2, U+03F9).
_NAME_CHARS = st.characters(
    max_codepoint=0x52F,  # Latin, Latin-1, Latin Extended, IPA, combining marks, Greek, Cyrillic
    exclude_characters="\u0345\u03d2\u03d3\u03d4\u03f2\u03f9",
)


@given(st.text(_NAME_CHARS | st.sampled_from(" \t\u00a0\u202f\u0301"), max_size=30))
@example("LEFEVRE  elodie")
@example(" Lefe\u0300vre\u00a0Élodie ")
@example("Œdipe ß")
def test_same_person_fold_is_unchanged_on_the_scripts_names_are_written_in(text: str) -> None:
    assert folding.fold_words(text) == former_store_fold(text)


_CELLS = st.tuples(
    st.sampled_from(["750712184", "75071218", ""]) | st.text(max_size=12),
    st.sampled_from(["750100125", "2A0000154"]) | st.text(max_size=12),
    st.sampled_from(["", "Urgences", "Réa\x07"]) | st.text(max_size=12),
    st.sampled_from(["C", "M", "S", "c", "X", ""]),
    st.sampled_from(["Dupont", "", "x" * 101, "Lefèvre", "Le\u0301fe\u0300vre"]) | st.text(),
    st.sampled_from(["Jean", "", "Anaïs"]) | st.text(max_size=12),
    st.sampled_from(["", "10100473148", "10001234567", "1.01005E+10"]),
    st.sampled_from(["CDC3D", "CDC3E", "CDC4", "CDC1", "oec1", "", "X"]),
    st.sampled_from(["", "jdupont", "12345678901", "Dupont"]),
    st.sampled_from(["", "Tr3s-Secret-Pass!", "court", "Pass-Lefevre-123!", "Jdupont-Pass-1"]),
    st.sampled_from(["", "a@mssante.fr", "x@gmail.com", "pas une adresse"]),
    st.sampled_from(["", "01/01/2026", "2026-03-01", "45292", "31/02/2026"]),
    st.sampled_from(["", "31/12/2027", "01/01/2020", "26/11/2026"]),
).flatmap(lambda cells: st.lists(st.sampled_from(["", "CDC1", "x"]), max_size=3).map(
    lambda extra: cells + tuple(extra)
))  # fmt: skip


@given(_CELLS)
def test_report_row_is_check_row_without_the_line(cells: tuple[str, ...]) -> None:
    row = Row(7, cells)
    checked = rules.check_row(row, TODAY, POLICY)
    assert rules.report_row(row, TODAY, POLICY) == (checked.cells, checked.problems)
    # A second judgement comes from the verdict caches: the same answer.
    assert rules.check_row(row, TODAY, POLICY) == checked


def test_cached_verdicts_name_their_own_column() -> None:
    cells = ("750712184", "750100125", "", "M", "A\x07b", "A\x07b", "", "CDC1", "ab")
    row = Row(3, (*cells, "", "", "", ""))
    messages = [p.message for p in rules.check_row(row, TODAY, POLICY).problems]
    assert messages == [
        msg.text_invisible("Nom", "\x07", 2),
        msg.text_invisible("Prénom", "\x07", 2),
    ]
    assert [p.message for p in rules.check_row(row, TODAY, POLICY).problems] == messages


def test_verdict_caches_stay_bounded_and_right_after_being_emptied() -> None:
    base = ["750712184", "750100125", "", "M", "Dupont", "Jean", "", "CDC1", "jd", "", "", "", ""]
    for n in range(rules._SEEN_MAX + 10):
        base[4] = f"Nom{letters(n)}"
        line = rules.check_row(Row(n, tuple(base)), TODAY, POLICY).line
        assert line is not None
        assert line.nom == f"Nom{letters(n)}"
        assert len(rules._NOM_SEEN) <= rules._SEEN_MAX
    base[4] = "N" * (rules._SEEN_CELL_MAX + 1)
    checked = rules.check_row(Row(1, tuple(base)), TODAY, POLICY)
    assert base[4] not in rules._NOM_SEEN
    assert [p.message for p in checked.problems] == [
        msg.text_too_long("Nom", rules._SEEN_CELL_MAX + 1, rules.NAME_MAX)
    ]


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------


def reference_report(outcomes: list[Outcome]) -> bytes:
    """Every row through csv.writer, every cell through the injection guard."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    out.write(BOM)
    writer.writerow(HEADER)
    for o in outcomes:
        texts = (" | ".join(o.messages), *report_cells(o.cells))
        writer.writerow((o.line, o.code, *map(guarded, texts)))
    return out.getvalue().encode("utf-8", errors="replace")


_REPORT_TEXT = st.text(";\"\r\n=+-@\t\x1f aé€'\u2028\U0001f600\udc80", max_size=8)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(Code),
            st.lists(_REPORT_TEXT, max_size=2),
            st.lists(_REPORT_TEXT, min_size=13, max_size=15),
        ),
        max_size=10,
    )
)
@example([(Code.OK, [], ["750712184", "", "Réa; nuit", *[""] * 10])])
@example([(Code.OK, [], ["=1+1", *[""] * 12])])
@example([(Code.ALERTE, ["-x"], ["a", "b\r\nc", *[""] * 11])])
def test_report_rows_are_byte_identical_to_csv_writer(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[Code, list[str], list[str]]]
) -> None:
    outcomes = [
        Outcome(n, code, tuple(messages), tuple(cells))
        for n, (code, messages, cells) in enumerate(rows, start=1)
    ]
    target = tmp_path_factory.mktemp("r") / "r.csv"
    # fsync is durability, not content: skipped so that 100 reports take no time.
    with pytest.MonkeyPatch.context() as mp, ReportWriter(target) as writer:
        mp.setattr("profilesync.fileformat.report.os.fsync", lambda fd: None)
        for o in outcomes:
            if o.code is Code.OK and not o.messages:
                writer.write_ok(o.line, o.cells)
            else:
                writer.write(o)
    assert target.read_bytes() == reference_report(outcomes)
    assert writer.summary.total == len(outcomes)


def test_write_ok_counts_masks_and_is_discarded_by_reject(tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    cells = ("750712184", *[""] * 8, "secret", "", "", "")
    with ReportWriter(target) as writer:
        writer.write_ok(2, cells)
        writer.write(Outcome(3, Code.OK, (), cells))
        assert writer.summary.ok == 2
        assert not target.exists()  # nothing under the final name before the end
    reported = read_report(target)
    assert [o.cells[9] for o in reported] == ["***", "***"]
    assert [o.code for o in reported] == [Code.OK, Code.OK]
    with ReportWriter(target) as writer:
        writer.write_ok(2, cells)
        writer.reject("refusé")
        assert writer.summary.total == 0
        with pytest.raises(ReportError):
            writer.write_ok(3, cells)
    assert [(o.line, o.messages) for o in read_report(target)] == [(0, ("refusé",))]
