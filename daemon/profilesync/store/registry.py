"""Registering establishments and référents in bulk, from a file (issue 11.4).

Registering a region's 3,000 establishments one `establishment add` at a time takes half
an hour; a file does it in one command. Each line goes through the same checks as the
one-at-a-time commands (`store.admin`: FINESS key, an ET under one EJ, a login that can
name a folder), so a file registers nothing a command would refuse. A refused line is
reported with its reason and does not stop the others; the accepted lines are written in
one transaction, so a failure of the database leaves nothing half-registered, and the same
file again reports every line « unchanged ».

Two layouts are read for establishments: the project's own `EJ;ET;Nom` (header optional)
and the public FINESS extract of data.gouv.fr (« extraction du fichier des
établissements », etalab), whose first line is `finess;etalab;…` and whose establishment
rows start with `structureet` — see `docs/operations.md` for the columns used.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from profilesync.store import admin
from profilesync.store.model import Establishment

# The FINESS extract's `structureet` rows, 0-based: section, nofinesset, nofinessej, rs
# (raison sociale, short), rslongue (long; empty when the short one is complete).
FINESS_SECTION = "structureet"
FINESS_ET, FINESS_EJ, FINESS_RS, FINESS_RSLONGUE = 1, 2, 3, 4
_EJ_HEADERS = frozenset({"ej", "finess ej", "finess_ej", "nofinessej"})
_LOGIN_HEADERS = frozenset({"login", "identifiant", "référent", "referent"})


class Verdict(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass(frozen=True)
class LineResult:
    """What became of one line of the file; `detail` says what changed or why refused."""

    line: int
    key: str
    verdict: Verdict
    detail: str = ""


@dataclass(frozen=True)
class RegistryReport:
    layout: str
    lines: tuple[LineResult, ...]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for r in self.lines if r.verdict is verdict)

    def summary(self) -> str:
        return ", ".join(f"{self.count(v)} {v.value}" for v in Verdict)


class RegistryFileError(admin.AdminError):
    """The file as a whole cannot be read (missing, empty, not text)."""


def read_rows(path: Path) -> list[list[str]]:
    """The file's `;`-separated rows, decoded as UTF-8 (with or without BOM), else as
    Windows-1252 — what a spreadsheet saves on a French Windows, and what older FINESS
    extracts are published in."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegistryFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    if not any(any(c.strip() for c in row) for row in rows):
        raise RegistryFileError(f"{path} is empty")
    return rows


def _numbered(
    rows: list[list[str]], header_names: frozenset[str]
) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of the data rows: blank rows and a header line left out."""
    for number, row in enumerate(rows, start=1):
        if not any(c.strip() for c in row):
            continue
        if number == 1 and row[0].strip().lower() in header_names:
            continue
        yield number, row


def establishment_lines(rows: list[list[str]]) -> tuple[str, list[tuple[int, list[str]]]]:
    """The layout's name and, for each establishment row, (line, [EJ, ET, name])."""
    if rows and rows[0] and rows[0][0].strip().lower() == "finess":  # `finess;etalab;…`
        out = []
        for number, row in enumerate(rows, start=1):
            if not row or row[0].strip().lower() != FINESS_SECTION:
                continue  # the first line, and the geolocation section that ends the file
            cells = [*row, *[""] * (FINESS_RSLONGUE + 1 - len(row))]
            name = cells[FINESS_RSLONGUE].strip() or cells[FINESS_RS].strip()
            out.append((number, [cells[FINESS_EJ], cells[FINESS_ET], name]))
        return "finess", out
    return "csv", list(_numbered(rows, _EJ_HEADERS))


def import_establishments(
    session: Session, rows: list[list[str]], *, actor: str, now: datetime
) -> RegistryReport:
    """Register each row's ET under its EJ; refused rows are reported, not raised."""
    layout, lines = establishment_lines(rows)
    # Every registered establishment in one query, then one flush for the file: a query
    # and a flush per line made 3,000 establishments take ten times as long.
    known = {e.et: e for e in session.scalars(sa.select(Establishment))}
    results = []
    for number, cells in lines:
        if len(cells) < 2:
            results.append(LineResult(number, "", Verdict.REFUSED, "expected EJ;ET;name"))
            continue
        ej, et = cells[0], cells[1]
        name = cells[2] if len(cells) > 2 and cells[2].strip() else None
        try:
            change = admin.add_establishment(
                session, ej=ej, et=et, name=name, actor=actor, now=now, known=known
            )
        except admin.AdminError as exc:
            results.append(LineResult(number, et.strip(), Verdict.REFUSED, str(exc)))
            continue
        key = change.establishment.et
        if change.created:
            results.append(LineResult(number, key, Verdict.ADDED))
        elif change.renamed:
            results.append(
                LineResult(number, key, Verdict.CHANGED, f"renamed {change.establishment.name!r}")
            )
        else:
            results.append(LineResult(number, key, Verdict.UNCHANGED))
    session.flush()
    return RegistryReport(layout, tuple(results))


def import_referents(
    session: Session, rows: list[list[str]], *, actor: str, now: datetime
) -> RegistryReport:
    """Make each row's login référent of its ET (`login;ET[;email]`), in addition to the
    establishments it already manages: a file grants, it never withdraws; an email given
    sets where the référent's notifications go, an empty one leaves it as it is."""
    known = admin.ReferentIndex.load(session)  # as for establishments: one load, one flush
    results = []
    for number, cells in _numbered(rows, _LOGIN_HEADERS):
        login = cells[0].strip()
        if len(cells) < 2 or not cells[1].strip():
            results.append(LineResult(number, login, Verdict.REFUSED, "expected login;ET[;email]"))
            continue
        email = cells[2] if len(cells) > 2 and cells[2].strip() else None
        try:
            change = admin.add_referent(
                session, login, [cells[1]], actor=actor, now=now, email=email, known=known
            )
        except admin.AdminError as exc:
            results.append(LineResult(number, login, Verdict.REFUSED, str(exc)))
            continue
        changed = ([f"now also manages {', '.join(change.added)}"] if change.added else []) + (
            ["email changed"] if change.email_changed else []
        )
        if change.created:
            results.append(LineResult(number, change.login, Verdict.ADDED))
        elif changed:
            results.append(LineResult(number, change.login, Verdict.CHANGED, "; ".join(changed)))
        else:
            results.append(LineResult(number, change.login, Verdict.UNCHANGED))
    session.flush()
    return RegistryReport("csv", tuple(results))
