"""Read-only views for the helpdesk: one person, a name search, an establishment, its teams.

« Mme X cannot log in since this morning » is answered from here (issue 11.1): the account
with its lock and password state, every profile with its dates, the directory changes
still queued for it, and the runs that touched it. Nothing here writes, and nothing
returns a password or its hash: the views carry only whether one is set and its age.

`find_people` folds case and accents in Python rather than in SQL: SQLite and PostgreSQL
have no common accent-blind comparison, and a stored folded column would have to be kept
in step by every writer of names (importer, `account set`, undo). The scan reads four
short columns per account, streamed; docs/architecture.md records the measured cost.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from profilesync.errors import EXIT_LINE_ERRORS, ProfilesyncError
from profilesync.fileformat.columns import IDENTIFIANT, RPPS
from profilesync.fileformat.folding import fold_words
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.roles import ROLES
from profilesync.store import admin, audit
from profilesync.store.model import (
    Account,
    ChangeKind,
    DirectoryChange,
    Establishment,
    ImportRun,
    LineOutcome,
    Profile,
    ProfileState,
    RunStatus,
    Team,
)
from profilesync.store.passwords import is_expired, password_date

RUNS_SHOWN = 10
RUNS_SCANNED = 50  # recent runs whose ALERTE/ERREUR lines are searched for the person
LINES_SHOWN = 20
DEFAULT_FIND_LIMIT = 50
_STREAM = 2000
# The profile states as référents name them (the guide, the reports).
STATE_LABELS = {
    ProfileState.ACTIVE.value: "actif",
    ProfileState.PENDING.value: "à venir",
    ProfileState.ENDED.value: "terminé",
    ProfileState.DELETED.value: "supprimé",
}


class PersonNotFound(ProfilesyncError):
    """No account has this Identifiant or RPPS (exit 1, as grep's "nothing found")."""

    exit_code = EXIT_LINE_ERRORS


class EmptySearch(ProfilesyncError):
    """A search text with nothing to look for would list every account."""


@dataclass(frozen=True)
class ProfileView:
    et: str
    establishment: str  # its name
    team: str | None
    role: str
    role_label: str
    state: str  # active | pending | ended | deleted
    state_label: str  # actif | à venir | terminé | supprimé
    debut: date | None
    fin: date | None


@dataclass(frozen=True)
class QueuedChange:
    """A directory change of the person not yet confirmed by the directory."""

    id: int
    status: str  # due | waiting (a retry later) | parked (rejected for good)
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    run_id: int | None


@dataclass(frozen=True)
class FlaggedLine:
    """A line naming the person that was not plain OK: why a change did not happen."""

    run_id: int
    file: str
    submitter: str
    line: int
    code: str  # ALERTE | ERREUR
    messages: str  # the report's French messages, joined by " | "


@dataclass(frozen=True)
class PersonView:
    key: str
    doctor: bool
    rpps: str | None
    nom: str
    prenom: str
    email: str | None
    password_set: bool
    password_set_at: datetime  # the later of ours and the directory's record
    password_expired: bool
    password_pending: bool  # set here, not yet written to the directory
    locked: bool
    locked_reason: str | None
    created_at: datetime
    updated_at: datetime
    profiles: tuple[ProfileView, ...]
    queued: tuple[QueuedChange, ...]
    runs: tuple[dict[str, Any], ...]  # ImportRun.as_dict(), newest first
    flagged: tuple[FlaggedLine, ...]  # newest run first

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


@dataclass(frozen=True)
class PersonHit:
    key: str
    rpps: str | None
    nom: str
    prenom: str
    email: str | None
    locked: bool


@dataclass(frozen=True)
class TeamView:
    name: str
    created_at: datetime
    states: dict[str, int]  # profiles of the team by state


@dataclass(frozen=True)
class EstablishmentView:
    et: str
    ej: str
    name: str
    referents: tuple[str, ...]
    teams: int
    accounts: int  # accounts with a profile here, of any state
    counts: dict[str, dict[str, int]]  # role → state → profiles
    queued: int  # directory changes of the establishment's skeleton not yet confirmed

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


def person(session: Session, text: str, *, now: datetime, max_age_days: int) -> PersonView:
    """The account whose Identifiant or RPPS is `text`, with everything that explains it."""
    key = text.strip().lower()
    account = session.scalar(sa.select(Account).where(Account.key == key))
    if account is None:
        raise PersonNotFound(f"no account has the Identifiant or RPPS {text.strip()!r}")
    profiles = _profiles(session, account.id)
    set_at = password_date(account.password_set_at, account.directory_password_at)
    run_ids = audit.runs_touching(session, account.key, RUNS_SHOWN)
    runs = session.scalars(
        sa.select(ImportRun).where(ImportRun.id.in_(run_ids)).order_by(ImportRun.id.desc())
    )
    return PersonView(
        key=account.key,
        doctor=account.doctor,
        rpps=account.rpps,
        nom=account.nom,
        prenom=account.prenom,
        email=account.email,
        password_set=bool(account.password_hash) or account.password_pending,
        password_set_at=set_at,
        password_expired=is_expired(set_at, now, max_age_days),
        password_pending=account.password_pending,
        locked=account.locked,
        locked_reason=_lock_reason(profiles) if account.locked else None,
        created_at=account.created_at,
        updated_at=account.updated_at,
        profiles=profiles,
        queued=_queued(session, ChangeKind.ACCOUNT.value, account.key, now),
        runs=tuple(r.as_dict() for r in runs),
        flagged=_flagged_lines(session, account.key),
    )


def _flagged_lines(session: Session, key: str) -> tuple[FlaggedLine, ...]:
    """The ALERTE and ERREUR lines of the latest runs whose Identifiant or RPPS is `key`.

    A refused line leaves no audit row, yet it is often the answer (« mot de passe
    ignoré », a weak password, a wrong ET). The cells are matched in Python: they are a
    JSON list, which the two engines query differently; only non-OK lines of the
    latest `RUNS_SCANNED` runs are read.
    """
    recent = sa.select(ImportRun.id).order_by(ImportRun.id.desc()).limit(RUNS_SCANNED)
    rows = session.execute(
        sa.select(
            LineOutcome.run_id,
            LineOutcome.line,
            LineOutcome.code,
            LineOutcome.messages,
            LineOutcome.cells,
            ImportRun.file_name,
            ImportRun.submitter,
        )
        .join(ImportRun, ImportRun.id == LineOutcome.run_id)
        .where(LineOutcome.run_id.in_(recent.scalar_subquery()))
        .where(LineOutcome.code != Code.OK.value)
        .order_by(LineOutcome.run_id.desc(), LineOutcome.line)
        .execution_options(yield_per=_STREAM)
    )
    found: list[FlaggedLine] = []
    for run_id, line, code, messages, cells, file, submitter in rows:
        if _names(cells, key):
            found.append(FlaggedLine(run_id, file, submitter, line, code, messages))
            if len(found) == LINES_SHOWN:
                break
    return tuple(found)


def _names(cells: list[str], key: str) -> bool:
    if len(cells) <= IDENTIFIANT:
        return False
    return cells[IDENTIFIANT].strip().lower() == key or cells[RPPS].strip() == key


def _profiles(session: Session, account_id: int) -> tuple[ProfileView, ...]:
    rows = session.execute(
        sa.select(Profile, Establishment.et, Establishment.name, Team.name)
        .join(Establishment, Establishment.id == Profile.establishment_id)
        .outerjoin(Team, Team.id == Profile.team_id)
        .where(Profile.account_id == account_id)
        .order_by(Establishment.et, Profile.role, Team.name, Profile.id)
    )
    return tuple(
        ProfileView(
            et=et,
            establishment=name,
            team=team,
            role=p.role,
            role_label=_role_label(p.role),
            state=p.state,
            state_label=STATE_LABELS.get(p.state, p.state),
            debut=p.debut,
            fin=p.fin,
        )
        for p, et, name, team in rows
    )


def _role_label(role: str) -> str:
    for code, spec in ROLES.items():
        if code.value == role:
            return spec.label
    return role


def _lock_reason(profiles: tuple[ProfileView, ...]) -> str:
    """Why an account is locked: it has no active profile (SPEC §4); which ones it has."""
    if not profiles:
        return "no profile"
    by_state = Counter(p.state for p in profiles)
    pending = [p.debut for p in profiles if p.state == ProfileState.PENDING and p.debut]
    parts = [f"{n} {STATE_LABELS.get(s, s)}" for s, n in sorted(by_state.items())]
    reason = "no active profile (" + ", ".join(parts) + ")"
    if pending:
        reason += f"; unlocks on {min(pending).isoformat()}, when a profile starts"
    return reason


def _queued(session: Session, kind: str, key: str, now: datetime) -> tuple[QueuedChange, ...]:
    rows = session.scalars(
        sa.select(DirectoryChange)
        .where(DirectoryChange.kind == kind, DirectoryChange.key == key)
        .order_by(DirectoryChange.id)
    )
    return tuple(
        QueuedChange(
            id=c.id,
            status="parked" if c.parked else "due" if c.next_attempt_at <= now else "waiting",
            attempts=c.attempts,
            next_attempt_at=c.next_attempt_at,
            last_error=c.last_error,
            run_id=c.run_id,
        )
        for c in rows
    )


def find_people(
    session: Session, text: str, limit: int = DEFAULT_FIND_LIMIT
) -> tuple[list[PersonHit], int]:
    """Accounts whose names, Identifiant/RPPS or email contain `text`, case- and
    accent-blind (« lefevre » finds « Lefèvre »); at most `limit`, and how many matched.

    The text is compared as text, never as a pattern: `%`, `_`, `*` are characters.
    """
    needle = fold_words(text)
    if not needle:
        raise EmptySearch("give some text to look for (part of a name, a login or an email)")
    columns = (Account.key, Account.rpps, Account.nom, Account.prenom, Account.email)
    found: list[tuple[tuple[str, str, str], PersonHit]] = []
    rows = session.execute(sa.select(*columns, Account.locked).execution_options(yield_per=_STREAM))
    folded: dict[str, str] = {}  # names repeat (prénoms above all): fold each once
    for key, rpps, nom, prenom, email, locked in rows:
        nom_f = folded.get(nom) or folded.setdefault(nom, fold_words(nom))
        prenom_f = folded.get(prenom) or folded.setdefault(prenom, fold_words(prenom))
        # One string, parts joined by a newline: a folded needle holds none, so it cannot
        # match across two parts.
        haystack = f"{nom_f} {prenom_f}\n{prenom_f} {nom_f}\n{key}\n{(email or '').lower()}"
        if needle in haystack:
            hit = PersonHit(key, rpps, nom, prenom, email, bool(locked))
            found.append(((nom_f, prenom_f, key), hit))
    found.sort(key=lambda item: item[0])
    return [hit for _, hit in found[:limit]], len(found)


def establishment(session: Session, et: str) -> EstablishmentView:
    """An establishment with its référents and its profiles counted by role and state."""
    est = _establishment(session, et)
    counts: dict[str, dict[str, int]] = {}
    rows = session.execute(
        sa.select(Profile.role, Profile.state, sa.func.count())
        .where(Profile.establishment_id == est.id)
        .group_by(Profile.role, Profile.state)
        .order_by(Profile.role, Profile.state)
    )
    for role, state, n in rows:
        counts.setdefault(role, {})[state] = int(n)
    accounts = session.scalar(
        sa.select(sa.func.count(sa.distinct(Profile.account_id))).where(
            Profile.establishment_id == est.id
        )
    )
    teams = session.scalar(
        sa.select(sa.func.count()).select_from(Team).where(Team.establishment_id == est.id)
    )
    queued = session.scalar(
        sa.select(sa.func.count())
        .select_from(DirectoryChange)
        .where(
            DirectoryChange.kind == ChangeKind.ESTABLISHMENT.value, DirectoryChange.key == est.et
        )
    )
    return EstablishmentView(
        et=est.et,
        ej=est.ej,
        name=est.name,
        referents=admin.referents_of(session, est.id),
        teams=int(teams or 0),
        accounts=int(accounts or 0),
        counts=counts,
        queued=int(queued or 0),
    )


def teams(session: Session, et: str) -> list[TeamView]:
    """The teams of an establishment, by name, with their profiles counted by state."""
    est = _establishment(session, et)
    by_team: dict[int, dict[str, int]] = {}
    rows = session.execute(
        sa.select(Profile.team_id, Profile.state, sa.func.count())
        .where(Profile.establishment_id == est.id, Profile.team_id.is_not(None))
        .group_by(Profile.team_id, Profile.state)
    )
    for team_id, state, n in rows:
        if team_id is not None:
            by_team.setdefault(team_id, {})[state] = int(n)
    found = session.scalars(sa.select(Team).where(Team.establishment_id == est.id))
    views = [TeamView(t.name, t.created_at, by_team.get(t.id, {})) for t in found]
    return sorted(views, key=lambda t: (fold_words(t.name), t.name))


def _establishment(session: Session, et: str) -> Establishment:
    value = admin.normalise_finess(et, "ET")
    est = session.scalar(sa.select(Establishment).where(Establishment.et == value))
    if est is None:
        raise admin.UnknownEstablishment(value)
    return est


def _jsonable(value: Any) -> Any:
    """Dates as ISO strings, recursively: what `--json` prints."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value


class UnknownStatus(ProfilesyncError):
    """A `--status` that no run can have."""


def runs(
    session: Session,
    *,
    submitter: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """The newest runs, newest first, of one référent, in one status, from a date on."""
    query = sa.select(ImportRun)
    if submitter is not None:
        query = query.where(ImportRun.submitter == admin.login_key(submitter))
    if status is not None:
        known = [s.value for s in RunStatus]
        if status.strip().lower() not in known:
            raise UnknownStatus(f"--status {status!r}: one of {', '.join(known)}")
        query = query.where(ImportRun.status == status.strip().lower())
    if since is not None:
        query = query.where(ImportRun.created_at >= since)
    found = session.scalars(query.order_by(ImportRun.id.desc()).limit(limit))
    return [r.as_dict() for r in found]
