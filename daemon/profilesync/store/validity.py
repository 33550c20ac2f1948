"""The validity job: profiles follow their dates, accounts follow their profiles.

A profile's state is a function of its dates and today's date in Europe/Paris (début
inclusive from 00:00, fin inclusive to the end of the day, SPEC §3); `deleted` is final.
The job recomputes every non-deleted profile whose stored state disagrees — activation,
expiry, and any state an edit of the dates left behind — then `Account.locked` for every
account whose lock disagrees with "has no active profile", and queues one directory change
per account touched so the directory follows (SPEC §4). Running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock, today
from profilesync.store.model import (
    Account,
    ActorKind,
    Audit,
    ChangeKind,
    DirectoryChange,
    Establishment,
    Profile,
    ProfileState,
    Team,
)

ACTOR = "profilesync:validity"


def target_state(debut: date | None, fin: date | None, day: date) -> ProfileState:
    """What the dates say a (non-deleted) profile is on `day`."""
    if fin is not None and fin < day:
        return ProfileState.ENDED
    if debut is not None and debut > day:
        return ProfileState.PENDING
    return ProfileState.ACTIVE


def _target_sql(day: date) -> sa.ColumnElement[str]:
    return sa.case(
        (sa.and_(Profile.fin.is_not(None), Profile.fin < day), ProfileState.ENDED.value),
        (sa.and_(Profile.debut.is_not(None), Profile.debut > day), ProfileState.PENDING.value),
        else_=ProfileState.ACTIVE.value,
    )


@dataclass(frozen=True)
class ValidityResult:
    activated: int = 0
    ended: int = 0
    pending: int = 0
    locked: int = 0
    unlocked: int = 0
    changes: int = 0

    @property
    def acted(self) -> bool:
        counts = (
            self.activated,
            self.ended,
            self.pending,
            self.locked,
            self.unlocked,
            self.changes,
        )
        return any(counts)

    def summary(self) -> str:
        return (
            f"{self.activated} activated, {self.ended} ended, {self.pending} back to pending, "
            f"{self.locked} accounts locked, {self.unlocked} unlocked, "
            f"{self.changes} directory changes queued"
        )


def run_validity(session_factory: sessionmaker[Session], clock: Clock) -> ValidityResult:
    day = today(clock)
    now = clock.now()
    counts = {s: 0 for s in ProfileState}
    touched: set[int] = set()
    with session_factory() as session:
        rows = session.execute(
            sa.select(Profile, Account.key, Establishment.et, Team.name)
            .join(Account, Profile.account_id == Account.id)
            .join(Establishment, Profile.establishment_id == Establishment.id)
            .outerjoin(Team, Profile.team_id == Team.id)
            .where(Profile.state != ProfileState.DELETED.value)
            .where(Profile.state != _target_sql(day))
            .order_by(Profile.id)
        ).all()
        for profile, key, et, team in rows:
            new = target_state(profile.debut, profile.fin, day)
            session.add(
                Audit(
                    at=now,
                    actor=ACTOR,
                    actor_kind=ActorKind.SYSTEM.value,
                    action=f"profile.{new.value}",
                    entity="profile",
                    entity_key=f"{key}/{et}/{profile.role}/{team or ''}",
                    account_key=key,
                    et=et,
                    role=profile.role,
                    team=team,
                    changes={"state": [profile.state, new.value]},
                )
            )
            profile.state = new.value
            profile.updated_at = now
            counts[new] += 1
            touched.add(profile.account_id)
        session.flush()
        locked, unlocked = _relock(session, now, touched)
        keys = session.scalars(sa.select(Account.key).where(Account.id.in_(touched))).all()
        session.add_all(
            DirectoryChange(
                kind=ChangeKind.ACCOUNT.value,
                key=key,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                parked=False,
            )
            for key in sorted(keys)
        )
        session.commit()
    return ValidityResult(
        activated=counts[ProfileState.ACTIVE],
        ended=counts[ProfileState.ENDED],
        pending=counts[ProfileState.PENDING],
        locked=locked,
        unlocked=unlocked,
        changes=len(keys),
    )


def _relock(session: Session, now: object, touched: set[int]) -> tuple[int, int]:
    """Set `locked` where it disagrees with the profiles; adds the accounts to `touched`."""
    has_active = (
        sa.select(Profile.id)
        .where(Profile.account_id == Account.id, Profile.state == ProfileState.ACTIVE.value)
        .exists()
    )
    should_lock = sa.not_(has_active)
    wrong = session.scalars(
        sa.select(Account).where(
            sa.or_(
                sa.and_(Account.locked.is_(False), should_lock),
                sa.and_(Account.locked.is_(True), has_active),
            )
        )
    ).all()
    locked = unlocked = 0
    for account in wrong:
        account.locked = not account.locked
        if account.locked:
            locked += 1
        else:
            unlocked += 1
        session.add(
            Audit(
                at=now,
                actor=ACTOR,
                actor_kind=ActorKind.SYSTEM.value,
                action="account.lock" if account.locked else "account.unlock",
                entity="account",
                entity_key=account.key,
                account_key=account.key,
                changes={"locked": [not account.locked, account.locked]},
            )
        )
        touched.add(account.id)
    return locked, unlocked
