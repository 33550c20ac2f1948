"""Property tests of `check_file`: any input gives a report consistent with the exit code.

Random bytes may be rejected whole or not; random rows written the way a spreadsheet writes
them never are, and each non-blank row gets exactly one report row at its physical line.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profilesync.clock import FixedClock
from profilesync.config import Settings
from profilesync.fileformat.check import CheckResult, check_file
from profilesync.fileformat.columns import COLUMNS, NCOLS, PASSWORD
from profilesync.fileformat.csvscan import TRIM
from profilesync.fileformat.outcome import Code, Outcome
from profilesync.fileformat.report import read_report, report_cells
from speckit import guarded

CLOCK = FixedClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
SETTINGS = Settings()
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_check(data: bytes) -> tuple[CheckResult, list[Outcome]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        path.write_bytes(data)
        result = check_file(
            path, settings=SETTINGS, clock=CLOCK, report_path=Path(tmp) / "f.rapport.csv"
        )
        rows = read_report(result.report_path)
        leftovers = sorted(p.name for p in Path(tmp).iterdir())
    assert leftovers == ["f.csv", "f.rapport.csv"]  # no temporary file left behind
    return result, rows


def assert_consistent(result: CheckResult, rows: list[Outcome]) -> None:
    """The exit code, the summary and the report tell the same story."""
    if result.rejected_reason is not None:
        assert result.exit_code == 2
        assert rows == [Outcome(0, Code.ERREUR, (result.rejected_reason,), ("",) * NCOLS)]
        assert result.summary.total == 0
        return
    counts = Counter(row.code for row in rows)
    assert (result.summary.ok, result.summary.alerte, result.summary.erreur) == (
        counts[Code.OK],
        counts[Code.ALERTE],
        counts[Code.ERREUR],
    )
    assert result.exit_code == (1 if counts[Code.ERREUR] else 0)
    lines = [row.line for row in rows]
    assert all(n >= 1 for n in lines)
    assert lines == sorted(set(lines))
    for row in rows:
        assert len(row.cells) == NCOLS
        assert row.cells[PASSWORD] in {"", "***"}
        assert (row.code is Code.OK) == (row.messages == ())


# Bytes that matter to a CSV parser, and bits of real files, shuffled together.
_PIECES = st.sampled_from(
    [
        b";", b'"', b"\r\n", b"\n", b"\r", b"\x00", b"\xef\xbb\xbf", b"\xe9", b"\xc3\xa9",
        b"\x81", b"=", b"+", b",", b"\t", b"C", b"750712184", b"10000000017", b"CDC3E",
        b"01/01/2026", b'="010780062"', b"PK\x03\x04", b"\xff\xfe", ";".join(COLUMNS).encode(),
    ]
)  # fmt: skip


@PROPERTY
@given(data=st.one_of(st.binary(max_size=600), st.lists(_PIECES, max_size=80).map(b"".join)))
def test_random_bytes_never_crash(data: bytes) -> None:
    result, rows = run_check(data)
    assert_consistent(result, rows)


# Cell values: real ones (valid and damaged) and any text without a line break but \n.
_REAL = st.sampled_from(
    [
        "", " ", "\u00a0", "750712184", "750100125", "10780062", "2A0000154", "C", "m", "S",
        "X", "Dupont", "Lefèvre", "Œuvre", "N'Diaye", "10000000017", "1,00001E+10",
        "CDC3E", "cdc1", "OEC2", "MEDECIN", "jdupont", "Tr3s-Secret-Pass!", "court",
        "a@ch.mssante.fr", "x@gmail.com", "01/01/2026", "31/02/2027", "2027-01-01", "45292",
        "31/12/2025", '="010780062"', "=1+1", "-x", "@SUM(A1)", "Réa; nuit", 'dit "X"',
        "deux\nlignes",
    ]
)  # fmt: skip
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029"),
    max_size=12,
)
_ROW = st.lists(st.one_of(_REAL, _TEXT), min_size=2, max_size=NCOLS + 3)


def _cell(text: str) -> str:
    """A cell as the parser reads it: trimmed, `="…"` unwrapped."""
    text = text.strip(TRIM)
    if text.startswith('="') and text.endswith('"') and len(text) >= 3:
        text = text[2:-1].replace('""', '"').strip(TRIM)
    return text


_BREAK = re.compile(r"\r\n|\r|\n")


def _encode(text: str, encoding: str) -> bytes:
    """Windows-1252 only when it reads back as such: a file that decodes as UTF-8 is UTF-8."""
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")
    if encoding == "cp1252" and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return data
        return text.encode("utf-8")
    return data


@PROPERTY
@given(
    rows=st.lists(_ROW, max_size=25),
    header=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    newline=st.sampled_from(["\r\n", "\n"]),
)
def test_random_rows_one_report_row_each(
    rows: list[list[str]], header: bool, encoding: str, newline: str
) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator=newline)
    expected: list[tuple[int, tuple[str, ...]]] = []
    line = 1
    if header:
        writer.writerow(COLUMNS)
        line += 1
    for cells in rows:
        start = buf.tell()
        writer.writerow(cells)
        text = buf.getvalue()[start:]
        read = [_cell(c) for c in cells]
        if any(read):
            expected.append((line, tuple(read)))
        line += len(_BREAK.findall(text))
    text = buf.getvalue()
    data = _encode(text, encoding)
    result, report = run_check(data)
    assert_consistent(result, report)
    assert result.rejected_reason is None
    assert [row.line for row in report] == [n for n, _ in expected]
    for row, (_, cells) in zip(report, expected, strict=True):
        # Each cell as read, or `***` where the masking rule hides it (always the password).
        padded = (cells + ("",) * NCOLS)[:NCOLS]
        shown = report_cells(cells)
        assert row.cells == tuple(guarded(c) for c in shown)  # SPEC §7, literal starts
        assert all(s in {c, "***"} for s, c in zip(shown, padded, strict=True))
        assert shown[PASSWORD] == ("***" if padded[PASSWORD] else "")
