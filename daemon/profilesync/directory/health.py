"""Is the directory answering? The sync worker's verdict, kept where `status` reads it.

Without it `status` flapped during an outage: the job failed when a retry fell due and
said "ok — 0 pushed" in between (nothing due, no connection tried). The first failure of
an outage is recorded once; the outage ends at the next successful bind. A row in the
database, so that every daemon and every `status` of a multi-host site agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from profilesync.store.model import DirectoryHealth

_ROW = "directory"


@dataclass(frozen=True)
class Health:
    """The directory's state as last seen: `unreachable_since` None means it answered."""

    unreachable_since: datetime | None = None
    last_error: str | None = None
    last_ok_at: datetime | None = None

    @property
    def unreachable(self) -> bool:
        return self.unreachable_since is not None


def read(session: Session) -> Health:
    row = session.get(DirectoryHealth, _ROW)
    if row is None:
        return Health()
    return Health(row.unreachable_since, row.last_error, row.last_ok_at)


def failed(session: Session, now: datetime, error: str) -> Health:
    """The directory did not answer (or refused the bind): an outage starts or goes on."""
    row = _row(session)
    if row.unreachable_since is None:
        row.unreachable_since = now
    row.last_error = error[:1000]
    return Health(row.unreachable_since, row.last_error, row.last_ok_at)


def answered(session: Session, now: datetime) -> None:
    """A bind succeeded: whatever outage there was is over."""
    row = _row(session)
    row.unreachable_since = None
    row.last_error = None
    row.last_ok_at = now


def _row(session: Session) -> DirectoryHealth:
    row = session.get(DirectoryHealth, _ROW)
    if row is None:
        row = DirectoryHealth(name=_ROW)
        session.add(row)
    return row
