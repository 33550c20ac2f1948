"""The report of SPEC §7: one row per reported line, written so that a crash never leaves half.

The report is what a référent opens in Excel, so its format is Excel's: UTF-8 with a BOM
(else Excel guesses Windows-1252 and mangles the accents), CRLF, `;`. It is streamed row by
row to a temporary file beside its final name and renamed into place only once complete:
a reader (the référent, the file share) sees either no report or the whole one.
"""

from __future__ import annotations

import csv
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Final

from profilesync import filemodes, layout
from profilesync.errors import ProfilesyncError
from profilesync.fileformat import messages as msg
from profilesync.fileformat.columns import COLUMNS, DEBUT, EJ, ET, FIN, NCOLS
from profilesync.fileformat.masking import Masked, masked_cells
from profilesync.fileformat.outcome import Code, Outcome, Summary

if TYPE_CHECKING:
    from _csv import Writer as CsvWriter

HEADER: Final = ("Ligne", "Code", "Message", *COLUMNS)
MESSAGE_SEPARATOR: Final = " | "
BOM: Final = "\ufeff"
REJECTED_LINE: Final = 0

# A cell starting with one of these is a formula (or becomes one) for Excel/LibreOffice.
_FORMULA_STARTS: Final = frozenset("=+-@\t\r")
_FORMULA_START_CLASS: Final = "[" + re.escape("".join(sorted(_FORMULA_STARTS))) + "]"
# The same test on cells joined by _UNIT_SEP (a literal first: a fast search); a _UNIT_SEP
# inside a cell can only cause a false alarm, which the per-cell test then clears.
_UNIT_SEP: Final = "\x1f"
_FORMULA_CELL: Final = re.compile(_UNIT_SEP + _FORMULA_START_CLASS)
_EMPTY_CELLS: Final = ("",) * NCOLS
_SEPARATOR: Final = ";"
# A cell starting like a formula, in a row whose `;` are all separators.
_FORMULA_AFTER_SEPARATOR: Final = re.compile(_SEPARATOR + _FORMULA_START_CLASS)
_OK: Final = Code.OK
_BUFFER_BYTES: Final = 1 << 16
_TEMP_ATTEMPTS: Final = 100


# The notes of the certain repairs (SPEC 2b), by how they start, and what the summary says
# of each kind: read back from the words, since outcomes come back from the database as text.
_REPAIR_NOTES: Final = tuple(
    (note(column, ""), cause)
    for columns, note, cause in (
        ((COLUMNS[EJ], COLUMNS[ET]), msg.finess_completed, msg.FINESS_REPAIRED),
        ((COLUMNS[DEBUT], COLUMNS[FIN]), msg.date_year_completed, msg.YEAR_REPAIRED),
        ((COLUMNS[DEBUT], COLUMNS[FIN]), msg.date_iso, msg.ISO_REPAIRED),
    )
    for column in columns
)


def repair_cause(message: str) -> str | None:
    """What the summary says of the certain repair `message` notes, or None for any other."""
    for start, cause in _REPAIR_NOTES:
        if message.startswith(start):
            return cause
    return None


class ReportError(ProfilesyncError):
    """The report writer was used out of order (write after reject, write outside `with`)."""


class NotAReport(ProfilesyncError):
    """A file read back as a report does not have the report's header."""


def neutralised(cell: str) -> str:
    """The cell with a leading `'` when a spreadsheet would read it as a formula (SPEC §7)."""
    if cell and cell[0] in _FORMULA_STARTS:
        return "'" + cell
    return cell


def unneutralised(cell: str) -> str:
    """The cell as typed, without the `'` that `neutralised` put before a formula start."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_STARTS:
        return cell[1:]
    return cell


def _csv_field(text: str) -> str:
    """One field as csv.writer (QUOTE_MINIMAL, `;`, CRLF) writes it inside a row."""
    if _SEPARATOR in text or '"' in text or "\r" in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def report_cells(cells: tuple[str, ...]) -> tuple[str, ...]:
    """The 13 cells a report shows for an input row, masked by `masking.masked_cells`.

    Cells the rules masked (`Masked`, with the configured policy) are shown as they are;
    any other cells (a row as read, outcomes read back from the database) go through the
    rule here. Masking twice would change nothing: the rule is idempotent and the rules'
    thresholds are never above the default ones used here.
    """
    if type(cells) is Masked and len(cells) == NCOLS:
        return cells
    out: tuple[str, ...] = masked_cells(cells)
    if len(out) != NCOLS:
        out = (out + _EMPTY_CELLS)[:NCOLS]
    return out


def default_report_path(input_path: Path) -> Path:
    """`<stem>.rapport.csv` beside the input: where `check` writes unless told otherwise."""
    return input_path.with_name(layout.report_name(input_path.name))


class ReportWriter:
    """Writes one report atomically: `with ReportWriter(p) as w: w.write(o)`.

    The temporary file is `.<name>.tmp-<random>` in the target directory (same filesystem,
    so the final `os.replace` is atomic); it is fsynced before the rename and the directory
    after it. An exception inside the `with` removes the temporary file and leaves any
    previous report under the final name untouched. `reject` may come after rows were
    written (a limit found while streaming): those rows are discarded, since a rejected
    file's report is its single Ligne 0 row.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp: Path | None = None
        self._fh: IO[str] | None = None
        self._writer: CsvWriter | None = None
        self._header_end = 0
        self._counts = {Code.OK: 0, Code.ALERTE: 0, Code.ERREUR: 0}
        self._ok = 0  # OK lines written by write_ok, kept apart: an int, not a dict entry
        self._repairs: dict[str, int] = {}  # lines per kind of certain repair (SPEC 2b)
        self.rejected_reason: str | None = None

    @property
    def summary(self) -> Summary:
        """Counts of the rows written so far (an empty summary once rejected)."""
        c = self._counts
        return Summary(ok=c[Code.OK] + self._ok, alerte=c[Code.ALERTE], erreur=c[Code.ERREUR])

    def __enter__(self) -> ReportWriter:
        fd, self._tmp = _create_temp(self.path)
        try:
            self._fh = open(  # noqa: PTH123 - wrapping a raw descriptor
                fd, "w", encoding="utf-8", errors="replace", newline="", buffering=_BUFFER_BYTES
            )
        except BaseException:
            os.close(fd)
            self._discard()
            raise
        self._writer = csv.writer(self._fh, delimiter=";", lineterminator="\r\n")
        try:
            self._fh.write(BOM)
            self._writer.writerow(HEADER)
            self._header_end = self._fh.tell()
        except BaseException:
            _abandon(self._fh)
            self._fh = None
            self._discard()
            raise
        return self

    def write(self, outcome: Outcome) -> None:
        """Append one line's row; passwords are masked again here, whatever the caller did."""
        if self.rejected_reason is not None:
            raise ReportError("write() after reject(): a rejected file's report has one row")
        self._row(
            outcome.line,
            outcome.code,
            MESSAGE_SEPARATOR.join(outcome.messages),
            report_cells(outcome.cells),
        )
        self._counts[outcome.code] += 1
        if outcome.messages:
            self._count_repairs(outcome.messages)

    def _count_repairs(self, messages: tuple[str, ...]) -> None:
        causes = {repair_cause(m) for m in messages}
        causes.discard(None)
        for cause in causes:
            assert cause is not None
            self._repairs[cause] = self._repairs.get(cause, 0) + 1

    @property
    def repairs(self) -> tuple[str, ...]:
        """The summary's sentences: one per kind of certain repair, with its count of lines."""
        causes = dict.fromkeys(cause for _, cause in _REPAIR_NOTES)  # FINESS, years, ISO
        return tuple(msg.repaired_lines(self._repairs[c], c) for c in causes if c in self._repairs)

    def write_all(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            self.write(outcome)

    def reject(self, reason: str) -> None:
        """Make this the report of a rejected file: `0;ERREUR;<reason>` and 13 empty cells."""
        self._single_row(Code.ERREUR, reason)

    def _single_row(self, code: str, reason: str) -> None:
        fh = self._open_file()
        fh.seek(self._header_end)
        fh.truncate()
        self._counts = dict.fromkeys(self._counts, 0)
        self._ok = 0
        self._repairs = {}
        self.rejected_reason = reason
        self._row(REJECTED_LINE, code, reason, _EMPTY_CELLS)

    def hold(self, reason: str) -> None:
        """The report of a file held for approval: `0;ATTENTE;<reason>`, not an ERREUR —
        nothing is wrong yet; the real report replaces it once the file is approved."""
        self._single_row(msg.HELD_CODE, reason)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        if exc_type is not None:
            _abandon(fh)
            self._discard()
            return
        try:
            self._write_summary()
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            assert self._tmp is not None
            self._tmp.replace(self.path)
        except BaseException:
            _abandon(fh)
            self._discard()
            raise
        self._tmp = None
        _fsync_dir(self.path.parent)

    def write_ok(self, line: int, cells: tuple[str, ...]) -> None:
        """`write(Outcome(line, Code.OK, (), cells))` without building the Outcome.

        `check`'s usual line: the cells are masked here too, whatever the caller did.
        """
        if self.rejected_reason is not None:
            raise ReportError("write() after reject(): a rejected file's report has one row")
        self._row(line, _OK, "", report_cells(cells))
        self._ok += 1

    def _write_summary(self) -> None:
        """After the lines, a row per kind of repair: empty Ligne and Code, so that nobody
        takes it for a line of the file, and the sentence in the Message column."""
        assert self._writer is not None
        for sentence in self.repairs:
            self._writer.writerow(("", "", sentence, *_EMPTY_CELLS))

    def _row(self, line: int, code: str, message: str, cells: tuple[str, ...]) -> None:
        fh = self._fh
        if fh is None or self._writer is None:
            raise ReportError("ReportWriter used outside its `with` block")
        # The usual row's cells need neither quotes nor the formula guard: then what
        # csv.writer would write is exactly the cells joined by `;`, written here without
        # its per-cell work. Each `;` of the join is a separator only when no cell has one.
        text = _SEPARATOR.join(cells)
        if (
            text.count(_SEPARATOR) == len(cells) - 1
            and '"' not in text
            and "\r" not in text
            and "\n" not in text
            and text[:1] not in _FORMULA_STARTS
            and _FORMULA_AFTER_SEPARATOR.search(text) is None
        ):
            if message:
                message = _csv_field(neutralised(message))
            fh.write(f"{line};{code!s};{message};{text}\r\n")
            return
        texts = (message, *cells)
        # One C-level search of the whole row instead of 14 Python calls.
        if _FORMULA_CELL.search(_UNIT_SEP + _UNIT_SEP.join(texts)) is not None:
            texts = tuple(map(neutralised, texts))
        self._writer.writerow((line, code, *texts))

    def _open_file(self) -> IO[str]:
        if self._fh is None:
            raise ReportError("ReportWriter used outside its `with` block")
        return self._fh

    def _discard(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


def _abandon(fh: IO[str]) -> None:
    """Close a report being given up, even when its last buffer cannot be written (a full
    disk): closing would flush first, fail, and leave the descriptor open for ever."""
    raw = getattr(getattr(fh, "buffer", None), "raw", None)
    try:
        fh.close()
    except OSError:
        if raw is not None and not raw.closed:
            raw.close()  # the bytes are lost with the temporary file anyway


def _create_temp(path: Path) -> tuple[int, Path]:
    """An exclusive new file beside `path`, group-readable at most (`filemodes.SHARED_FILE`,
    narrowed further by the umask): the référents' share reads reports through the group,
    and nobody else may.

    (`tempfile.mkstemp` would force 0o600, and a report the référents' share cannot read
    is no report.)
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(_TEMP_ATTEMPTS):
        tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
        try:
            return os.open(tmp, flags, filemodes.SHARED_FILE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")  # pragma: no cover


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable: without this a power cut can forget the new name."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def read_report(path: Path) -> list[Outcome]:
    """The rows of a report as Outcomes, for `show`-like commands and tests.

    Cells come back as written: masked, and with the `'` of the injection guard kept (the
    guard cannot be told apart from a real leading quote).
    """
    return list(iter_report(path))


def iter_report(path: Path) -> Iterator[Outcome]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh, delimiter=";")
        header = next(rows, None)
        if header is None or tuple(header) != HEADER:
            raise NotAReport(f"{path} does not start with the report header")
        for row in rows:
            line, code, message, *cells = row
            if not line:
                continue  # a summary row (ReportWriter._write_summary)
            yield Outcome(
                line=int(line),
                code=Code(code),
                messages=tuple(message.split(MESSAGE_SEPARATOR)) if message else (),
                cells=tuple(cells),
            )
