"""Helpers of the store/importer tests: a registered world, CSV files, a canonical dump."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from stdnum import luhn

from clikit import CHEAP_ARGON2
from profilesync.clock import FixedClock
from profilesync.config import Settings
from profilesync.fileformat.columns import COLUMNS
from profilesync.fileformat.outcome import Outcome
from profilesync.store import db
from profilesync.store.importer import RunResult, import_file, outcomes
from profilesync.store.model import Establishment, Referent, ReferentEstablishment

EJ1, ET1 = "750712184", "750100125"  # AP-HP / Pitié-Salpêtrière
EJ2, ET2 = "130786049", "690781810"  # an ET registered under another EJ
ET3 = "010780062"  # registered (EJ = itself), but the test référent is not its référent
REFERENT = "aref"
T0 = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
GOOD_PW = "Correct-Horse-42"
OTHER_PW = "Batterie-Agrafe-77"


def rpps(n: int) -> str:
    """A valid RPPS (Luhn key) for a small integer."""
    body = f"1{n:09d}"
    return body + luhn.calc_check_digit(body)


def letters(n: int) -> str:
    """`n` spelt with letters (0 -> a … 9 -> j): names hold no digit (SPEC 2b)."""
    return "".join(chr(ord("a") + int(d)) for d in str(n))


def fast_settings(tmp: Path, **imports: Any) -> Settings:
    """Defaults with every path under `tmp` and hashing at CHEAP_ARGON2."""
    return Settings().with_overrides(
        paths={"inbox": tmp / "inbox", "outbox": tmp / "outbox", "state": tmp / "state"},
        passwords=CHEAP_ARGON2,
        imports=imports or {},
    )


def row(
    action: str,
    nom: str = "Martin",
    prenom: str = "Claire",
    *,
    ej: str = EJ1,
    et: str = ET1,
    team: str = "",
    rpps_: str = "",
    role: str = "CDC1",
    ident: str = "cmartin",
    password: str = "",
    email: str = "",
    debut: str = "",
    fin: str = "",
) -> list[str]:
    return [ej, et, team, action, nom, prenom, rpps_, role, ident, password, email, debut, fin]


def doctor(
    action: str, n: int = 1, nom: str = "Durand", prenom: str = "Paul", **kw: Any
) -> list[str]:
    kw.setdefault("role", "CDC3D")
    return row(action, nom, prenom, rpps_=rpps(n), ident="", **kw)


_TEMPLATE: list[Path] = []


def fresh_sqlite(folder: Path) -> str:
    """The URL of a migrated SQLite file in `folder`: a copy of one migrated once per
    process, for property tests that need a database per example (migrating each time would
    dominate them, and hypothesis examples cannot use the per-test `db_url` fixture)."""
    if not _TEMPLATE:
        path = Path(tempfile.mkdtemp()) / "template.db"
        db.upgrade(f"sqlite:///{path}")
        _TEMPLATE.append(path)
    shutil.copyfile(_TEMPLATE[0], folder / "p.db")
    return f"sqlite:///{folder / 'p.db'}"


def write_csv(path: Path, rows: Iterable[Sequence[str]], header: bool = True) -> Path:
    lines = [";".join(COLUMNS)] if header else []
    lines += [";".join(r) for r in rows]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


@dataclass
class World:
    """A migrated database with two registered ETs of one référent (and a third not theirs)."""

    url: str
    tmp: Path
    settings: Settings
    clock: FixedClock = field(default_factory=lambda: FixedClock(T0))
    n_files: int = 0

    def __post_init__(self) -> None:
        self.engine = db.make_engine(self.url)
        self.sf: sessionmaker[Session] = db.session_factory(self.engine)
        with self.sf() as s:
            ests = [
                Establishment(et=ET1, ej=EJ1, name="Pitié", created_at=T0),
                Establishment(et=ET2, ej=EJ2, name="HCL", created_at=T0),
                Establishment(et=ET3, ej=ET3, name="Autre", created_at=T0),
            ]
            s.add_all(ests)
            ref = Referent(login=REFERENT, created_at=T0)
            s.add(ref)
            s.flush()
            s.add_all(
                ReferentEstablishment(referent_id=ref.id, establishment_id=e.id) for e in ests[:2]
            )
            s.commit()

    def add_referent(self, login: str, *ets: str) -> None:
        """Another référent, of these registered establishments (another establishment's)."""
        with self.sf() as s:
            ids = {et: id_ for et, id_ in s.execute(sa.select(Establishment.et, Establishment.id))}
            ref = Referent(login=login, created_at=T0)
            s.add(ref)
            s.flush()
            s.add_all(
                ReferentEstablishment(referent_id=ref.id, establishment_id=ids[et]) for et in ets
            )
            s.commit()

    def csv(self, rows: Iterable[Sequence[str]], header: bool = True) -> Path:
        self.n_files += 1
        return write_csv(self.tmp / f"f{self.n_files}.csv", rows, header)

    def run(
        self, rows: Iterable[Sequence[str]], submitter: str = REFERENT, **kw: Any
    ) -> tuple[RunResult, list[Outcome]]:
        path = self.csv(rows)
        result = import_file(
            path, submitter, settings=self.settings, session_factory=self.sf, clock=self.clock, **kw
        )
        with self.sf() as s:
            got = list(outcomes(s, result.run_id)) if result.run_id else []
        return result, got

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def close(self) -> None:
        self.engine.dispose()


def messages_of(outcome: Outcome) -> list[str]:
    return list(outcome.messages)


def _json(value: Any) -> str:
    """JSON columns come back parsed from PostgreSQL, as text from SQLite."""
    if isinstance(value, str):
        value = json.loads(value)
    return json.dumps(value, sort_keys=True)


def canonical_dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The profile state by natural keys, without ids, timestamps or salted hashes."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            q = conn.execute
            accounts = sorted(
                tuple(r)
                for r in q(
                    sa.text(
                        "SELECT key, doctor, rpps, nom, prenom, email, locked, "
                        "password_hash LIKE '{ARGON2}%' FROM account"
                    )
                )
            )
            teams = sorted(
                tuple(r)
                for r in q(
                    sa.text(
                        "SELECT e.et, t.name FROM team t JOIN establishment e "
                        "ON e.id = t.establishment_id"
                    )
                )
            )
            profiles = sorted(
                (r[0], r[1], r[2], r[3] or "", str(r[4]), str(r[5]), r[6])
                for r in q(
                    sa.text(
                        "SELECT a.key, e.et, p.role, t.name, p.debut, p.fin, p.state "
                        "FROM profile p JOIN account a ON a.id = p.account_id "
                        "JOIN establishment e ON e.id = p.establishment_id "
                        "LEFT JOIN team t ON t.id = p.team_id"
                    )
                )
            )
            audits = sorted(
                (r[0], r[1], r[2], r[3], r[4], _json(r[5]))
                for r in q(
                    sa.text("SELECT actor, line, action, entity, entity_key, changes FROM audit")
                )
            )
            changes = sorted(tuple(r) for r in q(sa.text("SELECT kind, key FROM directory_change")))
            outcomes_ = sorted(
                tuple(r) for r in q(sa.text("SELECT line, code, messages FROM line_outcome"))
            )
    finally:
        engine.dispose()
    return {
        "account": accounts,
        "team": teams,
        "profile": profiles,
        "audit": audits,
        "directory_change": changes,
        "line_outcome": outcomes_,
    }
