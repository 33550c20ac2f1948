"""Properties of csvfile: any bytes are rows or one clean rejection; what csv.writer writes
comes back, trimmed, with its physical line numbers."""

from __future__ import annotations

import contextlib
import csv
import io
import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from profilesync.config import LimitsSettings
from profilesync.fileformat.csvfile import FileRejected, Row, rows_from_bytes

LIMITS = LimitsSettings(max_rows=10_000)

# Bytes that exercise the parser's states: separators, quotes, the `="` trick, every line
# ending, spaces of all kinds, UTF-8 and Windows-1252 letters, bytes undefined in cp1252.
TOKENS = st.sampled_from(
    [
        b";",
        b'"',
        b'""',
        b'="',
        b"\r",
        b"\n",
        b"\r\n",
        b" ",
        b"\t",
        b",",
        b"a",
        b"0107",
        b"\xc3\xa9",
        b"\xe9",
        b"\xa0",
        b"\xc2\xa0",
        b"\xe2\x80\x8b",
        b"\xef\xbb\xbf",
        b"\x81",
        b"\x00",
        b"Finess EJ;Finess ET",
    ]
)
FUZZ = st.one_of(st.binary(max_size=300), st.lists(TOKENS, max_size=80).map(b"".join))


def physical_lines(data: bytes) -> int:
    return len(re.findall(rb"\r\n|\r|\n", data)) + 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FUZZ)
def test_any_bytes_give_rows_or_a_rejection_before_the_first_row(data: bytes) -> None:
    it = rows_from_bytes(data, LIMITS)
    got: list[Row] = []
    try:
        first = next(it, None)
    except FileRejected as exc:
        assert exc.reason
        return
    if first is not None:
        got = [first, *it]  # no FileRejected (nor anything else) once rows have come
    numbers = [r.number for r in got]
    assert numbers == sorted(set(numbers))
    assert all(1 <= n <= physical_lines(data) for n in numbers)
    for row in got:
        assert len(row.cells) >= 13
        assert any(row.cells)
        assert all(c == c.strip() and not c.startswith(("\u200b", "\ufeff")) for c in row.cells)


# Text a spreadsheet could hold in a cell: letters both encodings have, separators,
# quotes, line breaks, the spaces trimming removes, and `=` for the `="…"` trick.
CP1252_TEXT = st.text(
    alphabet=st.sampled_from(list("aZ09 éèçàÉŒœ€’'-,;\"=\t\r\n\u00a0.")), max_size=12
)
UTF8_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


def trim(cell: str) -> str:
    """Python whitespace, the zero-width space and BOM, in any mix, from both ends."""
    while True:
        stripped = cell.strip().strip("\u200b\ufeff")
        if stripped == cell:
            return cell
        cell = stripped


def expected_cell(cell: str) -> str:
    cell = trim(cell)
    formula = re.fullmatch(r'="(.*)"', cell, flags=re.DOTALL)
    return trim(formula.group(1).replace('""', '"')) if formula else cell


def line_breaks(text: str) -> int:
    return len(re.findall(r"\r\n|\r|\n", text))


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, tuple[str, ...]]]]:
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    text_cells = CP1252_TEXT if encoding == "cp1252" else UTF8_TEXT
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    table = draw(
        st.lists(
            st.lists(text_cells, min_size=13, max_size=15),
            min_size=1,
            max_size=8,
        )
    )
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator=eol)
    expected = []
    for drawn in table:
        # csv.writer quotes a lone CR only when CR is in its line terminator.
        cells = [c.replace("\r", "") for c in drawn] if eol == "\n" else drawn
        start = line_breaks(out.getvalue()) + 1
        writer.writerow(cells)
        row = tuple(expected_cell(c) for c in cells)
        if any(row):
            expected.append((start, row))
    text = out.getvalue()
    data = text.encode(encoding)
    if encoding == "cp1252":
        # The spec: a file that decodes as UTF-8 is UTF-8. Keep the cp1252 files that don't
        # (or are plain ASCII, where both agree).
        with contextlib.suppress(UnicodeDecodeError):
            assume(data.decode("utf-8") == text)
    return data, expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_what_csv_writer_writes_comes_back_trimmed_with_its_line_numbers(
    doc: tuple[bytes, list[tuple[int, tuple[str, ...]]]],
) -> None:
    data, expected = doc
    assert [(r.number, r.cells) for r in rows_from_bytes(data, LIMITS)] == expected
