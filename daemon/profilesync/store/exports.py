"""All live profiles of one establishment as an import file (SPEC §8): edit it, drop it back.

Every line is an `M` with an empty password, so re-importing an unchanged export is all OK
and writes nothing. Rows are streamed from a server-side cursor into a temporary file that
replaces the target atomically: memory stays flat whatever the size of the establishment.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.clock import Clock, today
from profilesync.fileformat.columns import COLUMNS
from profilesync.fileformat.report import neutralised
from profilesync.store.admin import UnknownEstablishment
from profilesync.store.model import Account, Establishment, Profile, ProfileState, Team

BOM = "\ufeff"
# The readable file beside a référent's export (issue 10): the 13 columns then the state.
# A 14th filled cell makes every row ERREUR if it is dropped back by mistake: nothing of
# it is applied, whereas the 13-column export stays re-importable as is.
STATE_COLUMN = "État du profil"
STATE_LABELS = {
    ProfileState.ACTIVE.value: "actif",
    ProfileState.PENDING.value: "à venir",
    ProfileState.ENDED.value: "terminé",
}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    profiles: int


def _fr(value: date | None) -> str:
    return "" if value is None else value.strftime("%d/%m/%Y")


@contextmanager
def _atomic_csv(path: Path | None) -> Iterator[Any]:
    """A `;` CSV writer (UTF-8 with BOM, CRLF) on a temporary file that replaces `path`
    once complete; None for no path."""
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with open(fd, "w", encoding="utf-8", newline="") as fh:  # noqa: PTH123 - raw fd
            fh.write(BOM)
            yield csv.writer(fh, delimiter=";", lineterminator="\r\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o640)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_establishment(
    session_factory: sessionmaker[Session],
    et: str,
    path: Path | None,
    clock: Clock,
    *,
    outbox: Path | None = None,
    states: Path | None = None,
) -> ExportResult:
    """Write the export of `et` to `path` (default: under `outbox`, dated in Europe/Paris),
    and with `states` the same rows plus each profile's state, for a référent to read."""
    if path is None:
        if outbox is None:
            raise ValueError("export_establishment needs a path or an outbox")
        path = layout.export_path(outbox, et, today(clock))
    with session_factory() as session:
        est = session.execute(
            sa.select(Establishment.id, Establishment.ej).where(Establishment.et == et)
        ).one_or_none()
        if est is None:
            raise UnknownEstablishment(et)
        query = (
            sa.select(
                Team.name,
                Account.nom,
                Account.prenom,
                Account.rpps,
                Profile.role,
                Account.doctor,
                Account.key,
                Account.email,
                Profile.debut,
                Profile.fin,
                Profile.state,
            )
            .select_from(Profile)
            .join(Account, Account.id == Profile.account_id)
            .outerjoin(Team, Team.id == Profile.team_id)
            .where(
                Profile.establishment_id == est.id,
                Profile.state != ProfileState.DELETED.value,
            )
            .order_by(Account.key, Profile.role, Team.name)
            .execution_options(yield_per=2000)
        )
        count = 0
        with _atomic_csv(path) as writer, _atomic_csv(states) as readable:
            writer.writerow(COLUMNS)
            if readable is not None:
                readable.writerow((*COLUMNS, STATE_COLUMN))
            for r in session.execute(query):
                cells = (
                    est.ej,
                    et,
                    r.name or "",
                    "M",
                    r.nom,
                    r.prenom,
                    r.rpps or "",
                    r.role,
                    "" if r.doctor else r.key,
                    "",
                    r.email or "",
                    _fr(r.debut),
                    _fr(r.fin),
                )
                writer.writerow([neutralised(c) for c in cells])
                if readable is not None:
                    label = STATE_LABELS.get(r.state, r.state)
                    readable.writerow([*(neutralised(c) for c in cells), label])
                count += 1
    return ExportResult(path, count)
