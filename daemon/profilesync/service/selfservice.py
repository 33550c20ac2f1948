"""What a référent finds and asks for in their own folders (issue 10), without an operator.

In `outbox/<login>/`: `modele.csv`, the template, put back within a minute if deleted; under
`exports/`, the exports of the establishments they manage (each night, and on demand) with
a readable file of each profile's state beside each one. From `inbox/<login>/`: an empty
file named `export` or `export-<Finess ET>` (any case, optionally `.csv`/`.txt`) asks for
those exports now; it is answered in the same scan. The request itself is set aside under
`state/ignored/` like a stray (kept, never read); a refusal is a one-row report.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.clock import Clock, today
from profilesync.config import Settings
from profilesync.fileformat import messages
from profilesync.fileformat.report import ReportWriter
from profilesync.fileformat.template import template_bytes
from profilesync.service import claim
from profilesync.service.inbox import Listing, StabilityTracker
from profilesync.store import admin, exports
from profilesync.store.model import Referent

log = logging.getLogger(__name__)


def managed(session: Session, login: str | None = None) -> dict[str, list[str]]:
    """Each référent's login (or only `login`'s) and the ETs they manage, sorted."""
    return {
        r.login: list(r.establishments)
        for r in admin.list_referents(session)
        if login is None or r.login == login
    }


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).chmod(0o640)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_template(settings: Settings, login: str) -> bool:
    """`outbox/<login>/modele.csv`, written when missing; whether it was."""
    path = layout.template_path(settings, login)
    if path.is_file():
        return False
    _write_atomically(path, template_bytes())
    return True


def ensure_templates(
    settings: Settings, session_factory: sessionmaker[Session], failing: set[str]
) -> int:
    """Every référent's template, put back if deleted; how many were written. `failing`,
    the caller's, holds the logins whose template could not be written last time: a full
    outbox is said once, not at every scan."""
    with session_factory() as session:
        logins = list(session.scalars(sa.select(Referent.login)))
    written = 0
    for login in logins:
        try:
            written += ensure_template(settings, login)
        except OSError as exc:  # a full or read-only outbox must not stop the scan
            level = logging.DEBUG if login in failing else logging.WARNING
            failing.add(login)
            log.log(level, "cannot write the template of %s: %s", login, exc.strerror)
        else:
            failing.discard(login)
    return written


def _copy_atomically(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        Path(tmp).chmod(0o640)
        Path(tmp).replace(dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def deliver(settings: Settings, export: Path, logins: Iterable[str]) -> list[Path]:
    """Copy an export (SPEC §8 path) and its file of states into each référent's folder,
    replacing that ET's older ones there: a référent sees one export per establishment,
    the latest (older days are stale personal data)."""
    out = []
    for login in logins:
        folder = layout.referent_exports_folder(settings, login)
        copies = []
        for source in (export, layout.states_path(export)):
            if source.is_file():
                _copy_atomically(source, folder / source.name)
                copies.append(folder / source.name)
        for older in layout.same_export(folder, export):
            if older not in copies:
                older.unlink(missing_ok=True)
        out += copies
    return out


def export_now(
    settings: Settings, session_factory: sessionmaker[Session], clock: Clock, et: str
) -> exports.ExportResult:
    """One ET's export and file of states at the SPEC §8 place (`outbox/exports/<ET>/`)."""
    path = layout.export_path(settings.paths.outbox, et, today(clock))
    return exports.export_establishment(
        session_factory, et, path, clock, states=layout.states_path(path)
    )


# --- exports on demand -------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    path: Path
    login: str | None  # its folder; None at the inbox root
    et: str  # "" for every ET the référent manages


def requests(listed: Listing) -> list[Request]:
    """Every export request of the listing (plain files only)."""
    out = []
    for entry, login in listed:
        et = layout.export_request(entry.name)
        if et is not None and entry.is_file(follow_symlinks=False):
            out.append(Request(Path(entry.path), login, et))
    return sorted(out, key=lambda r: str(r.path))


def answer_all(
    found: list[Request],
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: Clock,
    stability: StabilityTracker,
) -> int:
    """Answer every complete request; how many are still being written."""
    arriving = 0
    for request in found:
        if not stability.is_stable(request.path):
            arriving += 1
            continue
        stability.forget(request.path)
        try:
            answer(request, settings, session_factory, clock)
        except sa.exc.OperationalError:
            raise  # the database is down: the request waits in the inbox (the daemon says it)
        except Exception:  # one request must not stop the scan; it is kept in state/ignored
            log.exception("cannot answer the export request %s", request.path)
    return arriving


def answer(
    request: Request, settings: Settings, session_factory: sessionmaker[Session], clock: Clock
) -> list[Path]:
    """Set the request aside, then write the exports asked for, or a refusal report.

    The database is asked first: while it is down the request stays in the inbox, and
    is answered once it is back."""
    now = clock.now()
    with session_factory() as session:
        ets = managed(session, request.login).get(request.login) if request.login else None
    try:
        had_content = request.path.stat().st_size > 0
    except FileNotFoundError:
        return []
    dest = layout.ignored_folder(settings, request.login) / layout.work_name(now, request.path.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        request.path.rename(dest)
    except FileNotFoundError:
        return []  # another daemon answers it
    refusal = _refusal(request, ets)
    if refusal is not None:
        _report(request, refusal, settings, session_factory, now)
        return []
    assert ets is not None
    wanted = ets if not request.et else [_finess(request.et)]
    written = []
    for et in wanted:
        result = export_now(settings, session_factory, clock, et)
        written += deliver(settings, result.path, [request.login or ""])
    if had_content:
        _report(request, messages.EXPORT_CONTENT_IGNORED, settings, session_factory, now)
    log.info(
        "%s asked for the export of %s: %s files written",
        request.login,
        ", ".join(wanted),
        len(written),
    )
    return written


def _finess(text: str) -> str:
    """The ET of a request's name: upper case, and the leading 0 a user may forget."""
    value = text.strip().upper()
    return value.zfill(9) if len(value) == 8 and value.isdigit() else value


def _refusal(request: Request, ets: list[str] | None) -> str | None:
    if ets is None:
        return messages.EXPORT_NOT_A_REFERENT
    if not ets:
        return messages.EXPORT_NO_ESTABLISHMENT
    if request.et and _finess(request.et) not in ets:
        return messages.export_refused(layout.safe_name(request.et))
    return None


def _report(
    request: Request,
    reason: str,
    settings: Settings,
    session_factory: sessionmaker[Session],
    now: datetime,
) -> Path:
    name = layout.safe_name(request.path.name)
    with session_factory() as session:
        report = claim.report_path(settings, session, request.login, name, layout.stamp(now))
    report.parent.mkdir(parents=True, exist_ok=True)
    with ReportWriter(report) as writer:
        writer.reject(reason)
    log.info("%s/%s: export request refused: %s", request.login or "(root)", name, reason)
    return report
