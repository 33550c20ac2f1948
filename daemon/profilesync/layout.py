"""Where things live under inbox/, outbox/ and state/, and how the daemon names its files.

The folders are an interface: référents and their scripts read outbox/, operators back up
and purge state/, and after a crash a work file's name is all that is known of an orphan.
So each name format sits here beside its parser, and no other module spells a folder name.

A root module, like `config`, rather than one of `service/`: the store writes under these
folders too (the CLI's private copies in `state/cli/`, the exports in `outbox/exports/`,
the reserved login `exports`), and `store` may not import `service`. It imports nothing
but `config`, so every layer may read it.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from profilesync.config import Settings

# Files dropped at the inbox root live in state/*/.root/: the inbox ignores dot folders,
# so no login can collide with it.
ROOT_FOLDER = ".root"
# outbox/exports/ holds the nightly exports, so no référent may have that login.
EXPORTS_FOLDER = "exports"
REPORT_SUFFIX = ".rapport.csv"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# Longest original name kept in work/archive names and reports (bytes): the prefixes and
# suffixes added around it (stamp, uuid, `.rapport.csv`, temporary and lock names) must
# stay within the 255 bytes a file name may have.
NAME_MAX_BYTES = 180

_WORK_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<uid>[0-9a-f]{8})-(?P<name>.+)$")
_EXPORT_NAME = re.compile(r"^(?:etats-)?profils-.+-(\d{8})\.csv$")
# What a référent finds in their own outbox folder (issue 10): the template, and under
# `exports/` the exports of their establishments with a readable file of states beside.
TEMPLATE_NAME = "modele.csv"
STATES_PREFIX = "etats-"
# An export asked from the inbox: `export` or `export-<ET>`, any case, optionally .csv/.txt.
_EXPORT_REQUEST = re.compile(r"^export(?:-(?P<et>[^.]*))?(?:\.(?:csv|txt))?$", re.IGNORECASE)
_LOCK_PREFIX, _LOCK_SUFFIX = ".", ".lock"


def folder_of(login: str | None) -> str:
    return login if login else ROOT_FOLDER


def login_of(folder: str) -> str | None:
    return None if folder == ROOT_FOLDER else folder


# --- state/ ------------------------------------------------------------------------------


def work_root(settings: Settings) -> Path:
    """`state/work/`: claimed files not finished yet, one folder per login."""
    return settings.paths.state.resolve() / "work"


def work_folder(settings: Settings, login: str | None) -> Path:
    return work_root(settings) / folder_of(login)


def private_root(settings: Settings) -> Path:
    """`state/private/`: plain copies kept for `rerun`, purged after `private_copy_days`."""
    return settings.paths.state.resolve() / "private"


def archive_root(settings: Settings) -> Path:
    """`state/archive/`: masked copies, purged after `archive_days`."""
    return settings.paths.state.resolve() / "archive"


def private_path(settings: Settings, work_path: Path) -> Path:
    return private_root(settings) / _folder(work_path) / work_path.name


def archive_path(settings: Settings, work_path: Path) -> Path:
    return archive_root(settings) / _folder(work_path) / work_path.name


def _folder(work_path: Path) -> str:
    return work_path.parent.name or ROOT_FOLDER


def cli_root(settings: Settings) -> Path:
    """`state/cli/`: private copies of the files `profilesync import` reads."""
    return settings.paths.state.resolve() / "cli"


def daemons_root(settings: Settings) -> Path:
    """`state/daemons/`: one heartbeat file per daemon (see `service.heartbeat`)."""
    return settings.paths.state.resolve() / "daemons"


def heartbeat_path(settings: Settings, host: str, pid: int) -> Path:
    return daemons_root(settings) / f"{host}-{pid}.json"


# --- work file names ---------------------------------------------------------------------


def stamp(now: datetime) -> str:
    """The UTC timestamp in file names: sortable, no `:` (Windows shares refuse it)."""
    return now.astimezone(UTC).strftime(STAMP_FORMAT)


def fit_name(name: str) -> str:
    """`name`, with its stem shortened when too long to carry the daemon's additions."""
    if len(name.encode("utf-8", "surrogateescape")) <= NAME_MAX_BYTES:
        return name
    suffix = Path(name).suffix
    stem = name[: -len(suffix)] if suffix else name
    while len((stem + "~" + suffix).encode("utf-8", "surrogateescape")) > NAME_MAX_BYTES:
        stem = stem[:-1]
    return stem + "~" + suffix


def safe_name(name: str) -> str:
    """A dropped file's name as text any database, log line and report can hold.

    Samba and old clients write names in the client's code page: bytes that are not UTF-8
    reach Python as lone surrogates, which no database accepts. They are read as
    Windows-1252 (what a French client writes); control and format characters (a newline
    that would forge a log line, an escape sequence, a bidi override) become `_`.
    """
    raw = os.fsencode(name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return "".join("_" if unicodedata.category(c)[0] == "C" else c for c in text)


def work_name(now: datetime, file_name: str) -> str:
    """`<UTC stamp>-<8 hex>-<name>`: unique, sorted by claim time, and it carries what
    registering an orphan needs (see `parse_work_name`). The same name is kept in
    private/ and archive/. The name is `safe_name`'s: from the claim on, nothing
    downstream sees the bytes a client's code page made."""
    return f"{stamp(now)}-{uuid.uuid4().hex[:8]}-{fit_name(safe_name(file_name))}"


def parse_work_name(name: str) -> tuple[datetime, str] | None:
    """(claim time, original file name) from a work/archive/private file name."""
    m = _WORK_NAME.match(name)
    if m is None:
        return None
    when = datetime.strptime(m["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    return when, m["name"]


def lock_path(work_path: Path) -> Path:
    """`.<name>.lock` beside the work file (see `store.runlock` for why not the file)."""
    return work_path.with_name(f"{_LOCK_PREFIX}{work_path.name}{_LOCK_SUFFIX}")


def locked_work(lock: Path) -> Path:
    """The work file a lock file guards."""
    return lock.with_name(lock.name[len(_LOCK_PREFIX) : -len(_LOCK_SUFFIX)])


def lock_files(settings: Settings) -> list[Path]:
    root = work_root(settings)
    return list(root.glob(f"*/{_LOCK_PREFIX}*{_LOCK_SUFFIX}")) if root.is_dir() else []


# --- outbox/ -----------------------------------------------------------------------------


def report_folder(settings: Settings, login: str | None) -> Path:
    """`outbox/<login>/`, or `outbox/` itself for a file dropped at the inbox root."""
    folder = settings.paths.outbox.resolve()
    return folder / login if login else folder


def ignored_root(settings: Settings) -> Path:
    """`state/ignored/`: what the inbox held that is no CSV file (service/strays.py)."""
    return settings.paths.state.resolve() / "ignored"


def ignored_folder(settings: Settings, login: str | None) -> Path:
    return ignored_root(settings) / folder_of(login)


def stranger_report_folder(settings: Settings, folder: str) -> Path:
    """`state/strangers/<folder>/`: reports of files dropped in a folder that is no login.

    The outbox gets no folder a référent did not have: `inbox/JDUPONT/` must not make an
    `outbox/JDUPONT/` appear (on a case-insensitive share, that is jdupont's own).
    """
    return settings.paths.state.resolve() / "strangers" / folder


def report_name(file_name: str, when: str | None = None, n: int = 1) -> str:
    """`<stem>.rapport.csv`; in the outbox `<stem>.<UTC stamp>[-n].rapport.csv`, never
    reused (`n` tells apart two files of one stem claimed in the same second)."""
    stem = Path(file_name).stem
    dated = f".{when}" if when else ""
    suffix = "" if n == 1 else f"-{n}"
    return f"{stem}{dated}{suffix}{REPORT_SUFFIX}"


def export_path(outbox: Path, et: str, day: date) -> Path:
    """`outbox/exports/<ET>/profils-<ET>-<AAAAMMJJ>.csv`."""
    return outbox / EXPORTS_FOLDER / et / f"profils-{et}-{day:%Y%m%d}.csv"


def export_files(outbox: Path) -> list[tuple[Path, date]]:
    """Every export (and its file of states) under `outbox/exports/` with the day in its name."""
    out = []
    for path in sorted((outbox / EXPORTS_FOLDER).glob("*/*profils-*.csv")):
        m = _EXPORT_NAME.match(path.name)
        if m:
            out.append((path, datetime.strptime(m[1], "%Y%m%d").date()))
    return out


def template_path(settings: Settings, login: str) -> Path:
    """`outbox/<login>/modele.csv`: the empty import file, always there."""
    return report_folder(settings, login) / TEMPLATE_NAME


def referent_exports_folder(settings: Settings, login: str) -> Path:
    """`outbox/<login>/exports/`: the exports of the establishments `login` manages."""
    return report_folder(settings, login) / EXPORTS_FOLDER


def states_path(export: Path) -> Path:
    """`etats-profils-<ET>-<AAAAMMJJ>.csv` beside an export: each profile's state, to read."""
    return export.with_name(STATES_PREFIX + export.name)


def same_export(folder: Path, export: Path) -> list[Path]:
    """Every export of `export`'s establishment in `folder`, whatever its day, with the
    files of states."""
    m = re.match(r"^profils-(.+)-\d{8}\.csv$", export.name)
    if m is None:
        return []
    pattern = re.compile(
        rf"^(?:{re.escape(STATES_PREFIX)})?profils-{re.escape(m[1])}-\d{{8}}\.csv$"
    )
    return sorted(p for p in folder.glob("*.csv") if pattern.match(p.name))


def export_request(name: str) -> str | None:
    """The ET an inbox file named `export-<ET>` asks for, "" for `export` (every ET the
    référent manages), None when the name is no export request."""
    m = _EXPORT_REQUEST.match(name)
    if m is None:
        return None
    return (m["et"] or "").strip()


# A report's date: the UTC stamp (`20260315T100000Z`), or the local time of day the names
# of issue 10.6 carry (`2026-03-15_11h00`, in `[daemon] timezone`).
_DATED_REPORT = re.compile(
    rf"\.(?:(?P<utc>\d{{8}}T\d{{6}}Z)|(?P<local>\d{{4}}-\d\d-\d\d_\d\dh\d\d))"
    rf"(?:-\d+)?{re.escape(REPORT_SUFFIX)}$"
)
_LOCAL_REPORT_STAMP = "%Y-%m-%d_%Hh%M"
_DATED_EXPORT = re.compile(r"-(\d{8})\.csv$")


def outbox_files(settings: Settings) -> list[tuple[Path, datetime]]:
    """What retention prunes, with the time in its name: reports in the outbox and in
    `state/strangers/`, the référents' copies of exports. Never a template, nor a file
    whose name carries no date (a référent's own)."""
    outbox = settings.paths.outbox.resolve()
    strangers = settings.paths.state.resolve() / "strangers"
    reports = [
        *outbox.glob(f"*{REPORT_SUFFIX}"),
        *outbox.glob(f"*/*{REPORT_SUFFIX}"),
        *strangers.glob(f"*/*{REPORT_SUFFIX}"),
    ]
    zone = ZoneInfo(settings.daemon.timezone)
    out = []
    for path in reports:
        m = _DATED_REPORT.search(path.name)
        if m is None:
            continue
        try:
            if m["utc"]:
                made = datetime.strptime(m["utc"], STAMP_FORMAT).replace(tzinfo=UTC)
            else:
                made = datetime.strptime(m["local"], _LOCAL_REPORT_STAMP).replace(tzinfo=zone)
        except ValueError:  # digits that are no date: not one of ours
            continue
        out.append((path, made))
    for path in outbox.glob(f"*/{EXPORTS_FOLDER}/*.csv"):
        m = _DATED_EXPORT.search(path.name)
        if m and path.name != TEMPLATE_NAME:
            try:
                out.append((path, datetime.strptime(m[1], "%Y%m%d").replace(tzinfo=UTC)))
            except ValueError:
                continue
    return sorted(out)
