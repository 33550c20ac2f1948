"""Undo a run (`profilesync undo RUN`): the inverse of its audit rows, applied as a new run.

A run's audit rows say what each of its lines changed (`{"field": [old, new]}`). Undoing
walks them newest first and puts the old values back: a profile the run created is removed,
one it deleted comes back with its dates, modified dates, names and email are restored, an
account it created is removed once no profile uses it. Passwords are never restored (the
old hash is not kept anywhere): the report and the command say so.

Per profile, not all or nothing: a record changed again after the run (by a later run, the
validity job or an operator) is left as it is and its line says why; the rest is undone.
All-or-nothing was rejected: one person corrected by hand would block the repair of a whole
wrong file. The undo is itself a run (source `undo`, `rerun_of` = the undone run) with line
outcomes, a report in the référent's outbox, audit rows in the operator's name and queued
directory changes, all in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.clock import Clock, today
from profilesync.config import Settings
from profilesync.errors import ProfilesyncError
from profilesync.fileformat import messages
from profilesync.fileformat.outcome import Outcome, Problem, Summary
from profilesync.fileformat.report import ReportWriter
from profilesync.store.batchstate import state_for
from profilesync.store.importer import RunNotFound
from profilesync.store.model import (
    Account,
    ActorKind,
    Audit,
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
from profilesync.store.validity import ACTOR as VALIDITY_ACTOR

UNDO_SOURCE = "undo"
_DELETED = str(ProfileState.DELETED)
_ACTIVE = str(ProfileState.ACTIVE)
# Account audit rows that are consequences, not changes someone made: a lock follows the
# profiles, a password the person changed in the directory is theirs anyway.
_DERIVED = frozenset({"account.lock", "account.unlock", "account.password_superseded"})
_ACCOUNT_FIELDS = ("nom", "prenom", "email")


class UndoRefused(ProfilesyncError):
    """The run cannot be undone as a whole; the message says why and what to do instead."""


class UndoReportFailed(ProfilesyncError):
    """The undo's report could not be written, so nothing was undone."""


@dataclass(frozen=True)
class UndoResult:
    """What an undo did (or, dry, would do): one outcome per line of the undone file."""

    undone: int
    run_id: int | None  # the undo's own run; None for a dry run
    outcomes: tuple[Outcome, ...]
    passwords_kept: tuple[str, ...]  # accounts keeping a password the undone run set
    report_path: Path | None

    @property
    def summary(self) -> Summary:
        return _summary(self.outcomes)


@dataclass
class _Line:
    problems: list[Problem] = field(default_factory=list)


def undo_run(
    run_id: int,
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: Clock,
    actor: str,
    dry_run: bool = False,
) -> UndoResult:
    """Undo run `run_id` now, as `actor`; `dry_run` computes the same and rolls back."""
    now = clock.now()
    with session_factory() as session:
        run = session.get(ImportRun, run_id, with_for_update=True)
        if run is None:
            raise RunNotFound(f"no import run {run_id}")
        _check_undoable(session, run)
        rows = session.scalars(
            sa.select(Audit).where(Audit.run_id == run_id).order_by(Audit.id)
        ).all()
        if not rows:
            raise UndoRefused(f"run {run_id} changed nothing: there is nothing to undo")
        undo = _Undo(session, run_id, today(clock))
        undo.apply(rows)
        outcome_list = undo.outcomes()
        if dry_run:
            session.rollback()
            return UndoResult(run_id, None, outcome_list, undo.passwords_kept(), None)
        new = _record_run(session, settings, run, outcome_list, actor, now)
        undo.write(new.id, actor, now)
        path = Path(new.report_path or "")
        _write_report(path, outcome_list)  # in place before the commit, as import does
        try:
            session.commit()
        except BaseException:
            path.unlink(missing_ok=True)  # nothing was undone: no report may say otherwise
            raise
        return UndoResult(run_id, new.id, outcome_list, undo.passwords_kept(), path)


def _write_report(path: Path, outcome_list: Iterable[Outcome]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with ReportWriter(path) as writer:
            writer.write_all(outcome_list)
    except OSError as exc:
        raise UndoReportFailed(
            f"cannot write the undo's report {path} ({exc.strerror or exc}): nothing was "
            "undone; fix the outbox and run the undo again"
        ) from exc


def _check_undoable(session: Session, run: ImportRun) -> None:
    status = run.run_status
    if run.source == UNDO_SOURCE:
        raise UndoRefused(
            f"run {run.id} is itself the undo of run {run.rerun_of}: an undo cannot be undone "
            f"(a removed account cannot be rebuilt without its password); to redo run "
            f"{run.rerun_of}, rerun it (profilesync rerun {run.rerun_of}) or import its file again"
        )
    if status.unfinished:
        raise UndoRefused(
            f"run {run.id} is still being processed (status {status}): wait until it is done"
        )
    if status in {RunStatus.AWAITING_APPROVAL, RunStatus.REJECTED}:
        raise UndoRefused(f"run {run.id} is {status} and changed nothing: there is nothing to undo")
    earlier = session.scalar(
        sa.select(ImportRun.id).where(ImportRun.source == UNDO_SOURCE, ImportRun.rerun_of == run.id)
    )
    if earlier is not None:
        raise UndoRefused(f"run {run.id} was already undone by run {earlier}")


class _Undo:
    """The inverse of one run's audit rows, applied to the session's records."""

    def __init__(self, session: Session, run_id: int, day: date) -> None:
        self.session = session
        self.run_id = run_id
        self.today = day
        self.lines: dict[int, _Line] = defaultdict(_Line)
        self.audits: list[Audit] = []
        self.touched: dict[str, Account | None] = {}  # account key -> account (None: removed)
        self.created_accounts: dict[str, int] = {}  # key -> line that created it
        self.password_lines: dict[str, int] = {}
        self.blocked: dict[tuple[str, str], str] = {}
        self.accounts: dict[str, Account] = {}
        self.profiles: dict[str, Profile] = {}  # by audit entity_key
        self.of_account: dict[int, list[Profile]] = defaultdict(list)

    # -- deciding ---------------------------------------------------------------------------

    def apply(self, rows: Iterable[Audit]) -> None:
        rows = list(rows)
        self._load(rows)
        self._find_later_changes(rows)
        for row in reversed(rows):
            line = self.lines[row.line or 0]
            if row.entity == "profile":
                self._profile(row, line)
            elif row.entity == "account":
                self._account(row, line)
            elif row.action != "team.create":  # a team stays: teams are never deleted
                line.problems.append(Problem.erreur(messages.undo_unknown_change(row.action)))
        self.session.flush()
        for key, number in self.created_accounts.items():
            self._remove_account(key, number)
        for account in self.touched.values():
            if account is not None:
                self._relock(account)
        self.session.flush()

    def _load(self, rows: list[Audit]) -> None:
        """The run's accounts and all their profiles, in bulk and held until the commit
        (PostgreSQL `FOR UPDATE`; SQLite's BEGIN IMMEDIATE holds everything already). Later
        changes are looked for only then: one committed before the lock is seen by the
        next statement, one attempted after it waits for the undo."""
        keys = sorted({r.entity_key.split("/", 1)[0] for r in rows if r.entity != "team"})
        for part in _chunks(keys):
            found = self.session.scalars(
                sa.select(Account).where(Account.key.in_(part)).with_for_update()
            ).all()
            self.accounts.update((a.key, a) for a in found)
            by_id = {a.id: a.key for a in found}
            profiles = self.session.execute(
                sa.select(Profile, Establishment.et, Team.name)
                .join(Establishment, Profile.establishment_id == Establishment.id)
                .outerjoin(Team, Profile.team_id == Team.id)
                .where(Profile.account_id.in_(list(by_id)))
                .with_for_update(of=Profile)
            )
            for profile, et, team in profiles:
                key = f"{by_id[profile.account_id]}/{et}/{profile.role}/{team or ''}"
                self.profiles[key] = profile
                self.of_account[profile.account_id].append(profile)

    def _find_later_changes(self, rows: list[Audit]) -> None:
        """Records changed after their last change by this run: left alone, and why."""
        last: dict[tuple[str, str], int] = {}
        for row in rows:
            last[(row.entity, row.entity_key)] = row.id
        for entity in ("profile", "account"):
            keys = [k for (e, k) in last if e == entity]
            for part in _chunks(keys):
                later = self.session.execute(
                    sa.select(Audit.entity_key, Audit.id, Audit.actor, Audit.run_id, Audit.action)
                    .where(Audit.entity == entity, Audit.entity_key.in_(part))
                    .where(sa.or_(Audit.run_id.is_(None), Audit.run_id != self.run_id))
                    .order_by(Audit.id)
                )
                for key, row_id, actor, run_id, action in later:
                    if row_id < last[(entity, key)] or action in _DERIVED:
                        continue
                    self.blocked.setdefault((entity, key), _changed_by(actor, run_id))

    def _profile(self, row: Audit, line: _Line) -> None:
        since = self.blocked.get(("profile", row.entity_key))
        if since is not None:
            _once(line, Problem.erreur(messages.undo_refused(messages.UNDO_PROFILE, since)))
            return
        profile = self.profiles.get(row.entity_key)
        if profile is None:  # not in the database any more: nothing left to restore
            return
        changes: dict[str, Any] = row.changes or {}
        key = row.entity_key.split("/", 1)[0]
        self.touched[key] = self.accounts[key]
        if row.action == "profile.create":
            del self.profiles[row.entity_key]
            self.of_account[profile.account_id].remove(profile)
            self.session.delete(profile)
            self._audit(row, "profile.remove", _profile_snapshot(profile))
            _once(line, Problem.note(messages.UNDO_PROFILE_REMOVED))
            return
        before = _profile_snapshot(profile)
        if "debut" in changes:
            profile.debut = _date(changes["debut"][0])
        if "fin" in changes:
            profile.fin = _date(changes["fin"][0])
        old_state = changes.get("state", [None])[0]
        profile.state = (
            _DELETED if old_state == _DELETED else state_for(profile.debut, profile.fin, self.today)
        )
        after = _profile_snapshot(profile)
        self._audit(
            row,
            "profile.undo",
            {k: [before[k][0], after[k][0]] for k in before if before[k] != after[k]},
        )
        if row.action == "profile.delete":
            _once(line, Problem.note(messages.UNDO_PROFILE_RESTORED))
        else:
            _once(line, Problem.note(messages.UNDO_PROFILE_REVERTED))

    def _account(self, row: Audit, line: _Line) -> None:
        key = row.entity_key
        changes: dict[str, Any] = row.changes or {}
        if "password" in changes and row.action == "account.update":
            self.password_lines.setdefault(key, row.line or 0)
        if row.action == "account.create":
            self.created_accounts[key] = row.line or 0
            return
        since = self.blocked.get(("account", key))
        if since is not None:
            _once(line, Problem.erreur(messages.undo_refused(messages.UNDO_ACCOUNT, since)))
            return
        account = self.accounts.get(key)
        restored = {f: changes[f] for f in _ACCOUNT_FIELDS if f in changes}
        if account is None or not restored:
            return
        done: dict[str, Any] = {}
        for name, (old, _new) in restored.items():
            if getattr(account, name) != old:
                done[name] = [getattr(account, name), old]
                setattr(account, name, old)
        if done:
            self._audit(row, "account.undo", done)
            self.touched[key] = account
            _once(line, Problem.note(messages.UNDO_ACCOUNT_REVERTED))

    def _remove_account(self, key: str, number: int) -> None:
        line = self.lines[number]
        since = self.blocked.get(("account", key))
        if since is not None:
            _once(line, Problem.erreur(messages.undo_refused(messages.UNDO_ACCOUNT, since)))
            return
        account = self.accounts.get(key)
        if account is None:
            return
        if self.of_account[account.id]:
            _once(line, Problem.alerte(messages.UNDO_ACCOUNT_KEPT))
            return
        self.password_lines.pop(key, None)  # the password goes with the account
        snapshot = {f: [getattr(account, f), None] for f in _ACCOUNT_FIELDS}
        self.session.delete(account)
        self.touched[key] = None
        self._audit_key(number, key, "account.remove", snapshot)
        _once(line, Problem.note(messages.UNDO_ACCOUNT_REMOVED))

    def _relock(self, account: Account) -> None:
        account.locked = not any(p.state == _ACTIVE for p in self.of_account[account.id])

    # -- results ----------------------------------------------------------------------------

    def outcomes(self) -> tuple[Outcome, ...]:
        for key, number in self.password_lines.items():
            if self.touched.get(key, True) is not None:  # not removed
                _once(self.lines[number], Problem.alerte(messages.UNDO_MDP_KEPT))
        query = sa.select(LineOutcome.line, LineOutcome.cells).where(
            LineOutcome.run_id == self.run_id
        )
        cells = {number: list(found) for number, found in self.session.execute(query)}
        return tuple(
            Outcome.of(number, self.lines[number].problems, tuple(cells.get(number, ())))
            for number in sorted(self.lines)
        )

    def passwords_kept(self) -> tuple[str, ...]:
        return tuple(sorted(k for k in self.password_lines if self.touched.get(k, True)))

    def write(self, new_run: int, actor: str, now: datetime) -> None:
        """The undo's audit rows and directory changes, under its own run."""
        for row in self.audits:
            row.run_id, row.actor, row.at = new_run, actor, now
        self.session.add_all(self.audits)
        self.session.add_all(
            DirectoryChange(
                kind=str(ChangeKind.ACCOUNT),
                key=key,
                run_id=new_run,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                parked=False,
            )
            for key in sorted(self.touched)
        )

    def _audit(self, row: Audit, action: str, changes: dict[str, Any]) -> None:
        """The undo's row of one undone row: the same record, line and key columns."""
        self.audits.append(
            _audit_row(
                row.line,
                action,
                changes,
                entity=row.entity,
                entity_key=row.entity_key,
                account_key=row.account_key,
                et=row.et,
                role=row.role,
                team=row.team,
            )
        )

    def _audit_key(self, number: int, key: str, action: str, changes: dict[str, Any]) -> None:
        """An account's row (its removal), which no single undone row stands for."""
        self.audits.append(
            _audit_row(number, action, changes, entity="account", entity_key=key, account_key=key)
        )


def _audit_row(line: int | None, action: str, changes: dict[str, Any], **keys: Any) -> Audit:
    """`at`, `actor` and `run_id` are set by `write`, once the undo's run exists."""
    return Audit(
        actor_kind=str(ActorKind.OPERATOR), line=line, action=action, changes=changes, **keys
    )


def _record_run(  # noqa: PLR0917 - private, called once
    session: Session,
    settings: Settings,
    undone: ImportRun,
    outcome_list: tuple[Outcome, ...],
    actor: str,
    now: datetime,
) -> ImportRun:
    """The undo as a run of the référent whose file it undoes (their outbox, their runs)."""
    name = f"annulation-import-{undone.id}.csv"
    report = layout.report_folder(settings, undone.submitter) / layout.report_name(
        name, layout.stamp(now)
    )
    run = ImportRun.claimed(
        digest=("", 0),
        work_path=None,
        report_path=report,
        now=now,
        submitter=undone.submitter,
        file_name=name,
        source=UNDO_SOURCE,
        rerun_of=undone.id,
    )
    run.start(now)
    run.complete(_summary(outcome_list), now)
    run.reason = f"undo of run {undone.id} by {actor}"
    session.add(run)
    session.flush()
    session.add_all(
        LineOutcome(
            run_id=run.id,
            line=o.line,
            code=o.code.value,
            messages=" | ".join(o.messages),
            cells=list(o.cells),
        )
        for o in outcome_list
    )
    return run


def _changed_by(actor: str, run_id: int | None) -> str:
    if run_id is not None:
        return messages.undo_since_run(run_id)
    if actor == VALIDITY_ACTOR:
        return messages.UNDO_SINCE_VALIDITY
    return messages.UNDO_SINCE_OPERATOR  # an operator's command: the only other writer


def _summary(outcome_list: Iterable[Outcome]) -> Summary:
    counts = Summary()
    for o in outcome_list:
        counts = counts.add(o.code)
    return counts


def _profile_snapshot(profile: Profile) -> dict[str, list[Any]]:
    return {
        "debut": [_iso(profile.debut), None],
        "fin": [_iso(profile.fin), None],
        "state": [profile.state, None],
    }


def _once(line: _Line, problem: Problem) -> None:
    if problem not in line.problems:
        line.problems.append(problem)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


__all__ = ["UNDO_SOURCE", "UndoRefused", "UndoReportFailed", "UndoResult", "undo_run"]
