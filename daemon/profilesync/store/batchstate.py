"""The database state one batch of lines needs, loaded in bulk and written back in bulk.

The store decides every line of a batch against these in-memory records (no round trip per
line) and records what changed; `flush` then writes only that, with executemany statements.
That is what lets an unchanged re-import of a large export run at tens of thousands of lines
per second: three SELECTs per batch, then one INSERT of the line outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from profilesync.store.model import (
    Account,
    Audit,
    DirectoryChange,
    Establishment,
    Profile,
    ProfileState,
    Team,
)

ACCOUNT = cast(sa.Table, Account.__table__)
PROFILE = cast(sa.Table, Profile.__table__)
TEAM = cast(sa.Table, Team.__table__)
AUDIT = cast(sa.Table, Audit.__table__)
CHANGE = cast(sa.Table, DirectoryChange.__table__)
ESTABLISHMENT = cast(sa.Table, Establishment.__table__)

# Bound parameters per IN (…): well under SQLite's historical limit of 999.
IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class EstablishmentRec:
    id: int
    et: str
    ej: str


@dataclass(slots=True, eq=False)
class TeamRec:
    id: int | None
    establishment_id: int
    name: str


@dataclass(slots=True, eq=False)
class ProfileRec:
    id: int | None
    account: AccountRec
    establishment_id: int
    role: str
    team: TeamRec | None
    debut: date | None
    fin: date | None
    state: str
    dirty: bool = False

    @property
    def team_id(self) -> int | None:
        return None if self.team is None else self.team.id

    def matches(self, establishment_id: int, role: str, team: TeamRec | None) -> bool:
        return (
            self.establishment_id == establishment_id and self.role == role and (self.team is team)
        )


@dataclass(slots=True, eq=False)
class AccountRec:
    id: int | None
    key: str
    doctor: bool
    rpps: str | None
    nom: str
    prenom: str
    email: str | None
    password_hash: str
    # As the driver returned it until first read (most lines of a re-import never ask):
    # see `password_set_at`.
    set_at: datetime | str
    locked: bool
    profiles: list[ProfileRec] = field(default_factory=list)
    dirty: bool = False
    # A hash being computed by the pool; resolved into password_hash before the flush.
    pending_hash: Future[str] | None = None
    # Set with a new password until the push wrote it (see Account.password_pending).
    password_pending: bool = False
    # The directory's own password date, as the push last read it (raw until first read).
    directory_at: datetime | str | None = None

    @property
    def directory_password_at(self) -> datetime | None:
        value = self.directory_at
        if value is not None and (isinstance(value, str) or value.tzinfo is not UTC):
            value = self.directory_at = _utc(value)
        return value

    @property
    def password_set_at(self) -> datetime:
        value = self.set_at
        if isinstance(value, str) or value.tzinfo is not UTC:
            value = self.set_at = _utc(value)
        return value

    @password_set_at.setter
    def password_set_at(self, value: datetime) -> None:
        self.set_at = value


def state_for(debut: date | None, fin: date | None, today: date) -> ProfileState:
    """A live profile's state from its dates (début inclusive, fin inclusive)."""
    if debut is not None and debut > today:
        return ProfileState.PENDING
    if fin is not None and fin < today:
        return ProfileState.ENDED
    return ProfileState.ACTIVE


_ACCOUNTS = (
    "SELECT id, key, doctor, rpps, nom, prenom, email, password_hash, password_set_at, locked, "
    "password_pending, directory_password_at "
    "FROM account WHERE key IN ({marks})"
)
# Accounts whose key is one of the given digit strings left-padded with zeros (SPEC 2b: a
# spreadsheet drops a numeric login's leading zeros). ltrim(x, '0') is SQLite's and
# PostgreSQL's alike (no LIKE: a driver-level `%` is a placeholder for psycopg).
_PADDED = _ACCOUNTS.replace(
    "WHERE key IN ({marks})", "WHERE substr(key, 1, 1) = '0' AND ltrim(key, '0') IN ({marks})"
)
_TEAMS = "SELECT id, establishment_id, name FROM team WHERE establishment_id IN ({marks})"
_PROFILES = (
    "SELECT id, account_id, establishment_id, role, team_id, debut, fin, state "
    "FROM profile WHERE account_id IN ({marks})"
)


def _select_in(conn: Connection, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of `sql` for the values of its IN (…), straight from the driver's cursor.

    The hot path of an unchanged re-import: SQLAlchemy's rows cost several µs each, the
    driver's tuples a fraction of that. Same connection, same transaction.
    """
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql.format(marks=", ".join([mark] * len(values))), tuple(values))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _date(value: Any) -> date | None:
    """A DATE as the driver returns it: a date (psycopg) or ISO text (sqlite3)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _utc(value: Any) -> datetime:
    """A naive-UTC DATETIME as the driver returns it (see model.UTCDateTime), made aware."""
    parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def load_establishments(conn: Connection) -> dict[str, EstablishmentRec]:
    """All establishments (an operator-sized table), by Finess ET."""
    rows = conn.execute(sa.select(ESTABLISHMENT.c.id, ESTABLISHMENT.c.et, ESTABLISHMENT.c.ej))
    return {r.et: EstablishmentRec(r.id, r.et, r.ej) for r in rows}


class BatchState:
    """Accounts (with all their profiles) and teams touched by one batch, plus pending writes."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountRec] = {}
        self.teams: dict[tuple[int, str], TeamRec] = {}
        self.new_accounts: list[AccountRec] = []
        self.new_profiles: list[ProfileRec] = []
        self.new_teams: list[TeamRec] = []
        self.audits: list[dict[str, Any]] = []
        self.changes: dict[tuple[str, str], None] = {}  # ordered set of (kind, key)
        self._padded: dict[str, list[AccountRec]] = {}  # "45871" -> the account "0045871"

    @classmethod
    def load(
        cls,
        conn: Connection,
        keys: Iterable[str],
        establishment_ids: Iterable[int],
        allowed: frozenset[int] = frozenset(),
    ) -> BatchState:
        """Three bulk SELECTs: the accounts by key, all their profiles, the teams of the ETs.

        Driver-level queries: their rows skip SQLAlchemy's per-row and per-value processing,
        which is most of the cost of an unchanged re-import; values are converted here.
        A numeric key that names no account of the `allowed` establishments costs two more:
        the accounts it may be once zero-padded, and their profiles (see `padded`).
        """
        state = cls()
        keys = set(keys)
        by_id = state._load_accounts(conn, _ACCOUNTS, keys)
        teams_by_id: dict[int, TeamRec] = {}
        for part in chunks(sorted(set(establishment_ids))):
            for r in _select_in(conn, _TEAMS, part):
                state.teams[(r[1], r[2])] = teams_by_id[r[0]] = TeamRec(r[0], r[1], r[2])
        _load_profiles(conn, by_id, teams_by_id)
        unpadded = {
            k for k in keys if _unpadded(k) and not _allowed(state.accounts.get(k), allowed)
        }
        if unpadded:
            found = state._load_accounts(conn, _PADDED, unpadded)
            _load_profiles(conn, found, teams_by_id)
        return state

    def _load_accounts(self, conn: Connection, sql: str, keys: set[str]) -> dict[int, AccountRec]:
        by_id: dict[int, AccountRec] = {}
        for part in chunks(sorted(keys)):
            for r in _select_in(conn, sql, part):
                if r[1] in self.accounts:
                    continue
                rec = AccountRec(
                    r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9])
                )
                rec.password_pending, rec.directory_at = bool(r[10]), r[11]
                self.accounts[r[1]] = by_id[r[0]] = rec
                self._index_padded(rec)
        return by_id

    def padded(self, digits: str) -> list[AccountRec]:
        """The accounts whose key is `digits` after one or more leading zeros (SPEC 2b)."""
        return self._padded.get(digits, [])

    def _index_padded(self, account: AccountRec) -> None:
        key = account.key
        if key[:1] == "0" and key.isascii() and key.isdigit():
            self._padded.setdefault(key.lstrip("0"), []).append(account)

    # -- recording ----------------------------------------------------------------------------

    def team(self, establishment_id: int, name: str) -> TeamRec | None:
        return self.teams.get((establishment_id, name))

    def add_team(self, establishment_id: int, name: str) -> TeamRec:
        team = TeamRec(None, establishment_id, name)
        self.teams[(establishment_id, name)] = team
        self.new_teams.append(team)
        return team

    def add_account(self, account: AccountRec) -> None:
        self.accounts[account.key] = account
        self.new_accounts.append(account)
        self._index_padded(account)

    def add_profile(self, profile: ProfileRec) -> None:
        profile.account.profiles.append(profile)
        self.new_profiles.append(profile)

    def audit(self, **row: Any) -> None:
        self.audits.append(row)

    def queue(self, kind: str, key: str) -> None:
        self.changes[(kind, key)] = None

    # -- writing ------------------------------------------------------------------------------

    def flush(self, conn: Connection, now: datetime, run_id: int | None) -> None:
        """Write what changed, in dependency order, with executemany statements."""
        self._insert_teams(conn, now)
        self._insert_accounts(conn, now)
        self._insert_profiles(conn, now)
        self._update(conn, now)
        if self.audits:
            conn.execute(AUDIT.insert(), self.audits)
        if self.changes:
            conn.execute(
                CHANGE.insert(),
                [
                    {
                        "kind": kind,
                        "key": key,
                        "run_id": run_id,
                        "created_at": now,
                        "next_attempt_at": now,
                        "attempts": 0,
                        "parked": False,
                    }
                    for kind, key in self.changes
                ],
            )

    def _insert_teams(self, conn: Connection, now: datetime) -> None:
        if not self.new_teams:
            return
        rows = [
            {"establishment_id": t.establishment_id, "name": t.name, "created_at": now}
            for t in self.new_teams
        ]
        stmt = TEAM.insert().returning(TEAM.c.id, sort_by_parameter_order=True)
        for team, r in zip(self.new_teams, conn.execute(stmt, rows), strict=True):
            team.id = r.id

    def _insert_accounts(self, conn: Connection, now: datetime) -> None:
        if not self.new_accounts:
            return
        rows = []
        for a in self.new_accounts:
            _resolve(a)
            a.dirty = False
            rows.append(
                {
                    **_account_values(a),
                    "key": a.key,
                    "doctor": a.doctor,
                    "rpps": a.rpps,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        stmt = ACCOUNT.insert().returning(ACCOUNT.c.id, sort_by_parameter_order=True)
        for account, r in zip(self.new_accounts, conn.execute(stmt, rows), strict=True):
            account.id = r.id

    def _insert_profiles(self, conn: Connection, now: datetime) -> None:
        if not self.new_profiles:
            return
        rows = []
        for p in self.new_profiles:
            p.dirty = False
            rows.append(
                {
                    **_profile_values(p),
                    "account_id": p.account.id,
                    "establishment_id": p.establishment_id,
                    "role": p.role,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        stmt = PROFILE.insert().returning(PROFILE.c.id, sort_by_parameter_order=True)
        for profile, r in zip(self.new_profiles, conn.execute(stmt, rows), strict=True):
            profile.id = r.id

    def _update(self, conn: Connection, now: datetime) -> None:
        accounts: list[dict[str, Any]] = []
        profiles: list[dict[str, Any]] = []
        for a in self.accounts.values():
            if a.dirty:
                _resolve(a)
                accounts.append({**_account_values(a), "_id": a.id, "updated_at": now})
            profiles.extend(
                {**_profile_values(p), "_id": p.id, "updated_at": now}
                for p in a.profiles
                if p.dirty
            )
        if accounts:
            stmt = ACCOUNT.update().where(ACCOUNT.c.id == sa.bindparam("_id"))
            conn.execute(stmt, accounts)
        if profiles:
            stmt = PROFILE.update().where(PROFILE.c.id == sa.bindparam("_id"))
            conn.execute(stmt, profiles)


def _unpadded(key: str) -> bool:
    """A login that may have lost its leading zeros: digits, none of them a leading zero."""
    return key[:1] not in ("", "0") and key.isascii() and key.isdigit()


def _allowed(account: AccountRec | None, allowed: frozenset[int]) -> bool:
    return account is not None and any(p.establishment_id in allowed for p in account.profiles)


def _load_profiles(
    conn: Connection, by_id: dict[int, AccountRec], teams_by_id: dict[int, TeamRec]
) -> None:
    """All the profiles of these accounts, in every establishment."""
    for part in chunks(sorted(by_id)):
        for r in _select_in(conn, _PROFILES, part):
            account = by_id[r[1]]
            team_id = r[4]
            team: TeamRec | None = None if team_id is None else teams_by_id.get(team_id)
            if team_id is not None and team is None:
                # A profile in a team of an ET the batch does not name: still part of
                # the account (for `locked`); give it a stand-in that matches nothing.
                team = TeamRec(team_id, r[2], "")
            account.profiles.append(
                ProfileRec(r[0], account, r[2], r[3], team, _date(r[5]), _date(r[6]), r[7])
            )


def _resolve(account: AccountRec) -> None:
    if account.pending_hash is not None:
        account.password_hash = account.pending_hash.result()
        account.pending_hash = None
        account.password_pending = True  # the push writes it, then clears this


def _account_values(a: AccountRec) -> dict[str, Any]:
    return {
        "nom": a.nom,
        "prenom": a.prenom,
        "email": a.email,
        "password_hash": a.password_hash,
        "password_set_at": a.password_set_at,
        "password_pending": a.password_pending,
        "locked": a.locked,
    }


def _profile_values(p: ProfileRec) -> dict[str, Any]:
    return {"team_id": p.team_id, "debut": p.debut, "fin": p.fin, "state": p.state}
