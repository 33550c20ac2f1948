"""The audit trail as operators read it (`profilesync audit`): who changed what, and how.

Rows are written by the importer (a référent's file, one row per change of a line), by
operator commands and by the jobs; docs/architecture.md (« Audit rows ») says exactly what
a row holds. Reading them is one indexed query per filter; the newest `limit` rows are
returned oldest first, so a trail reads as a story.

Never a secret: no writer puts one in `changes` (a new password is the marker
« changed »), and this reader masks any field named like a password anyway, so that a
row written by a future bug does not reach a terminal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from profilesync.store.model import Audit, ImportRun

DEFAULT_LIMIT = 200
PASSWORD_CHANGED = "changed"  # noqa: S105 - the marker writers record, not a password
_SECRET_FIELDS = ("password", "hash", "secret", "userpassword")


@dataclass(frozen=True)
class AuditFilter:
    """What to show: every given criterion must hold (none: the whole trail)."""

    person: str | None = None  # an account key: Identifiant, or RPPS for a doctor
    run: int | None = None
    et: str | None = None
    since: datetime | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class AuditEntry:
    """One change: who (and which kind of actor), when, from which file and line, what."""

    id: int
    at: datetime
    actor: str
    actor_kind: str  # referent | operator | system
    run_id: int | None
    file: str | None  # the run's file name
    line: int | None
    action: str
    entity: str
    entity_key: str
    account_key: str | None
    et: str | None
    role: str | None
    team: str | None
    changes: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data

    def change_text(self) -> str:
        """`field: before → after`, comma-separated; a password only as « changed ».

        A field recorded with equal sides (a creation's empty fin) is not shown.
        """
        parts = []
        for field, value in self.changes.items():
            if isinstance(value, list) and len(value) == 2:
                if value[0] == value[1]:
                    continue
                parts.append(f"{field}: {_shown(value[0])} → {_shown(value[1])}")
            else:
                parts.append(f"{field}: {_shown(value)}")
        return ", ".join(parts)


def trail(session: Session, which: AuditFilter) -> tuple[list[AuditEntry], bool]:
    """The newest `which.limit` matching rows, oldest first, and whether more matched."""
    query = sa.select(Audit, ImportRun.file_name).outerjoin(ImportRun, ImportRun.id == Audit.run_id)
    if which.person is not None:
        query = query.where(Audit.account_key == which.person.strip().lower())
    if which.run is not None:
        query = query.where(Audit.run_id == which.run)
    if which.et is not None:
        query = query.where(Audit.et == which.et.strip().upper())
    if which.since is not None:
        query = query.where(Audit.at >= which.since)
    rows = session.execute(
        query.order_by(Audit.at.desc(), Audit.id.desc()).limit(which.limit + 1)
    ).all()
    more = len(rows) > which.limit
    entries = [_entry(audit, file) for audit, file in rows[: which.limit]]
    entries.reverse()
    return entries, more


def runs_touching(session: Session, account_key: str, limit: int) -> list[int]:
    """The newest runs (ids) that changed an account or its profiles."""
    query = (
        sa.select(Audit.run_id)
        .where(Audit.account_key == account_key, Audit.run_id.is_not(None))
        .group_by(Audit.run_id)
        .order_by(Audit.run_id.desc())
        .limit(limit)
    )
    return [run for run in session.scalars(query) if run is not None]


def _entry(audit: Audit, file: str | None) -> AuditEntry:
    return AuditEntry(
        id=audit.id,
        at=audit.at,
        actor=audit.actor,
        actor_kind=audit.actor_kind,
        run_id=audit.run_id,
        file=file,
        line=audit.line,
        action=audit.action,
        entity=audit.entity,
        entity_key=audit.entity_key,
        account_key=audit.account_key,
        et=audit.et,
        role=audit.role,
        team=audit.team,
        changes=masked(audit.changes or {}),
    )


def masked(changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` with any password-like field reduced to « changed »."""
    return {
        field: PASSWORD_CHANGED if any(s in field.lower() for s in _SECRET_FIELDS) else value
        for field, value in changes.items()
    }


def _shown(value: object) -> str:
    return "∅" if value is None or value == "" else str(value)
