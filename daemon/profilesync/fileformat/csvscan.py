"""The pre-pass over an import file's bytes: every whole-file rejection, found at C speed.

`csvfile.read_rows` promises to reject a file before yielding its first row (the importer
applies nothing of a rejected file and cannot hold 200,000 rows to find out). Choosing the
encoding needs a pass over the whole file anyway, so that one streaming pass over 1 MiB
chunks also finds binary files, unterminated quotes and absurdly long lines, and counts
physical lines. Every check is a bytes method or a possessive regex run by the C engine;
nothing is done per line in Python. This works on bytes, before decoding, because UTF-8
and Windows-1252 agree on every byte that matters here (`;` `"` CR LF NUL are ASCII and
never occur inside a UTF-8 multi-byte sequence).

Line breaks are CRLF, LF or a lone CR (old Mac spreadsheets), exactly as the csv module
and `io.TextIOWrapper(newline="")` split them, so line numbers agree with csvfile's.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import statistics
from dataclasses import dataclass
from typing import BinaryIO

from profilesync.errors import ProfilesyncError
from profilesync.fileformat import messages

CHUNK = 1 << 20
# A run of this many bytes without a line break, at an aligned offset, is a "long line".
# Any run of 2*WINDOW-1 bytes contains one, so every accepted line is under 64 KiB and,
# with QUOTED_MAX, no cell can reach csv's field_size_limit (131,072): the csv module can
# never raise while csvfile streams rows. CHUNK is a multiple of WINDOW.
WINDOW = 1 << 15
QUOTED_MAX = 1 << 16
# Bytes after an opening quote beyond which its cell cannot be shorter than QUOTED_MAX.
_CARRY_MAX = 2 * QUOTED_MAX + 2
# Non-blank rows looked at to decide whether the file is `;`-separated.
SNIFF_ROWS = 50
# A median row this wide on `;` is a `;` file whatever other separators its cells contain.
SURELY_SEMICOLON = 10

# What trimming removes around a cell: Python whitespace (which includes U+00A0 and U+202F,
# the no-break spaces of French typography) plus the zero-width space and a stray BOM.
TRIM = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\u200b\ufeff"

UTF8_BOM = codecs.BOM_UTF8
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "xlsx"),
    (b"PK\x05\x06", "xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (codecs.BOM_UTF16_LE, "utf16"),
    (codecs.BOM_UTF16_BE, "utf16"),
)
# The five bytes Windows-1252 leaves undefined (Python's cp1252 codec rejects them too).
_CP1252_HOLES = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
# What makes csvfile do more than str.strip() on every cell: the `="…"` spreadsheet trick,
# and (UTF-8 only) a zero-width space or a BOM inside the file.
_FORMULA = b'="'
_EXOTIC_SPACES = ("\u200b".encode(), codecs.BOM_UTF8)
# The quote structure of RFC 4180 as the csv module reads it (non-strict): runs without
# quotes; a quote inside an unquoted cell (preceded by a non-separator) is literal; a quote
# at the start of a cell opens a quoted cell that must close within QUOTED_MAX characters
# (`""` is an escaped quote). The match stops at the first quote that opens a cell that does
# not close in the buffer. The first branch is only a shortcut for the all-quoted rows
# LibreOffice writes (a run of simple quoted cells and separators in one step, 3x faster).
_WELL_QUOTED = re.compile(
    rb'(?:(?<![^;\r\n])(?:"[^"]{0,%d}+"[;\r\n]++)++'
    rb'|[^"]++'
    rb'|(?<=[^;\r\n])"'
    rb'|"[^"]{0,%d}+"(?!")'
    rb'|"(?:[^"]|""){0,%d}+"(?!")'
    rb")*+" % (QUOTED_MAX, QUOTED_MAX, QUOTED_MAX)
)
_CLOSED_QUOTED = re.compile(rb'"[^"]*+(?:""[^"]*+)*+"(?!")')


class FileRejected(ProfilesyncError):
    """The file as a whole cannot be read as an import file; nothing of it is applied."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Scan:
    """What the pre-pass learnt: how to decode the file and an upper bound on its rows."""

    encoding: str
    lines: int  # physical lines: an upper bound on rows
    formulas: bool  # some cell may be a `="…"`
    exotic_spaces: bool  # a zero-width space or an inner BOM: str.strip() is not enough


def _breaks(buf: bytes, start: int, end: int) -> int:
    """Line breaks (CRLF, LF, lone CR) ending in buf[start:end]."""
    return (
        buf.count(b"\n", start, end) + buf.count(b"\r", start, end) - buf.count(b"\r\n", start, end)
    )


def sniff_binary(head: bytes) -> str | None:
    """The kind of binary file these first bytes announce (a key of messages.not_text)."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


class _Scanner:
    """Consumes the file chunk by chunk; raises FileRejected as soon as a check fails.

    Each chunk is looked at as `buf = context + data`, where `context` is the byte before
    `data` (a fake LF at the start of the file) so that regex lookbehinds and CRLF pairs
    split across chunks read correctly; `line` is the line number of `data[0]`.
    """

    def __init__(self) -> None:
        self.offset = 0
        self.line = 1
        self.last = b"\n"
        self.utf8: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
        self.utf8_error_line = 0
        self.hole: tuple[int, int] | None = None  # (byte, line) of the first cp1252 hole
        self.bom = False
        # Quote state: unconsumed bytes (from an opening quote or a partial line) and the
        # byte before them.
        self.pending = b""
        self.pending_last = b"\n"
        self.formulas = False
        self.exotic_spaces = False
        self.tail = b""

    def line_at(self, buf: bytes, pos: int) -> int:
        """Line number of buf[pos] (buf[0] is the context byte, buf[1] the chunk start)."""
        return self.line + _breaks(buf, 0, pos) - _breaks(buf, 0, 1)

    def feed(self, data: bytes) -> None:
        quoted = data
        if self.offset == 0:
            kind = sniff_binary(data)
            if kind is not None:
                raise FileRejected(messages.not_text(kind))
            if data.startswith(UTF8_BOM):
                # Kept for the other checks (three harmless bytes, and the windows stay
                # aligned), hidden from the quote scan: a quote right after it opens a cell.
                self.bom = True
                quoted = data[len(UTF8_BOM) :]
        if b"\0" in data:
            raise FileRejected(messages.not_text("binary"))
        buf = self.last + data
        breaks = _breaks(buf, 0, len(buf)) - _breaks(buf, 0, 1)
        self._check_windows(buf)
        self._check_encoding(buf)
        self._check_plain(quoted)
        self._check_quotes(quoted, self.line + breaks, final=False)
        self.line += breaks
        self.offset += len(data)
        self.last = data[-1:]

    def _check_plain(self, data: bytes) -> None:
        edge = self.tail + data[:2]  # a sequence split between two chunks
        self.tail = data[-2:]
        # A one-byte `in` is memchr; the whole sequence is searched only if its first
        # byte occurs (`=` is rare, and 0xE2 0xEF are in UTF-8 files only).
        if not self.formulas:
            self.formulas = (b"=" in data and _FORMULA in data) or _FORMULA in edge
        if not self.exotic_spaces:
            self.exotic_spaces = any(
                (seq[:1] in data and seq in data) or seq in edge for seq in _EXOTIC_SPACES
            )

    def _check_windows(self, buf: bytes) -> None:
        # Windows aligned on file offsets: chunks start at multiples of CHUNK, itself a
        # multiple of WINDOW, so every window lies inside the chunk it starts in.
        for start in range(1, len(buf) - WINDOW + 1, WINDOW):
            end = start + WINDOW
            if buf.find(b"\n", start, end) < 0 and buf.find(b"\r", start, end) < 0:
                raise FileRejected(messages.line_too_long(self.line_at(buf, start)))

    def _check_encoding(self, buf: bytes) -> None:
        if self.utf8 is not None:
            undecoded = len(self.utf8.getstate()[0])
            try:
                self.utf8.decode(buf[1:])
            except UnicodeDecodeError as exc:
                self.utf8 = None
                self.utf8_error_line = self.line_at(buf, max(1, 1 + exc.start - undecoded))
        if self.hole is None:
            # bytes.find is memchr: five of them beat one regex character class tenfold.
            found = [i for i in (buf.find(h, 1) for h in _CP1252_HOLES) if i >= 0]
            if found:
                first = min(found)
                self.hole = (buf[first], self.line_at(buf, first))

    def _check_quotes(self, data: bytes, end_line: int, *, final: bool) -> None:
        """`end_line` is the line number just after `data` (for error messages)."""
        if not self.pending and not final and b'"' not in data:
            # Fast path: no quote in a chunk that starts a line outside quotes.
            self.pending_last = data[-1:] or self.pending_last
            return
        buf = self.pending_last + self.pending + data
        # Only whole lines are judged: a quote at the very end could be half of a `""`.
        cut = len(buf) if final else max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
        stop = max(cut, 1)
        if cut > 1:
            end = _WELL_QUOTED.match(buf, 1, cut)
            if end is not None and end.end() < cut:
                # An opening quote whose cell does not close before `cut`.
                stop = end.end()
                self._judge_open_quote(buf, stop, cut, end_line, final=final)
        self.pending_last, self.pending = buf[stop - 1 : stop], buf[stop:]

    @staticmethod
    def _judge_open_quote(buf: bytes, start: int, cut: int, end_line: int, *, final: bool) -> None:
        if (
            not final
            and cut - start <= _CARRY_MAX
            and _CLOSED_QUOTED.match(buf, start, cut) is None
        ):
            return  # may still close in the next chunk
        # Counted backwards from the end: the open quote is usually near it.
        line = end_line - (_breaks(buf, start - 1, len(buf)) - _breaks(buf, start - 1, start))
        if _CLOSED_QUOTED.match(buf, start, cut) is not None or cut - start > _CARRY_MAX:
            raise FileRejected(messages.cell_too_long(line))
        raise FileRejected(messages.unterminated_quote(line))

    def finish(self) -> Scan:
        self._check_quotes(b"", self.line, final=True)
        if self.utf8 is not None:
            try:
                self.utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8 = None
                self.utf8_error_line = self.line
        # Physical lines: the last one counts only if something follows its line break.
        lines = self.line - (self.last in (b"\r", b"\n"))
        if self.utf8 is not None:
            return Scan("utf-8-sig", lines, self.formulas, self.exotic_spaces)
        if self.bom:
            raise FileRejected(messages.invalid_utf8_with_bom(self.utf8_error_line))
        if self.hole is not None:
            raise FileRejected(messages.undecodable(self.hole[1]))
        return Scan("cp1252", lines, self.formulas, self.exotic_spaces)


def scan(fh: BinaryIO, max_bytes: int) -> Scan:
    """Read the whole file once from its current position; raise FileRejected or say how
    to decode it. `max_bytes` guards a file that grows while it is read."""
    scanner = _Scanner()
    head = b""
    while chunk := fh.read(CHUNK):
        if not head:
            head = chunk
        scanner.feed(chunk)
        if scanner.offset > max_bytes:
            raise FileRejected(messages.FILE_CHANGED)
    result = scanner.finish()
    check_separator(_decode_head(head, result.encoding))
    return result


def _decode_head(head: bytes, encoding: str) -> str:
    # final=False drops a multi-byte character cut by the chunk boundary.
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


def _cell_counts(text: str, delimiter: str) -> list[int]:
    """Cells per row of the first SNIFF_ROWS non-blank rows, split on `delimiter`."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    counts: list[int] = []
    try:
        for cells in reader:
            if any(c.strip(TRIM) for c in cells):
                counts.append(len(cells))
                if len(counts) == SNIFF_ROWS:
                    break
    except csv.Error:  # another delimiter can misread the quotes of a `;` file
        pass
    return counts


def check_separator(head: str) -> None:
    """Reject a file that is not `;`-separated, naming the separator it uses instead.

    Split the first SNIFF_ROWS non-blank rows on `;`, and again on `,`, tab and `|`. The
    file is `;`-separated when its (upper) median row has at least two cells split on `;`,
    and either at least SURELY_SEMICOLON of them or no fewer than on any other separator.
    So a `;` file whose names or decimals contain commas is kept, a title line above the
    rows is tolerated, a comma file with a `;` inside a quoted cell is rejected. A file
    with no non-blank row passes.
    """
    semicolon = _cell_counts(head, ";")
    if not semicolon:
        return
    typical = statistics.median_high(semicolon)
    others = {d: statistics.median_high(_cell_counts(head, d) or [1]) for d in (",", "\t", "|")}
    best = max(others, key=lambda d: others[d])
    if typical >= 2 and (typical >= SURELY_SEMICOLON or typical >= others[best]):
        return
    if others[best] >= 2:
        raise FileRejected(messages.wrong_separator(best))
    raise FileRejected(messages.SINGLE_COLUMN)
