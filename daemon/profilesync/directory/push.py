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
   add and delete for the whole batch (never a rewrite of a big group).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from profilesync.directory import tree as directory
from profilesync.directory.conn import Pipeline, Result, values
from profilesync.directory.tree import LOCK_ATTRIBUTE, PERMANENT_LOCK, Entry, Person, Tree
from profilesync.errors import ProfilesyncError

READ_CHUNK = 200
READ_ATTRIBUTES = [*directory.PERSON_ATTRIBUTES, "objectClass", LOCK_ATTRIBUTE]

Key = tuple[str, str]  # (kind, key) as in DirectoryChange
ACCOUNT = "account"
ESTABLISHMENT = "establishment"


@dataclass
class Failure:
    """Why one change did not go through; `retry` False means the change is parked."""

    error: str
    retry: bool


@dataclass
class PushReport:
    failures: dict[Key, Failure] = field(default_factory=dict)
    entries_added: int = 0
    entries_modified: int = 0
    entries_deleted: int = 0
    member_changes: int = 0

    def fail(self, key: Key, result: Result) -> None:
        # A permanent rejection wins over a retryable one for the same key.
        current = self.failures.get(key)
        if current is None or (current.retry and not result.retryable):
            self.failures[key] = Failure(result.error(), result.retryable)


@dataclass(frozen=True)
class Current:
    """What the server holds for one person entry (only the attributes profilesync owns)."""

    dn: str
    classes: frozenset[str]
    attributes: dict[str, tuple[str, ...]]
    lock: tuple[str, ...]

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Current:
        """An entry searched with READ_ATTRIBUTES, as `push` and `reconcile` compare it.

        objectClasses are case-folded: the server keeps the case each writer used.
        """
        return cls(
            dn=entry["dn"],
            classes=frozenset(c.casefold() for c in values(entry, "objectClass")),
            attributes={a: values(entry, a) for a in directory.PERSON_ATTRIBUTES},
            lock=values(entry, LOCK_ATTRIBUTE),
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
) -> PushReport:
    """Push these keys; `ensured` carries the ETs already checked during this run.

    `thorough` also looks up the memberships of entries that do not exist (reconcile:
    a hand-deleted entry may have left its DN in groups).
    """
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
    _read_people(pipe, tree, list(accounts), current)
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
        )
    for change in groups.values():
        _send_group(pipe, change, report)
    pipe.drain()
    for et, failure in broken.items():
        if et in establishments:
            report.failures[(ESTABLISHMENT, et)] = failure
    return report


@dataclass
class _GroupChange:
    dn: str
    add: set[str] = field(default_factory=set)
    delete: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)


def _read_people(pipe: Pipeline, tree: Tree, keys: list[str], out: dict[str, Current]) -> None:
    wanted = {directory.normalize_dn(tree.person(k)): k for k in keys}

    def done(result: Result) -> None:
        if not result.ok and result.code != 32:
            raise ReadFailed(result)
        for entry in result.entries:
            key = wanted.get(directory.normalize_dn(entry["dn"]))
            if key is not None:
                out[key] = Current.of(entry)

    for i in range(0, len(keys), READ_CHUNK):
        chunk = keys[i : i + READ_CHUNK]
        pipe.search(tree.people_dn, tree.people_filter(chunk), "one", READ_ATTRIBUTES, done)


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
            broken.setdefault(et, Failure(result.error(), result.retryable))

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

    def done(result: Result) -> None:
        if not result.ok:
            report.fail((ACCOUNT, key), result)

    if person is None:
        if cur is not None:
            pipe.delete(cur.dn, done)
            report.entries_deleted += 1
        return
    if cur is None:
        attrs = _attrs(person.entry)
        if person.locked:
            attrs[LOCK_ATTRIBUTE] = [PERMANENT_LOCK]
        pipe.add(dn, list(person.entry.classes), attrs, done)
        report.entries_added += 1
        return
    changes = diff(person, cur)
    if changes:
        pipe.modify(cur.dn, changes, done)
        report.entries_modified += 1


def diff(person: Person, cur: Current) -> dict[str, list[Any]]:
    """The modify that turns `cur` into `person` (empty when they already agree)."""
    changes: dict[str, list[Any]] = {}
    missing = [c for c in person.entry.classes if c.casefold() not in cur.classes]
    if missing:
        changes["objectClass"] = [("MODIFY_ADD", missing)]
    for attr, want in person.entry.attributes.items():
        have = cur.attributes.get(attr, ())
        if sorted(want) == sorted(have):
            continue
        changes[attr] = [("MODIFY_REPLACE", list(want))] if want else [("MODIFY_DELETE", [])]
    if person.locked and cur.lock != (PERMANENT_LOCK,):
        changes[LOCK_ATTRIBUTE] = [("MODIFY_REPLACE", [PERMANENT_LOCK])]
    elif not person.locked and PERMANENT_LOCK in cur.lock:
        # Only our permanent lock is lifted: a lockout slapd wrote after failed binds stays.
        changes[LOCK_ATTRIBUTE] = [("MODIFY_DELETE", [])]
    return changes


def lock_drift(person: Person, cur: Current) -> bool:
    return LOCK_ATTRIBUTE in diff(person, cur)


def _send_group(pipe: Pipeline, change: _GroupChange, report: PushReport) -> None:
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
