"""Establishments and référents, as operators register them (SPEC §6).

These registrations decide who may touch which profiles, so every change is audited with
the operator's name and every input is checked before anything is written: a FINESS must
carry a valid key, an ET belongs to exactly one EJ, and a login must be usable as the
name of the référent's inbox folder. Adding what is already there changes nothing, so a
provisioning script can run the same commands again.

Functions take the caller's session and never commit: a command runs them all in one
`transaction`, so that it does everything it was asked or nothing.
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.errors import ProfilesyncError
from profilesync.fileformat.identifiers import finess_valid
from profilesync.store import db
from profilesync.store.model import (
    ActorKind,
    Audit,
    ChangeKind,
    DirectoryChange,
    Establishment,
    Referent,
    ReferentEstablishment,
)

LOGIN_MAX = 100
NAME_MAX = 200
# A login is the name of inbox/<login>/ and outbox/<login>/; outbox/exports/ is taken.
RESERVED_LOGINS = frozenset({layout.EXPORTS_FOLDER})
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._@-]*")
_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+"
)
EMAIL_MAX = 254
# The shape only, to tell a wrong key from a malformed value in messages.
_FINESS_SHAPE = re.compile(r"(?:0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|9[78])[0-9]{7}")
_EIGHT_DIGITS = re.compile(r"[0-9]{8}")


class AdminError(ProfilesyncError):
    """An admin command cannot be carried out as asked; the message says how to fix it."""


class InvalidFiness(AdminError):
    """A FINESS number is malformed or its check key is wrong."""


class EstablishmentConflict(AdminError):
    """The ET is already registered under another EJ."""


class UnknownEstablishment(AdminError):
    """The ET is not registered; one message for every command that needs it registered."""

    def __init__(self, *ets: str) -> None:
        super().__init__(
            f"establishment {', '.join(ets)} is not registered: add it first with "
            f"`profilesync establishment add --ej EJ --et {ets[0]}`"
        )


class InvalidLogin(AdminError):
    """A login that cannot safely name a folder."""


class InvalidEmail(AdminError):
    """A référent's notification address that is not one address."""


class UnknownReferent(AdminError):
    """No référent has this login."""


class ConcurrentChange(AdminError):
    """Another command changed the same record at the same instant: running again settles it."""


@dataclass(frozen=True)
class EstablishmentInfo:
    et: str
    ej: str
    name: str
    referents: tuple[str, ...]


@dataclass(frozen=True)
class ReferentInfo:
    login: str
    establishments: tuple[str, ...]
    email: str | None = None  # where notifications go (service/mail.py)


@dataclass(frozen=True)
class EstablishmentChange:
    """What `add_establishment` did: `created`, `renamed` or neither (already there)."""

    establishment: EstablishmentInfo
    created: bool
    renamed: bool


@dataclass(frozen=True)
class ReferentChange:
    """What `add_referent` / `remove_referent` did; empty tuples mean nothing changed."""

    login: str
    created: bool
    deleted: bool
    added: tuple[str, ...]
    removed: tuple[str, ...]
    establishments: tuple[str, ...]  # after the change
    email_changed: bool = False


@contextmanager
def transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction per command, so that it does all it was asked or nothing; of two
    operators registering the same thing at the same instant, the loser is told to retry."""
    try:
        with db.transaction(session_factory) as session:
            yield session
    except sa.exc.IntegrityError:
        raise ConcurrentChange(
            "another command changed the same record at the same time: run it again"
        ) from None


def operator_actor() -> str:
    """`operator:<unix user>` for audit rows; the sudo caller when run through sudo."""
    user = os.environ.get("SUDO_USER") or pwd.getpwuid(os.geteuid()).pw_name
    return f"operator:{user}"[:100]


# -- input checks ---------------------------------------------------------------------------


def normalise_finess(text: str, what: str = "FINESS") -> str:
    """The FINESS in upper case, or `InvalidFiness` saying what is wrong (in English).

    The check itself is `identifiers.finess_valid`, the one the import rules use, so an
    establishment registered here is one whose lines the rules accept.
    """
    value = text.strip().upper()
    if finess_valid(value):
        return value
    if _EIGHT_DIGITS.fullmatch(value) and finess_valid("0" + value):
        raise InvalidFiness(
            f"{what} {value} has 8 digits: a spreadsheet may have dropped its leading zero; "
            f"did you mean 0{value}?"
        )
    if len(value) != 9:
        raise InvalidFiness(
            f"{what} {text.strip()!r} has {len(value)} characters: a FINESS number has 9"
        )
    if not _FINESS_SHAPE.fullmatch(value):
        raise InvalidFiness(
            f"{what} {value!r} is not a FINESS number: a département (01–95, 2A, 2B, 97, 98) "
            "then digits"
        )
    raise InvalidFiness(f"{what} {value} has a wrong check key (last digit)")


def login_key(text: str) -> str:
    """The form logins are stored in: trimmed, lower case — for what an operator types.

    An inbox folder is never looked up through this: its name must be the login exactly
    (SPEC §6), so that a folder that only resembles a login gets no référent's rights.
    """
    return text.strip().lower()


def normalise_login(text: str) -> str:
    """`login_key(text)`, or `InvalidLogin`: the login registered, and its folders' name."""
    value = login_key(text)
    if (
        len(value) > LOGIN_MAX
        or not _LOGIN.fullmatch(value)
        or ".." in value
        or value in RESERVED_LOGINS
    ):
        raise InvalidLogin(
            f"invalid login {text!r}: it names the référent's inbox folder, so use only "
            f"letters a-z, digits, '.', '_', '-' and '@', start with a letter or a digit, "
            f"no '..', at most {LOGIN_MAX} characters"
            + (f", and not {value!r} (reserved)" if value in RESERVED_LOGINS else "")
        )
    return value


# -- establishments -------------------------------------------------------------------------


def add_establishment(
    session: Session, *, ej: str, et: str, name: str | None, actor: str, now: datetime
) -> EstablishmentChange:
    """Register an ET under its EJ; the same pair again only updates a given new name."""
    ej = normalise_finess(ej, "EJ")
    et = normalise_finess(et, "ET")
    clean_name = None if name is None else " ".join(name.split())
    if clean_name is not None and len(clean_name) > NAME_MAX:
        raise AdminError(f"name is too long ({len(clean_name)} characters, at most {NAME_MAX})")
    if clean_name is not None and not clean_name.isprintable():
        raise AdminError("name contains a control character")
    existing = session.scalar(sa.select(Establishment).where(Establishment.et == et))
    if existing is not None:
        if existing.ej != ej:
            raise EstablishmentConflict(
                f"ET {et} is already registered under EJ {existing.ej}, not {ej}: "
                "an establishment belongs to one legal entity"
            )
        renamed = clean_name is not None and _set_audited(
            session, existing, "name", clean_name, ("establishment.rename", et), actor, now
        )
        if renamed:
            session.flush()
        return EstablishmentChange(_establishment_info(session, existing), False, renamed)
    est = Establishment(et=et, ej=ej, name=clean_name or "", created_at=now)
    session.add(est)
    # Database first: the directory worker creates ou=<ET> and its sub-OUs from this row.
    session.add(
        DirectoryChange(
            kind=ChangeKind.ESTABLISHMENT.value,
            key=et,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            parked=False,
        )
    )
    _audit(
        session,
        "establishment.add",
        et,
        {"ej": [None, ej], "name": [None, est.name]},
        actor=actor,
        now=now,
    )
    session.flush()
    return EstablishmentChange(EstablishmentInfo(et, ej, est.name, ()), True, False)


def list_establishments(session: Session) -> list[EstablishmentInfo]:
    """Every establishment with its référents, by ET."""
    referents = _referents_by_establishment(session)
    rows = session.scalars(sa.select(Establishment).order_by(Establishment.et))
    return [EstablishmentInfo(e.et, e.ej, e.name, referents.get(e.id, ())) for e in rows]


def referents_of(session: Session, establishment_id: int) -> tuple[str, ...]:
    """The logins of an establishment's référents, sorted."""
    return _referents_by_establishment(session, establishment_id).get(establishment_id, ())


def _establishment_info(session: Session, est: Establishment) -> EstablishmentInfo:
    return EstablishmentInfo(est.et, est.ej, est.name, referents_of(session, est.id))


def _referents_by_establishment(
    session: Session, establishment_id: int | None = None
) -> dict[int, tuple[str, ...]]:
    query = (
        sa.select(ReferentEstablishment.establishment_id, Referent.login)
        .join(Referent, Referent.id == ReferentEstablishment.referent_id)
        .order_by(Referent.login)
    )
    if establishment_id is not None:
        query = query.where(ReferentEstablishment.establishment_id == establishment_id)
    out: dict[int, list[str]] = {}
    for est_id, login in session.execute(query):
        out.setdefault(est_id, []).append(login)
    return {k: tuple(v) for k, v in out.items()}


# -- référents ------------------------------------------------------------------------------


def normalise_email(text: str) -> str:
    """One address, lower case, or `InvalidEmail`: it goes in a mail header, so no space,
    no line break, no list (any domain: a référent's mailbox need not be MSSanté)."""
    value = text.strip().lower()
    if len(value) > EMAIL_MAX or not _EMAIL.fullmatch(value):
        raise InvalidEmail(f"invalid email address {text!r}: one address such as name@host.fr")
    return value


def add_referent(
    session: Session,
    login: str,
    ets: Sequence[str],
    *,
    actor: str,
    now: datetime,
    email: str | None = None,
) -> ReferentChange:
    """Make `login` référent of `ets` (in addition to any it already has); with `email`,
    set the address their notifications go to."""
    login = normalise_login(login)
    address = None if email is None else normalise_email(email)
    if not ets:
        raise AdminError("give at least one establishment (--et)")
    wanted = _registered(session, ets)
    referent = _referent(session, login)
    created = referent is None
    if referent is None:
        referent = Referent(login=login, created_at=now)
        session.add(referent)
        session.flush()
    before = _ets_of(session, referent.id)
    added = tuple(sorted(set(wanted) - set(before)))
    for et in added:
        session.add(ReferentEstablishment(referent_id=referent.id, establishment_id=wanted[et]))
    after = tuple(sorted({*before, *added}))
    email_changed = address is not None and _set_audited(
        session, referent, "email", address, ("referent.email", login), actor, now
    )
    if created or added:
        action = "referent.add" if created else "referent.grant"
        _audit(
            session,
            action,
            login,
            {"establishments": [list(before), list(after)]},
            actor=actor,
            now=now,
        )
    session.flush()
    return ReferentChange(login, created, False, added, (), after, email_changed)


def remove_referent(
    session: Session,
    login: str,
    ets: Sequence[str] | None = None,
    *,
    actor: str,
    now: datetime,
) -> ReferentChange:
    """Withdraw `ets` from `login`, or without `ets` remove the référent entirely."""
    login = normalise_login(login)
    referent = _referent(session, login)
    if referent is None:
        raise UnknownReferent(f"no référent has the login {login!r}")
    before = _ets_of(session, referent.id)
    if not ets:
        _audit(
            session,
            "referent.remove",
            login,
            {"establishments": [list(before), []]},
            actor=actor,
            now=now,
        )
        session.delete(referent)
        session.flush()
        return ReferentChange(login, False, True, (), before, ())
    wanted = _registered(session, ets)
    removed = tuple(sorted(set(wanted) & set(before)))
    if removed:
        session.execute(
            sa.delete(ReferentEstablishment).where(
                ReferentEstablishment.referent_id == referent.id,
                ReferentEstablishment.establishment_id.in_([wanted[et] for et in removed]),
            )
        )
        after = tuple(et for et in before if et not in removed)
        _audit(
            session,
            "referent.revoke",
            login,
            {"establishments": [list(before), list(after)]},
            actor=actor,
            now=now,
        )
        session.flush()
        session.expire(referent)
        return ReferentChange(login, False, False, (), removed, after)
    return ReferentChange(login, False, False, (), (), before)


def list_referents(session: Session) -> list[ReferentInfo]:
    """Every référent with their establishments, by login."""
    query = (
        sa.select(Referent.login, Referent.email, Establishment.et)
        .outerjoin(ReferentEstablishment, ReferentEstablishment.referent_id == Referent.id)
        .outerjoin(Establishment, Establishment.id == ReferentEstablishment.establishment_id)
        .order_by(Referent.login, Establishment.et)
    )
    out: dict[str, list[str]] = {}
    emails: dict[str, str | None] = {}
    for login, email, et in session.execute(query):
        out.setdefault(login, [])
        emails[login] = email
        if et is not None:
            out[login].append(et)
    return [ReferentInfo(login, tuple(ets), emails[login]) for login, ets in out.items()]


def _referent(session: Session, login: str) -> Referent | None:
    return session.scalar(sa.select(Referent).where(Referent.login == login))


def _ets_of(session: Session, referent_id: int) -> tuple[str, ...]:
    query = (
        sa.select(Establishment.et)
        .join(ReferentEstablishment, ReferentEstablishment.establishment_id == Establishment.id)
        .where(ReferentEstablishment.referent_id == referent_id)
        .order_by(Establishment.et)
    )
    return tuple(session.scalars(query))


def _registered(session: Session, ets: Iterable[str]) -> dict[str, int]:
    """ET → establishment id for each given ET; `UnknownEstablishment` names the missing."""
    normalised = sorted({normalise_finess(et, "ET") for et in ets})
    rows = session.execute(
        sa.select(Establishment.et, Establishment.id).where(Establishment.et.in_(normalised))
    )
    found = {et: est_id for et, est_id in rows}
    missing = [et for et in normalised if et not in found]
    if missing:
        raise UnknownEstablishment(*missing)
    return found


def _set_audited(  # noqa: PLR0917 - private, two call sites
    session: Session,
    row: object,
    attr: str,
    value: object,
    what: tuple[str, str],
    actor: str,
    now: datetime,
) -> bool:
    """Set `row.attr` to `value` with an audit row (action, key) when it changes it."""
    old = getattr(row, attr)
    if value == old:
        return False
    action, key = what
    _audit(session, action, key, {attr: [old, value]}, actor=actor, now=now)
    setattr(row, attr, value)
    return True


def _audit(
    session: Session,
    action: str,
    key: str,
    changes: dict[str, object],
    *,
    actor: str,
    now: datetime,
) -> None:
    """One audit row; the entity is the action's prefix (`referent.add` → `referent`)."""
    entity = action.split(".", 1)[0]
    session.add(
        Audit(
            at=now,
            actor=actor,
            actor_kind=ActorKind.OPERATOR.value,
            action=action,
            entity=entity,
            entity_key=key,
            et=key if entity == "establishment" else None,
            changes=changes,
        )
    )
