"""An import file's bytes → numbered rows of trimmed cells (SPEC §2), streamed.

Two passes over the file, both streaming: `csvscan.scan` (bytes methods and C regexes)
rejects a bad file whole and picks the encoding; then the csv module reads rows. So a
rejection always comes before the first row, and memory stays flat whatever the size.
"""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from profilesync.config import LimitsSettings
from profilesync.fileformat import messages
from profilesync.fileformat.columns import COLUMNS, NCOLS, RPPS, SEED_COLUMNS
from profilesync.fileformat.csvscan import TRIM, FileRejected, Scan, scan

__all__ = [
    "FileRejected",
    "Row",
    "clean_cells",
    "is_header",
    "names_a_column",
    "read_rows",
    "rows_from_bytes",
]

# A header row is recognised when at least this many of the 13 column names are found in it.
HEADER_MIN_NAMES = 10


@dataclass(frozen=True, slots=True)
class Row:
    """A non-blank, non-header row: `number` is the physical line (1-based) where it starts."""

    number: int
    cells: tuple[str, ...]


def read_rows(path: Path, limits: LimitsSettings) -> Iterator[Row]:
    """The rows of the file at `path`; FileRejected comes, if at all, before the first row.

    Lazy: nothing is opened before the first `next()`. OSError (missing, unreadable file)
    is the caller's to handle: it is not a fault of the file's content.
    """
    with path.open("rb") as fh:
        yield from _read(fh, os.fstat(fh.fileno()).st_size, limits)


def rows_from_bytes(data: bytes, limits: LimitsSettings) -> Iterator[Row]:
    """`read_rows` on bytes already in memory (tests, the fuzzer)."""
    return _read(io.BytesIO(data), len(data), limits)


def _read(fh: BinaryIO, size: int, limits: LimitsSettings) -> Iterator[Row]:
    if size > limits.max_file_bytes:
        raise FileRejected(messages.file_too_big(size, limits.max_file_bytes))
    found = scan(fh, limits.max_file_bytes)
    if found.lines > limits.max_rows and found.lines - _has_header(fh, found) > limits.max_rows:
        # Physical lines only bound the rows (blank lines, multi-line cells): count the
        # real ones, which costs a second parse but only for a file this long.
        fh.seek(0)
        count = sum(1 for _ in _parse(fh, found))
        if count > limits.max_rows:
            raise FileRejected(messages.too_many_rows(count, limits.max_rows))
    fh.seek(0)
    yield from _parse(fh, found)


def _has_header(fh: BinaryIO, found: Scan) -> bool:
    """Whether the first non-blank row is the header: then a file of exactly max_rows rows
    plus its header (the usual export) is not parsed twice."""
    fh.seek(0)
    text = io.TextIOWrapper(fh, encoding=found.encoding, newline="")
    try:
        for raw in csv.reader(text, delimiter=";"):
            cells = _unwrap(tuple(map(_strip_all, raw)), _strip_all)
            if any(cells):
                return is_header(cells)
        return False
    finally:
        text.detach()


def _parse(fh: BinaryIO, found: Scan) -> Iterator[Row]:
    # newline="" hands CR, LF and CRLF to csv untranslated (RFC 4180 quoted line breaks)
    # and yields one physical line per item, so reader.line_num counts physical lines.
    text = io.TextIOWrapper(fh, encoding=found.encoding, newline="")
    # str.strip() trims exactly TRIM but the zero-width space and BOM, at a third of the
    # cost of strip(TRIM): this loop is the parser's hot path, so use it when it is enough.
    strip: Callable[[str], str] = _strip_all if found.exotic_spaces else str.strip
    formulas = found.formulas
    try:
        reader = csv.reader(text, delimiter=";", quotechar='"', doublequote=True, strict=False)
        first = True
        ended = 0  # physical line where the previous row ended
        for raw in reader:
            number, ended = ended + 1, reader.line_num
            cells = tuple(map(strip, raw))
            if formulas and '="' in "".join(cells):
                cells = _unwrap(cells, strip)
            if not any(cells):
                continue
            if len(cells) < NCOLS:
                cells += _PADDING[len(cells)]
            if first:
                first = False
                if is_header(cells):
                    continue
            row = _new_row(Row)
            _set_number(row, number)
            _set_cells(row, cells)
            yield row
    except (csv.Error, UnicodeDecodeError):
        # The pre-pass makes both impossible for the bytes it read: the file changed since.
        raise FileRejected(messages.FILE_CHANGED) from None
    finally:
        text.detach()  # leave the caller's file open


# Row(number, cells) without the frozen dataclass __init__ (two object.__setattr__ calls):
# the slot descriptors set the fields directly, 3x faster on the parser's hot path.
_new_row = object.__new__
_set_number = cast(Any, Row.__dict__["number"]).__set__
_set_cells = cast(Any, Row.__dict__["cells"]).__set__
_PADDING = tuple(("",) * (NCOLS - n) for n in range(NCOLS))


def _strip_all(cell: str) -> str:
    return cell.strip(TRIM)


def clean_cells(raw: Iterable[str]) -> tuple[str, ...]:
    """Cells as `read_rows` makes them, not padded: `masking` reads the archive's rows with it,
    so that the archive and the report judge the same values."""
    return _unwrap(tuple(map(_strip_all, raw)), _strip_all)


def _unwrap(cells: tuple[str, ...], strip: Callable[[str], str]) -> tuple[str, ...]:
    """`="007"` → `007`: spreadsheets keep leading zeros that way (inside, `""` is `"`)."""
    return tuple([_unwrap_cell(c, strip) if c[:2] == '="' else c for c in cells])


def _unwrap_cell(cell: str, strip: Callable[[str], str]) -> str:
    if len(cell) >= 3 and cell[-1] == '"':
        return strip(cell[2:-1].replace('""', '"'))
    return cell


def _norm(name: str) -> str:
    """A column name reduced to its letters and digits: no case, accents, spaces or
    punctuation (`N°`, `Nº` and `No` all become `no`; `’` and `'` vanish)."""
    decomposed = unicodedata.normalize("NFKD", name.replace("°", "o")).casefold()
    return "".join(ch for ch in decomposed if ch.isalnum())


# Column index by normalised name, with the variants référents type.
_NAMES: dict[str, int] = {
    _norm(name): i for names in (SEED_COLUMNS, COLUMNS) for i, name in enumerate(names)
}
_NAMES.update({"rpps": RPPS, "nrpps": RPPS, "numerorpps": RPPS})


# A report starts with these columns (SPEC §7): dropped back in the inbox, it is said so.
_REPORT_FIRST_NAMES = ("ligne", "code", "message")
_REPORT_CODES = frozenset({"OK", "ALERTE", "ERREUR"})


def _is_report_row(cells: tuple[str, ...]) -> bool:
    """Whether the first row is a report's: its header, or (header deleted) one of its rows,
    a line number and a code before the 13 columns. An import row's second cell is a
    FINESS, never a code."""
    if tuple(_norm(cell) for cell in cells[:3]) == _REPORT_FIRST_NAMES:
        return True
    return len(cells) > NCOLS and cells[0].isdigit() and cells[1] in _REPORT_CODES


def names_a_column(cell: str) -> bool:
    """Whether a header cell is one of the names `is_header` recognises."""
    return _norm(cell) in _NAMES


def is_header(cells: tuple[str, ...]) -> bool:
    """Whether the first non-blank row is the header; reject one whose columns are out of
    order (the data would silently land in the wrong columns).

    A header names at least HEADER_MIN_NAMES of the 13 columns (a renamed or missing
    name or two is tolerated); every name it has must sit in its own column.
    """
    if _is_report_row(cells):
        raise FileRejected(messages.REPORT_DROPPED)
    found = [(i, _NAMES.get(_norm(cell))) for i, cell in enumerate(cells) if cell]
    named = {col for _, col in found if col is not None}
    if len(named) < HEADER_MIN_NAMES:
        return False
    for position, col in found:
        if col is not None and col != position:
            raise FileRejected(messages.columns_out_of_order(COLUMNS[col], position + 1, col + 1))
    return True
