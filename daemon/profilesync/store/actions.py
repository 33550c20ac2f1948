"""Apply one validated `Line` to the in-memory state of its batch (SPEC §4–§6) → its problems.

Each action first decides (collecting every problem) and only then mutates, so a line with an
ERREUR changes nothing. Mutations are recorded on the `BatchState` (dirty records, audit rows,
directory changes) and written by its `flush`, in the transaction that also records the
line's outcome: a line's effect and its verdict commit together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from profilesync.config import PasswordSettings
from profilesync.fileformat import messages
from profilesync.fileformat.folding import fold_words
from profilesync.fileformat.lines import Action, Line
from profilesync.fileformat.outcome import Code, Problem
from profilesync.fileformat.report import unneutralised
from profilesync.fileformat.roles import ROLES
from profilesync.fileformat.rules import password_problems
from profilesync.secret import Secret
from profilesync.store.batchstate import (
    AccountRec,
    BatchState,
    EstablishmentRec,
    ProfileRec,
    TeamRec,
    state_for,
)
from profilesync.store.model import ActorKind, ChangeKind, ProfileState
from profilesync.store.passwords import is_expired, password_date

# Plain str constants: an enum member's `.value` is a slow descriptor in a per-line path.
_ACCOUNT = str(ChangeKind.ACCOUNT)
_ESTABLISHMENT = str(ChangeKind.ESTABLISHMENT)
_ACTIVE = str(ProfileState.ACTIVE)
_DELETED = str(ProfileState.DELETED)
_REFERENT = str(ActorKind.REFERENT)
# The profiles that make an establishment rely on an account's names, email and password.
_LIVE = frozenset({_ACTIVE, str(ProfileState.PENDING)})
_DOCTOR = {role: spec.doctor for role, spec in ROLES.items()}

# What the audit records of a new password: that it changed, never the value nor its hash.
PASSWORD_CHANGED = "changed"  # noqa: S105 - a marker, not a password
HashFn = Callable[[Secret], "Future[str]"]


@dataclass(frozen=True)
class Context:
    """What every line of a run is judged with: who submits, when, and what they may touch."""

    actor: str
    run_id: int | None
    now: datetime
    today: date
    policy: PasswordSettings
    establishments: dict[str, EstablishmentRec]
    allowed: frozenset[int]  # establishment ids the submitter is référent of
    hash: HashFn


def _unguard(line: Line) -> Line:
    """An unchanged export re-imported as is must not rename « -Martin » to « '-Martin »."""
    if "'" not in (line.nom[:1], line.prenom[:1], line.team[:1]):
        return line
    return dataclasses.replace(
        line,
        nom=unneutralised(line.nom),
        prenom=unneutralised(line.prenom),
        team=unneutralised(line.team),
    )


def apply(state: BatchState, line: Line, ctx: Context) -> tuple[Problem, ...]:
    """Judge `line` against the state and, when it has no ERREUR, apply it to the state."""
    line = _unguard(line)
    est = ctx.establishments.get(line.et)
    if est is None:
        return (Problem.erreur(messages.et_unknown(line.et)),)
    problems = []
    if est.ej != line.ej:
        problems.append(Problem.erreur(messages.ej_mismatch(line.ej, line.et, est.ej)))
    if est.id not in ctx.allowed:
        problems.append(Problem.erreur(messages.not_referent(line.et)))
    if problems:
        # Nothing is said about the state of an establishment the submitter may not touch.
        return tuple(problems)
    padded = _zeros_dropped(state, line, ctx)
    if padded is not None:
        return _padded(state, line, est, ctx, padded)
    if line.action is Action.CREATE:
        return _create(state, line, est, ctx)
    if line.action is Action.MODIFY:
        return _modify(state, line, est, ctx)
    return _delete(state, line, est, ctx)


def _zeros_dropped(state: BatchState, line: Line, ctx: Context) -> AccountRec | None:
    """The account a numeric Identifiant names once left-padded with zeros (SPEC 2b), when
    it names no account of the submitter's establishments and exactly one such padded
    account is theirs. Other establishments' accounts are never looked at: a référent
    learns nothing about them, and nothing of theirs is touched."""
    key = line.identifiant
    if line.doctor or key[:1] in ("", "0") or not key.isdigit():
        return None
    account = state.accounts.get(key)
    if account is not None and _is_ours(account, ctx):
        return None
    found = [a for a in state.padded(key) if not a.doctor and _is_ours(a, ctx)]
    return found[0] if len(found) == 1 else None


def _padded(
    state: BatchState, line: Line, est: EstablishmentRec, ctx: Context, account: AccountRec
) -> tuple[Problem, ...]:
    """A guessed repair: M and S apply to the padded account with ALERTE; C is refused,
    rather than a second account for the same person."""
    if line.action is Action.CREATE:
        return (Problem.erreur(messages.identifiant_zeros_exists(account.key)),)
    line = dataclasses.replace(line, identifiant=account.key)
    act = _modify if line.action is Action.MODIFY else _delete
    guessed = Problem.alerte(messages.identifiant_zeros_guessed(account.key))
    return (guessed, *act(state, line, est, ctx))


def _is_ours(account: AccountRec, ctx: Context) -> bool:
    """Whether the account has a profile (in any state) in an establishment of the submitter."""
    return any(p.establishment_id in ctx.allowed for p in account.profiles)


def _find_profile(state: BatchState, line: Line, est: EstablishmentRec) -> ProfileRec | None:
    """The live or deleted profile row with the line's key, if any.

    Every line of a re-import comes here: a plain loop, `line.doctor` read once.
    """
    doctor = _DOCTOR[line.role]
    account = state.accounts.get(line.rpps if doctor else line.identifiant)
    if account is None or account.doctor != doctor:
        return None
    team = None
    if line.team:
        team = state.teams.get((est.id, line.team))
        if team is None:
            return None
    est_id, role = est.id, line.role
    for p in account.profiles:
        if p.establishment_id == est_id and p.role == role and p.team is team:
            return p
    return None


def _kind_problem(account: AccountRec, line: Line) -> Problem | None:
    if account.doctor and not line.doctor:
        return Problem.erreur(messages.key_is_doctor(account.key))
    if not account.doctor and line.doctor:
        return Problem.erreur(messages.key_is_not_doctor(account.key))
    return None


def _has_erreur(problems: list[Problem]) -> bool:
    return any(p.code is Code.ERREUR for p in problems)


def _create(
    state: BatchState, line: Line, est: EstablishmentRec, ctx: Context
) -> tuple[Problem, ...]:
    problems: list[Problem] = []
    account = state.accounts.get(line.account_key)
    existing = _find_profile(state, line, est)
    if existing is not None and existing.state != _DELETED:
        return (Problem.erreur(messages.PROFILE_EXISTS),)
    new_password = False
    if account is None:
        if line.password is None:
            return (Problem.erreur(messages.password_required(line.account_key)),)
    else:
        taken = _taken(account, line, ctx)
        if taken is not None:
            return (taken,)
        if account.doctor and (account.nom, account.prenom) != (line.nom, line.prenom):
            problems.append(Problem.alerte(messages.DOCTOR_NAMES_IGNORED))
        owned = _owns(account, ctx)
        new_password = _password_decision(account, line, ctx, problems, owned=owned)
        if not owned and _email_changes(account, line):
            problems.append(Problem.alerte(messages.EMAIL_SHARED))
    if _has_erreur(problems):
        return tuple(problems)

    if account is None:
        account = _new_account(state, line, ctx)
    else:
        _update_account(
            state, account, line, ctx, names=False, email=owned, new_password=new_password
        )
    team = None
    if line.team:
        team = state.team(est.id, line.team)
        if team is None:
            team = state.add_team(est.id, line.team)
            _audit(state, ctx, line, "team.create", "team", f"{line.et}/{line.team}", {})
            state.queue(_ESTABLISHMENT, line.et)
    new_state = state_for(line.debut, line.fin, ctx.today)
    if existing is not None:  # a deleted profile re-created: the same row comes back to life
        changes = _profile_changes(existing, line.debut, line.fin, new_state)
        existing.debut, existing.fin, existing.state = line.debut, line.fin, new_state
        existing.dirty = True
        _audit(state, ctx, line, "profile.recreate", "profile", _profile_key(line), changes)
    else:
        profile = ProfileRec(
            None, account, est.id, str(line.role), team, line.debut, line.fin, new_state
        )
        state.add_profile(profile)
        changes = {"debut": [None, _iso(line.debut)], "fin": [None, _iso(line.fin)]}
        _audit(state, ctx, line, "profile.create", "profile", _profile_key(line), changes)
    _relock(account)
    state.queue(_ACCOUNT, account.key)
    return tuple(problems)


def _modify(
    state: BatchState, line: Line, est: EstablishmentRec, ctx: Context
) -> tuple[Problem, ...]:
    profile = _find_profile(state, line, est)
    if profile is None or profile.state == _DELETED:
        return (Problem.erreur(messages.PROFILE_MISSING_M),)
    account = profile.account
    problems: list[Problem] = []
    if account.doctor and (account.nom, account.prenom) != (line.nom, line.prenom):
        problems.append(Problem.alerte(messages.DOCTOR_NAMES_IGNORED))
    debut = line.debut if line.debut is not None else profile.debut
    fin = line.fin if line.fin is not None else profile.fin
    if debut is not None and fin is not None and fin < debut:
        problems.append(Problem.erreur(messages.fin_before_debut_stored(_fr(fin), _fr(debut))))
    owned = _owns(account, ctx)
    new_password = line.password is not None and _password_decision(
        account, line, ctx, problems, owned=owned
    )
    if problems and _has_erreur(problems):
        return tuple(problems)

    rename = not account.doctor and (account.nom != line.nom or account.prenom != line.prenom)
    email = _email_changes(account, line)
    if not owned and rename:
        problems.append(Problem.alerte(messages.NAMES_SHARED))
    if not owned and email:
        problems.append(Problem.alerte(messages.EMAIL_SHARED))
    touched = (new_password or (owned and (rename or email))) and _update_account(
        state, account, line, ctx, names=owned, email=owned, new_password=new_password
    )
    if (debut, fin) != (profile.debut, profile.fin):
        # Unchanged dates leave the state alone: time-driven transitions are the jobs'.
        new_state = state_for(debut, fin, ctx.today)
        changes = _profile_changes(profile, debut, fin, new_state)
        profile.debut, profile.fin, profile.state = debut, fin, new_state
        profile.dirty = True
        _audit(state, ctx, line, "profile.update", "profile", _profile_key(line), changes)
        _relock(account)
        touched = True
    if touched:
        state.queue(_ACCOUNT, account.key)
    return tuple(problems)


def _delete(
    state: BatchState, line: Line, est: EstablishmentRec, ctx: Context
) -> tuple[Problem, ...]:
    profile = _find_profile(state, line, est)
    if profile is None or profile.state == _DELETED:
        return (Problem.erreur(messages.PROFILE_MISSING_S),)
    changes = {"state": [profile.state, _DELETED]}
    profile.state = _DELETED
    profile.dirty = True
    _audit(state, ctx, line, "profile.delete", "profile", _profile_key(line), changes)
    _relock(profile.account)
    state.queue(_ACCOUNT, profile.account.key)
    return ()


def _taken(account: AccountRec, line: Line, ctx: Context) -> Problem | None:
    """Why a C line may not add a profile to this existing account, if it may not (SPEC §4).

    A doctor's account (RPPS) is national. Any other account belongs to the establishments
    where it has a profile: one with none among the submitter's is « déjà utilisé », with
    the same words whatever its kind, names or password, so that a référent learns nothing
    about the accounts of other establishments.
    """
    if account.doctor and line.doctor:
        return None
    if not _is_ours(account, ctx):
        return Problem.erreur(messages.identifiant_taken(line.account_key))
    kind = _kind_problem(account, line)
    if kind is not None:
        return kind
    if (fold_words(account.nom), fold_words(account.prenom)) != (
        fold_words(line.nom),
        fold_words(line.prenom),
    ):
        return Problem.erreur(messages.identifiant_taken(line.account_key))
    return None


def _owns(account: AccountRec, ctx: Context) -> bool:
    """Whether the submitter alone relies on the account's names, email and password.

    Only an active or pending profile makes an establishment rely on them: an ended or
    deleted one no longer logs anybody in.
    """
    allowed = ctx.allowed
    return all(p.establishment_id in allowed for p in account.profiles if p.state in _LIVE)


def _email_changes(account: AccountRec, line: Line) -> bool:
    return line.email is not None and line.email != account.email


def _password_decision(
    account: AccountRec, line: Line, ctx: Context, problems: list[Problem], *, owned: bool
) -> bool:
    """Whether the line's password replaces the account's.

    Only the submitter's own account, and only once its password expired: a password set by
    a référent who shares the account would let them log in with another establishment's
    roles. A shared account is refused before expiry is looked at, so the answer says
    nothing about it.
    """
    if line.password is None:
        return False
    if not owned:
        problems.append(Problem.alerte(messages.PASSWORD_SHARED))
        return False
    set_at = password_date(account.password_set_at, account.directory_password_at)
    if not is_expired(set_at, ctx.now, ctx.policy.max_age_days):
        problems.append(Problem.alerte(messages.PASSWORD_IGNORED))
        return False
    nom = line.nom if not account.doctor else account.nom
    found = password_problems(line.password.reveal(), login=account.key, nom=nom, policy=ctx.policy)
    problems.extend(found)
    return not any(p.code is Code.ERREUR for p in found)


def _new_account(state: BatchState, line: Line, ctx: Context) -> AccountRec:
    assert line.password is not None
    account = AccountRec(
        id=None,
        key=line.account_key,
        doctor=line.doctor,
        rpps=line.rpps or None,
        nom=line.nom,
        prenom=line.prenom,
        email=line.email,
        password_hash="",
        set_at=ctx.now,
        locked=True,
        pending_hash=ctx.hash(line.password),
    )
    state.add_account(account)
    changes: dict[str, Any] = {
        "nom": [None, line.nom],
        "prenom": [None, line.prenom],
        "email": [None, line.email],
        "password": PASSWORD_CHANGED,
    }
    _audit(state, ctx, line, "account.create", "account", account.key, changes)
    return account


def _update_account(
    state: BatchState,
    account: AccountRec,
    line: Line,
    ctx: Context,
    *,
    names: bool,
    email: bool,
    new_password: bool,
) -> bool:
    """Names (M of a non-doctor), email, an expired password; True when something changed.

    `names` and `email` are False when the account is shared with another establishment.
    """
    changes: dict[str, Any] = {}
    if names and not account.doctor:
        if account.nom != line.nom:
            changes["nom"] = [account.nom, line.nom]
            account.nom = line.nom
        if account.prenom != line.prenom:
            changes["prenom"] = [account.prenom, line.prenom]
            account.prenom = line.prenom
    if email and line.email is not None and line.email != account.email:
        changes["email"] = [account.email, line.email]
        account.email = line.email
    if new_password:
        assert line.password is not None
        account.pending_hash = ctx.hash(line.password)
        account.password_set_at = ctx.now
        changes["password"] = PASSWORD_CHANGED
    if not changes:
        return False
    account.dirty = True
    _audit(state, ctx, line, "account.update", "account", account.key, changes)
    return True


def _relock(account: AccountRec) -> bool:
    """Keep `locked` = no active profile; True when it flipped (the directory must follow)."""
    locked = not any(p.state == _ACTIVE for p in account.profiles)
    if locked == account.locked:
        return False
    account.locked = locked
    account.dirty = True
    return True


def _profile_changes(
    profile: ProfileRec, debut: date | None, fin: date | None, new_state: str
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if profile.debut != debut:
        changes["debut"] = [_iso(profile.debut), _iso(debut)]
    if profile.fin != fin:
        changes["fin"] = [_iso(profile.fin), _iso(fin)]
    if profile.state != new_state:
        changes["state"] = [profile.state, str(new_state)]
    return changes


def _audit(  # noqa: PLR0917 - one call shape, six call sites
    state: BatchState,
    ctx: Context,
    line: Line,
    action: str,
    entity: str,
    key: str,
    changes: dict[str, Any],
) -> None:
    """One audit row of the line (see docs/architecture.md, « Audit rows »)."""
    profile = entity == "profile"
    state.audit(
        at=ctx.now,
        actor=ctx.actor,
        actor_kind=_REFERENT,
        run_id=ctx.run_id,
        line=line.number,
        action=action,
        entity=entity,
        entity_key=key,
        account_key=key if entity == "account" else line.account_key if profile else None,
        et=None if entity == "account" else line.et,
        role=line.role.value if profile else None,
        team=(line.team or None) if entity != "account" else None,
        changes=changes,
    )


def _profile_key(line: Line) -> str:
    return f"{line.account_key}/{line.et}/{line.role.value}/{line.team}"


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _fr(value: date) -> str:
    return value.strftime("%d/%m/%Y")


__all__ = ["Context", "TeamRec", "apply"]
