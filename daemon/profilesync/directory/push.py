"""Make the directory look like the database for a set of accounts and establishments.

Idempotent by construction: read what the server holds, compute the difference with
the desired state (`directory`), send only that difference. The sync worker and
`reconcile --repair` both go through `push`.

Phases, each pipelined, with a drain between them where order matters:
1. read the accounts' entries (one OR-filter search per chunk) and check the
   establishments' skeletons (one subtree search each);
2. add missing skeleton entries, parents first; look up the groups that list each
   *existing* entry (a new entry has none: its stale memberships, if a hand-deleted
   entry left some, are drift that `reconcile` reports and repairs);
3. entry adds/modifies/deletes, and one modify per group carrying all member values to
   add and delete for the whole batch (never a rewrite of a big group); on a server
   without Permissive Modify (389), one modify per value, where 20 on an add and 16 on a
   delete mean "already done".

`userPassword` is sent only when profilesync set the password (the entry's creation, or
`Password.pending`), only in a scheme the server verifies (`ServerProfile.verifies`: a
value it does not verify would become a clear password that the stored string opens),
and not when the server's own record says the person changed the password since the
reset was decided (SPEC §4: the directory owns a password once set). What was written
is then marked done in the database with a compare-and-set on `password_set_at`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import update
from sqlalchemy.orm import Session

from profilesync.directory import tree as directory
from profilesync.directory.conn import Callback, Pipeline, Result, values
from profilesync.directory.servers import OPENLDAP_PROFILE, ServerProfile
from profilesync.directory.tree import Entry, Person, Tree
from profilesync.errors import ProfilesyncError
from profilesync.store.model import Account, ActorKind, Audit
from profilesync.store.passwords import scheme_of

log = logging.getLogger(__name__)

READ_CHUNK = 200
PASSWORD = "userPassword"  # noqa: S105 - an attribute name


def read_attributes(server: ServerProfile) -> list[str]:
    """What `push` and `reconcile` read of a person entry on this server."""
    return [
        *directory.PERSON_ATTRIBUTES,
        "objectClass",
        server.lock_attribute,
        server.age_attribute,
    ]


@dataclass(frozen=True)
class Target:
    """The server pushed to: its profile, and why passwords may not be written, if so."""

    server: ServerProfile = OPENLDAP_PROFILE
    # Set when the canary failed on this connection: no userPassword is sent (the
    # changes that need one are retried later), everything else goes through.
    password_refusal: str | None = None
    # [passwords] max_age_days: turns 389's passwordExpirationTime into a change date.
    max_age_days: int = 0


Key = tuple[str, str]  # (kind, key) as in DirectoryChange
ACCOUNT = "account"
ESTABLISHMENT = "establishment"


# On an add, noSuchObject means "no such parent": permanent, unlike on a modify (the
# entry went away meanwhile, and the next push adds it).
NO_SUCH_OBJECT = 32


@dataclass
class Failure:
    """Why one change did not go through; `retry` False means the change is parked."""

    error: str
    retry: bool


@dataclass
class PushReport:
    failures: dict[Key, Failure] = field(default_factory=dict)
    # Passwords written, by account key: the password_set_at that was pushed.
    passwords_written: dict[str, datetime] = field(default_factory=dict)
    # Entries created without their password (refused): it stays to be written.
    passwords_withheld: set[str] = field(default_factory=set)
    # Pending resets not written: the person changed the password in the directory since.
    passwords_superseded: dict[str, datetime] = field(default_factory=dict)
    # The directory's own password date per account, as read.
    directory_dates: dict[str, datetime] = field(default_factory=dict)
    entries_added: int = 0
    entries_modified: int = 0
    entries_deleted: int = 0
    member_changes: int = 0

    def fail(self, key: Key, result: Result, *, adding: bool = False) -> None:
        # A permanent rejection wins over a retryable one for the same key.
        retry = result.retryable and not (adding and result.code == NO_SUCH_OBJECT)
        current = self.failures.get(key)
        if current is None or (current.retry and not retry):
            self.failures[key] = Failure(result.error(), retry)


@dataclass(frozen=True)
class Current:
    """What the server holds for one person entry (only the attributes profilesync owns)."""

    dn: str
    classes: frozenset[str]
    attributes: dict[str, tuple[str, ...]]
    lock: tuple[str, ...]
    password_age: tuple[str, ...] = ()

    @classmethod
    def of(cls, entry: dict[str, Any], server: ServerProfile = OPENLDAP_PROFILE) -> Current:
        """An entry searched with `read_attributes`, as `push` and `reconcile` compare it.

        objectClasses are case-folded: the server keeps the case each writer used.
        """
        return cls(
            dn=entry["dn"],
            classes=frozenset(c.casefold() for c in values(entry, "objectClass")),
            attributes={a: values(entry, a) for a in directory.PERSON_ATTRIBUTES},
            lock=values(entry, server.lock_attribute),
            password_age=values(entry, server.age_attribute),
        )


def push(
    pipe: Pipeline,
    session: Session,
    tree: Tree,
    accounts: Collection[str],
    establishments: Collection[str],
    *,
    ensured: set[str] | None = None,
    thorough: bool = False,
    target: Target | None = None,
) -> PushReport:
    """Push these keys; `ensured` carries the ETs already checked during this run.

    `thorough` also looks up the memberships of entries that do not exist (reconcile:
    a hand-deleted entry may have left its DN in groups). The password bookkeeping is
    written to `session`, in the caller's transaction.
    """
    target = target or Target()
    report = PushReport()
    ensured = set() if ensured is None else ensured
    desired = directory.people(session, tree, accounts)
    needed: set[str] = set()
    for wanted in desired.values():
        needed |= wanted.establishments - ensured
    # An establishment change is always checked again: it may bring a new team.
    skeletons = directory.skeletons(session, tree, needed | set(establishments))

    current: dict[str, Current] = {}
    present: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    _read_people(pipe, tree, list(accounts), current, target.server)
    for et in skeletons:
        _read_skeleton(pipe, tree, et, present)
    pipe.drain()

    broken = _ensure_skeletons(pipe, skeletons, present, report)
    ensured.update(et for et in skeletons if et not in broken)
    memberships: dict[str, set[str]] = {}
    for key in accounts:
        if key in current or thorough:
            dn = current[key].dn if key in current else tree.person(key)
            _read_memberships(pipe, tree, key, dn, memberships)
    pipe.drain()

    groups: dict[tuple[tuple[str, str], ...], _GroupChange] = {}
    for key in accounts:
        person = desired.get(key)
        if person is not None and person.establishments & broken.keys():
            et = next(iter(person.establishments & broken.keys()))
            report.failures[(ACCOUNT, key)] = broken[et]
            continue
        _push_person(
            pipe,
            tree,
            key,
            person=person,
            cur=current.get(key),
            memberships=memberships,
            groups=groups,
            report=report,
            target=target,
        )
    for change in groups.values():
        _send_group(pipe, change, report, target.server)
    pipe.drain()
    for et, failure in broken.items():
        if et in establishments:
            report.failures[(ESTABLISHMENT, et)] = failure
    _record_passwords(session, report, target)
    return report


def _record_passwords(session: Session, report: PushReport, target: Target) -> None:
    """Mark written passwords done, log superseded resets, keep the directory's dates.

    The compare-and-set on `password_set_at` keeps a reset decided while this push ran
    pending: it is written by the next push.
    """
    now = datetime.now(UTC)
    for key, set_at in {**report.passwords_written, **report.passwords_superseded}.items():
        if (ACCOUNT, key) in report.failures:
            continue
        session.execute(
            update(Account)
            .where(Account.key == key, Account.password_set_at == set_at)
            .values(password_pending=False)
        )
    for key in report.passwords_superseded:
        if (ACCOUNT, key) in report.failures:
            continue
        log.warning(
            "account %r: password reset not written, the person changed it in the "
            "directory since (%s)",
            key,
            target.server.name,
        )
        session.add(
            Audit(
                at=now,
                actor="directory-sync",
                actor_kind=ActorKind.SYSTEM.value,
                action="account.password_superseded",
                entity="account",
                entity_key=key,
                account_key=key,
                changes={"password": "kept the directory's"},
            )
        )
    for key in report.passwords_withheld:
        session.execute(update(Account).where(Account.key == key).values(password_pending=True))
    if report.directory_dates:
        # Every account pushed has a date: one executemany, not a statement per account.
        table = cast(sa.Table, Account.__table__)
        session.execute(
            table.update()
            .where(
                table.c.key == sa.bindparam("k"),
                table.c.directory_password_at.is_distinct_from(sa.bindparam("w")),
            )
            .values(directory_password_at=sa.bindparam("w")),
            [{"k": key, "w": when} for key, when in report.directory_dates.items()],
        )


@dataclass
class _GroupChange:
    dn: str
    add: set[str] = field(default_factory=set)
    delete: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)


def _read_people(
    pipe: Pipeline, tree: Tree, keys: list[str], out: dict[str, Current], server: ServerProfile
) -> None:
    wanted = {directory.normalize_dn(tree.person(k)): k for k in keys}
    attributes = read_attributes(server)

    def done(result: Result) -> None:
        if not result.ok and result.code != 32:
            raise ReadFailed(result)
        for entry in result.entries:
            key = wanted.get(directory.normalize_dn(entry["dn"]))
            if key is not None:
                out[key] = Current.of(entry, server)

    for i in range(0, len(keys), READ_CHUNK):
        chunk = keys[i : i + READ_CHUNK]
        pipe.search(tree.people_dn, tree.people_filter(chunk), "one", attributes, done)


class ReadFailed(ProfilesyncError):
    """A search failed for a reason other than an absent entry: retry the whole batch."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.error())
        self.result = result


def _read_skeleton(
    pipe: Pipeline, tree: Tree, et: str, out: dict[str, set[tuple[tuple[str, str], ...]]]
) -> None:
    found: set[tuple[tuple[str, str], ...]] = set()
    out[et] = found

    def done(result: Result) -> None:
        if not result.ok and result.code != 32:
            raise ReadFailed(result)
        found.update(directory.normalize_dn(e["dn"]) for e in result.entries)

    pipe.search(tree.establishment(et), "(objectClass=*)", "sub", ["1.1"], done)


def _ensure_skeletons(
    pipe: Pipeline,
    skeletons: dict[str, directory.Skeleton],
    present: dict[str, set[tuple[tuple[str, str], ...]]],
    report: PushReport,
) -> dict[str, Failure]:
    """Add what each establishment lacks, level by level; the ETs that failed, and why."""
    broken: dict[str, Failure] = {}
    depth = max((len(s.levels) for s in skeletons.values()), default=0)
    for level in range(depth):
        for et, skel in skeletons.items():
            if et in broken:
                continue
            for entry in skel.levels[level]:
                if directory.normalize_dn(entry.dn) in present[et]:
                    continue
                pipe.add(entry.dn, list(entry.classes), _attrs(entry), _on_skeleton(et, broken))
                report.entries_added += 1
        pipe.drain()
    return broken


def _on_skeleton(et: str, broken: dict[str, Failure]) -> Any:
    def done(result: Result) -> None:
        if not result.ok and result.code != 68:  # already there: someone else added it
            # No such parent: the tree above is not there, and retrying will not make it.
            retry = result.retryable and result.code != NO_SUCH_OBJECT
            broken.setdefault(et, Failure(result.error(), retry))

    return done


def _read_memberships(
    pipe: Pipeline, tree: Tree, key: str, dn: str, out: dict[str, set[str]]
) -> None:
    groups: set[str] = set()
    out[key] = groups

    def done(result: Result) -> None:
        if not result.ok and result.code != 32:
            raise ReadFailed(result)
        groups.update(e["dn"] for e in result.entries)

    pipe.search(tree.establishments_dn, tree.member_filter(dn), "sub", ["1.1"], done)


def _attrs(entry: Entry) -> dict[str, list[str]]:
    return {a: list(v) for a, v in entry.attributes.items() if v}


def _push_person(
    pipe: Pipeline,
    tree: Tree,
    key: str,
    *,
    person: Person | None,
    cur: Current | None,
    memberships: dict[str, set[str]],
    groups: dict[tuple[tuple[str, str], ...], _GroupChange],
    report: PushReport,
    target: Target,
) -> None:
    dn = tree.person(key)
    have = {directory.normalize_dn(g): g for g in memberships.get(key, ())}
    want = {directory.normalize_dn(g): g for g in (person.groups if person else ())}
    for norm, group_dn in want.items():
        if norm not in have:
            groups.setdefault(norm, _GroupChange(group_dn)).add.add(dn)
            groups[norm].keys.add(key)
    for norm, group_dn in have.items():
        if norm not in want:
            groups.setdefault(norm, _GroupChange(group_dn)).delete.add(dn)
            groups[norm].keys.add(key)

    done = _on_person(report, key)
    if person is None:
        if cur is not None:
            pipe.delete(cur.dn, done)
            report.entries_deleted += 1
    elif cur is None:
        pipe.add(
            dn,
            list(person.entry.classes),
            _new_entry(person, report, target),
            _on_person(report, key, adding=True),
        )
        report.entries_added += 1
    else:
        changes = diff(person, cur, target.server)
        changes.update(_password_change(person, cur, report, target))
        if changes:
            pipe.modify(cur.dn, changes, done)
            report.entries_modified += 1


def _on_person(report: PushReport, key: str, *, adding: bool = False) -> Callback:
    def done(result: Result) -> None:
        if not result.ok:
            report.fail((ACCOUNT, key), result, adding=adding)

    return done


def _new_entry(person: Person, report: PushReport, target: Target) -> dict[str, list[str]]:
    """The attributes of a new entry: its lock, and its password when it may be sent.

    Refused, the entry is created without a password (nobody can bind to it), and the key
    stays queued or parked until the password can be written.
    """
    attrs = _attrs(person.entry)
    if person.locked:
        attrs[target.server.lock_attribute] = [target.server.lock_value]
    if person.password is not None:
        refusal = _password_refusal(person.password.hash, target)
        if refusal is not None:
            report.failures[(ACCOUNT, person.key)] = refusal
            report.passwords_withheld.add(person.key)
        else:
            attrs[PASSWORD] = [person.password.hash]
            report.passwords_written[person.key] = person.password.set_at
    return attrs


def _password_change(
    person: Person, cur: Current, report: PushReport, target: Target
) -> dict[str, list[Any]]:
    """The userPassword replace a pending password needs on an existing entry, if any.

    Not when the directory's record says the person changed it since the reset was
    decided; refused, the rest of the modify (a lock above all) still goes.
    """
    changed_at = target.server.password_changed_at(cur.password_age, target.max_age_days)
    if changed_at is not None:
        report.directory_dates[person.key] = changed_at
    password = person.password
    if password is None or not password.pending:
        return {}
    if changed_at is not None and changed_at > password.set_at:
        report.passwords_superseded[person.key] = password.set_at
        return {}
    refusal = _password_refusal(password.hash, target)
    if refusal is not None:
        report.failures[(ACCOUNT, person.key)] = refusal
        return {}
    report.passwords_written[person.key] = password.set_at
    return {PASSWORD: [("MODIFY_REPLACE", [password.hash])]}


def _password_refusal(stored: str, target: Target) -> Failure | None:
    """Why this value may not be sent now (None: send it)."""
    server = target.server
    if not server.verifies(stored):
        scheme = scheme_of(stored) or "no scheme"
        return Failure(
            f"the account needs a new password: its stored hash is {scheme}, which "
            f"{server.name} does not verify (it would bind as a clear password); "
            f"{server.scheme_advice}",
            retry=False,
        )
    if target.password_refusal is not None:
        return Failure(f"passwords not written: {target.password_refusal}", retry=True)
    return None


def diff(
    person: Person, cur: Current, server: ServerProfile = OPENLDAP_PROFILE
) -> dict[str, list[Any]]:
    """The modify that turns `cur` into `person` (empty when they already agree).

    Never `userPassword`: the directory owns the password once set (SPEC §4).
    """
    changes: dict[str, list[Any]] = {}
    missing = [c for c in person.entry.classes if c.casefold() not in cur.classes]
    if missing:
        changes["objectClass"] = [("MODIFY_ADD", missing)]
    for attr, want in person.entry.attributes.items():
        have = cur.attributes.get(attr, ())
        if sorted(want) == sorted(have):
            continue
        changes[attr] = [("MODIFY_REPLACE", list(want))] if want else [("MODIFY_DELETE", [])]
    ours = server.is_locked(cur.lock)
    if person.locked and not ours:
        changes[server.lock_attribute] = server.lock_change()
    elif not person.locked and ours:
        # Only our permanent lock is lifted: a lockout the server wrote after failed binds
        # stays.
        changes[server.lock_attribute] = server.unlock_change(cur.lock)
    return changes


def _send_group(
    pipe: Pipeline, change: _GroupChange, report: PushReport, server: ServerProfile
) -> None:
    if not server.permissive_modify:
        _send_group_values(pipe, change, report)
        return
    ops: list[Any] = []
    if change.add:
        ops.append(("MODIFY_ADD", sorted(change.add)))
    if change.delete:
        ops.append(("MODIFY_DELETE", sorted(change.delete)))
    report.member_changes += len(change.add) + len(change.delete)

    def done(result: Result) -> None:
        if not result.ok:
            for key in change.keys:
                report.fail((ACCOUNT, key), result)

    pipe.modify(change.dn, {"member": ops}, done)


def _send_group_values(pipe: Pipeline, change: _GroupChange, report: PushReport) -> None:
    """One modify per member value: without Permissive Modify, one value already there
    (20 on an add) or already gone (16 on a delete) must not fail the others."""
    for op, members, already in (
        ("MODIFY_ADD", change.add, 20),
        ("MODIFY_DELETE", change.delete, 16),
    ):
        for member in sorted(members):
            report.member_changes += 1

            def done(result: Result, already: int = already) -> None:
                if not result.ok and result.code != already:
                    for key in change.keys:
                        report.fail((ACCOUNT, key), result)

            pipe.modify(change.dn, {"member": [(op, [member])]}, done)
