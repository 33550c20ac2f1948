"""`profilesync check`: the stateless rules on a whole file, with a report, and nothing else.

It reads no database and changes nothing (SPEC §10): the rules of SPEC §2, §3 and §5 that
need no state, so that a référent (or an operator on their behalf) can correct a file before
dropping it. The rows are streamed into the report one by one, so memory stays flat
whatever the size of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from profilesync.clock import Clock, today
from profilesync.config import Settings
from profilesync.errors import EXIT_REJECTED, ProfilesyncError
from profilesync.fileformat import csvfile, rules
from profilesync.fileformat.outcome import Outcome, Summary
from profilesync.fileformat.report import ReportWriter


class InputUnreadable(ProfilesyncError):
    """The file to check cannot be opened or read (missing, a directory, no permission)."""


class BadTimezone(ProfilesyncError):
    """`[daemon] timezone` names no known time zone."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What `check` found: the counts, or why the whole file was rejected, and the report."""

    summary: Summary
    rejected_reason: str | None
    report_path: Path

    @property
    def exit_code(self) -> int:
        """SPEC §10: 0 no ERREUR, 1 some ERREUR, 2 the file rejected as a whole."""
        return EXIT_REJECTED if self.rejected_reason is not None else self.summary.exit_code


def check_file(path: Path, *, settings: Settings, clock: Clock, report_path: Path) -> CheckResult:
    """Check every row of `path` and write the report to `report_path` (atomically).

    Raises InputUnreadable (no report is written) when the file cannot be read at all;
    a file that can be read but is not an acceptable import file gets a Ligne 0 report.
    """
    day = today(clock, _zone(settings.daemon.timezone))
    policy = settings.passwords
    with ReportWriter(report_path) as report:
        try:
            for row in _rows(path, settings):
                # report_row is check_row without the Line, which check has no use for.
                cells, problems = rules.report_row(row, day, policy)
                if problems:
                    report.write(Outcome.of(row.number, problems, cells))
                else:  # the common line: no Outcome to build, no worst of no problem
                    report.write_ok(row.number, cells)
        except csvfile.FileRejected as exc:
            report.reject(exc.reason)
    return CheckResult(report.summary, report.rejected_reason, report_path)


def _rows(path: Path, settings: Settings) -> Iterator[csvfile.Row]:
    """The parser's rows; an OS error reading the input is InputUnreadable, not a report."""
    try:
        yield from csvfile.read_rows(path, settings.limits)
    except OSError as exc:
        raise InputUnreadable(f"cannot read the file {path}: {exc.strerror or exc}") from exc


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTimezone(f"[daemon] timezone: unknown time zone {name!r}") from None
