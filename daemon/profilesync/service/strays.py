"""What the inbox holds that is no CSV file to read, said to the référent (issue 9).

A référent who drops `profils.xlsx`, a shortcut, or a folder named `profils.csv` would
otherwise wait for a report that never comes. Each such entry gets a one-row report in
their outbox saying why it was not read, and is set aside under `state/ignored/` (kept for
the operator, never read: a FIFO is renamed, never opened, so it cannot block the daemon).
Office lock files (`~$…`), hidden and temporary names (`.…`, `.tmp`, `.part`) stay silent,
and so do sub-folders of a login folder, except those named like a CSV file.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.clock import Clock
from profilesync.config import Settings
from profilesync.fileformat import messages
from profilesync.fileformat.report import ReportWriter
from profilesync.service import claim
from profilesync.service.inbox import IGNORED_SUFFIXES, Listing, is_candidate, listing

log = logging.getLogger(__name__)

_EXCEL = (".xlsx", ".xlsm", ".xls", ".xlsb")
_CALC = (".ods", ".fods")


@dataclass(frozen=True)
class Stray:
    path: Path
    login: str | None  # its folder; None at the inbox root
    reason: str  # French, the report's Ligne 0
    regular: bool  # a plain file (may still be being copied)


def _silent(name: str) -> bool:
    """Hidden, temporary, or an export request (answered by service/selfservice.py)."""
    return (
        name.startswith((".", "~$"))
        or name.lower().endswith(IGNORED_SUFFIXES)
        or layout.export_request(name) is not None
    )


def _reason(entry: os.DirEntry[str], in_login_folder: bool) -> tuple[str, bool] | None:
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError:
        return None  # gone since the listing
    name = entry.name.lower()
    if stat.S_ISLNK(mode):
        return messages.IGNORED_LINK, False
    if stat.S_ISDIR(mode):
        # A login folder at the root is no stray; inside one, only a folder that looks like
        # a CSV file is worth a word.
        return (
            (messages.IGNORED_FOLDER, False) if in_login_folder and name.endswith(".csv") else None
        )
    if stat.S_ISREG(mode):
        if is_candidate(entry.name):
            return None
        if name.endswith(_EXCEL):
            return messages.IGNORED_EXCEL, True
        if name.endswith(_CALC):
            return messages.IGNORED_CALC, True
        return messages.IGNORED_NOT_CSV, True
    return messages.IGNORED_SPECIAL, False


def find(inbox: Path, listed: Listing | None = None) -> list[Stray]:
    """Every stray of the listing (made here when not given): root and login folders."""
    out: list[Stray] = []
    for entry, login in listing(inbox) if listed is None else listed:
        if _silent(entry.name):
            continue
        found = _reason(entry, in_login_folder=login is not None)
        if found is not None:
            out.append(Stray(Path(entry.path), login, *found))
    return sorted(out, key=lambda s: str(s.path))


def set_aside(
    stray: Stray,
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: Clock,
) -> Path | None:
    """Move `stray` under state/ignored/ and write its one-row report; the report's path,
    or None when it was gone already (another daemon took it)."""
    now = clock.now()
    dest = layout.ignored_folder(settings, stray.login) / layout.work_name(now, stray.path.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        stray.path.rename(dest)
    except FileNotFoundError:
        return None
    name = layout.safe_name(stray.path.name)
    with session_factory() as session:
        report = claim.report_path(settings, session, stray.login, name, layout.stamp(now))
    report.parent.mkdir(parents=True, exist_ok=True)
    with ReportWriter(report) as writer:
        writer.reject(stray.reason)
    log.info("%s/%s set aside in %s: %s", stray.login or "(root)", name, dest.parent, stray.reason)
    return report


def count(settings: Settings) -> int:
    """Entries set aside so far (what `status` shows)."""
    root = layout.ignored_root(settings)
    if not root.is_dir():
        return 0
    return sum(1 for folder in root.iterdir() if folder.is_dir() for _ in folder.iterdir())
