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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from profilesync import messages
from profilesync.columns import COLUMNS, NCOLS, RPPS
from profilesync.config import LimitsSettings
from profilesync.csvscan import TRIM, FileRejected, Scan, scan

__all__ = ["FileRejected", "Row", "read_rows", "rows_from_bytes"]

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
    if found.lines > limits.max_rows:
        # Physical lines only bound the rows (blank lines, the header, multi-line cells):
        # count the real ones, which costs a second parse but only for a file this long.
        fh.seek(0)
        count = sum(1 for _ in _parse(fh, found))
        if count > limits.max_rows:
            raise FileRejected(messages.too_many_rows(count, limits.max_rows))
    fh.seek(0)
    yield from _parse(fh, found)


def _parse(fh: BinaryIO, found: Scan) -> Iterator[Row]:
    # newline="" hands CR, LF and CRLF to csv untranslated (RFC 4180 quoted line breaks)
    # and yields one physical line per item, so reader.line_num counts physical lines.
    text = io.TextIOWrapper(fh, encoding=found.encoding, newline="")
    # The common file has no `="…"`, zero-width space or inner BOM: str.strip() alone
    # then trims exactly TRIM, at a third of the cost (this loop is the parser's hot path).
    clean = _strip_plain if found.plain else _clean
    try:
        reader = csv.reader(text, delimiter=";", quotechar='"', doublequote=True, strict=False)
        first = True
        ended = 0  # physical line where the previous row ended
        for raw in reader:
            number, ended = ended + 1, reader.line_num
            cells = clean(raw)
            if not any(cells):
                continue
            if len(cells) < NCOLS:
                cells += _PADDING[len(cells)]
            if first:
                first = False
                if _is_header(cells):
                    continue
            yield Row(number, cells)
    except (csv.Error, UnicodeDecodeError):
        # The pre-pass makes both impossible for the bytes it read: the file changed since.
        raise FileRejected(messages.FILE_CHANGED) from None
    finally:
        text.detach()  # leave the caller's file open


_PADDING = tuple(("",) * (NCOLS - n) for n in range(NCOLS))


def _strip_plain(raw: list[str]) -> tuple[str, ...]:
    return tuple(map(str.strip, raw))


def _clean(raw: list[str]) -> tuple[str, ...]:
    """Trimmed cells, `="…"` unwrapped (spreadsheets keep leading zeros with `="007"`;
    inside, `""` is a quote)."""
    cells = [c.strip(TRIM) for c in raw]
    for i, cell in enumerate(cells):
        if cell.startswith('="') and cell.endswith('"') and len(cell) >= 3:
            cells[i] = cell[2:-1].replace('""', '"').strip(TRIM)
    return tuple(cells)


def _norm(name: str) -> str:
    """A column name reduced to its letters and digits: no case, accents, spaces or
    punctuation (`N°`, `Nº` and `No` all become `no`; `’` and `'` vanish)."""
    decomposed = unicodedata.normalize("NFKD", name.replace("°", "o")).casefold()
    return "".join(ch for ch in decomposed if ch.isalnum())


# Column index by normalised name, with the variants référents type.
_NAMES: dict[str, int] = {_norm(name): i for i, name in enumerate(COLUMNS)}
_NAMES.update({"rpps": RPPS, "nrpps": RPPS, "numerorpps": RPPS})


def _is_header(cells: tuple[str, ...]) -> bool:
    """Whether the first non-blank row is the header; reject one whose columns are out of
    order (the data would silently land in the wrong columns).

    A header names at least HEADER_MIN_NAMES of the 13 columns (a renamed or missing
    name or two is tolerated); every name it has must sit in its own column.
    """
    found = [(i, _NAMES.get(_norm(cell))) for i, cell in enumerate(cells) if cell]
    named = {col for _, col in found if col is not None}
    if len(named) < HEADER_MIN_NAMES:
        return False
    for position, col in found:
        if col is not None and col != position:
            raise FileRejected(messages.columns_out_of_order(COLUMNS[col], position + 1, col + 1))
    return True
