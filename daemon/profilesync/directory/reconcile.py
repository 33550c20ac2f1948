"""Compare the whole directory projection with the database, and repair the drift.

The database is the system of record; the directory subtrees `ou=people` and
`ou=establishments` belong to profilesync. Anything there that the database does not
explain is drift: a missing or extra entry, an attribute that differs, a wrong lock, a
wrong group membership. Never the password: the directory owns it once set (SPEC §4),
and servers that rehash (389) would show drift forever. A missing entry is re-created
with the stored hash only when the server verifies its scheme (`push`).

`repair` goes through the sync worker's own code path (`push.push`) for every account
and establishment concerned; only what has no key in the database (a foreign entry, a
member DN that is no account) is deleted directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ldap3 import LEVEL, SUBTREE, Connection
from sqlalchemy.orm import Session

from profilesync.config import LdapSettings, Settings
from profilesync.directory import tree as directory
from profilesync.directory.conn import Pipeline, Result, close, values
from profilesync.directory.push import Current, Target, diff, push, read_attributes
from profilesync.directory.sync import open_target
from profilesync.directory.tree import Person, Tree

NormDN = tuple[tuple[str, str], ...]
PAGE = 500
BATCH = 1000


@dataclass(frozen=True)
class Drift:
    """One difference between the directory and the database."""

    kind: str  # missing | extra | attribute | lock | member-missing | member-extra
    dn: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.kind:<15} {self.dn}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Plan:
    """What `repair` has to do: keys to push again, and what only a direct delete fixes."""

    accounts: set[str] = field(default_factory=set)
    establishments: set[str] = field(default_factory=set)
    delete_entries: list[str] = field(default_factory=list)
    delete_members: list[tuple[str, str]] = field(default_factory=list)  # (group, member)
    add_placeholder: list[str] = field(default_factory=list)  # groups that lost it


@dataclass
class Reconciliation:
    drift: list[Drift] = field(default_factory=list)
    people: int = 0  # entries compared
    groups: int = 0
    plan: Plan = field(default_factory=Plan)

    def summary(self) -> str:
        if not self.drift:
            return f"directory matches the database ({self.people} accounts, {self.groups} groups)"
        counts = Counter(d.kind for d in self.drift)
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        return f"{len(self.drift)} difference(s) between the directory and the database: {detail}"

    def as_json(self) -> dict[str, Any]:
        return {
            "drift": [asdict(d) for d in self.drift],
            "counts": dict(Counter(d.kind for d in self.drift)),
            "people": self.people,
            "groups": self.groups,
        }


def _ldap(settings: Settings | LdapSettings) -> LdapSettings:
    return settings.ldap if isinstance(settings, Settings) else settings


def compare(session: Session, settings: Settings | LdapSettings) -> Reconciliation:
    """Read both sides in full and list every difference (nothing is written)."""
    tree = Tree.from_settings(_ldap(settings))
    conn, target = open_target(settings, pipelined=False, writes=False)
    try:
        return _compare(session, tree, conn, target)
    finally:
        close(conn)


def repair(session: Session, settings: Settings | LdapSettings, found: Reconciliation) -> int:
    """Apply `found.plan`; returns how many keys failed (0: all repaired).

    The password bookkeeping `push` records is flushed into `session`: commit it.
    """
    ldap = _ldap(settings)
    tree = Tree.from_settings(ldap)
    plan = found.plan
    conn, target = open_target(settings)
    pipe = Pipeline(
        conn, ldap.pipeline_window, ldap.timeout_seconds, permissive=target.server.permissive_modify
    )
    failed: list[Result] = []
    try:
        for dn in sorted(plan.delete_entries, key=lambda d: -len(directory.normalize_dn(d))):
            pipe.delete(dn, lambda r: None if r.ok or r.code == 32 else failed.append(r))
            pipe.drain()  # children before parents
        for group, member in plan.delete_members:
            pipe.modify(group, {"member": [("MODIFY_DELETE", [member])]}, _collect(failed))
        for group in plan.add_placeholder:
            pipe.modify(group, {"member": [("MODIFY_ADD", [tree.placeholder])]}, _collect(failed))
        pipe.drain()
        accounts = sorted(plan.accounts)
        ensured: set[str] = set()
        report = push(
            pipe, session, tree, [], sorted(plan.establishments), ensured=ensured, target=target
        )
        failures = len(report.failures)
        for i in range(0, len(accounts), BATCH):
            report = push(
                pipe,
                session,
                tree,
                accounts[i : i + BATCH],
                [],
                ensured=ensured,
                thorough=True,
                target=target,
            )
            failures += len(report.failures)
    finally:
        close(conn)
    return failures + len(failed)


def _collect(failed: list[Result]) -> Any:
    def done(result: Result) -> None:
        if not result.ok:
            failed.append(result)

    return done


def _compare(session: Session, tree: Tree, conn: Connection, target: Target) -> Reconciliation:
    out = Reconciliation()
    people: dict[NormDN, Person] = {}
    wanted_members: dict[NormDN, dict[NormDN, str]] = {}
    for person in directory.all_people(session, tree):
        people[directory.normalize_dn(person.entry.dn)] = person
        for group in person.groups:
            member = (directory.normalize_dn(person.entry.dn), person.entry.dn)
            wanted_members.setdefault(directory.normalize_dn(group), {})[member[0]] = member[1]
    ets = directory.all_establishments(session)
    skeleton: dict[NormDN, tuple[str, str]] = {}
    for et, skel in directory.skeletons(session, tree, ets).items():
        for level in skel.levels:
            for entry in level:
                skeleton[directory.normalize_dn(entry.dn)] = (entry.dn, et)

    _compare_people(out, tree, conn, people, target)
    _compare_groups(
        out, tree, conn, people=people, skeleton=skeleton, wanted_members=wanted_members
    )
    return out


def _paged(conn: Connection, base: str, scope: str, attributes: list[str]) -> Iterator[Any]:
    yield from conn.extend.standard.paged_search(
        base,
        "(objectClass=*)",
        LEVEL if scope == "one" else SUBTREE,
        attributes=attributes,
        paged_size=PAGE,
        generator=True,
    )


def _compare_people(
    out: Reconciliation,
    tree: Tree,
    conn: Connection,
    people: dict[NormDN, Person],
    target: Target,
) -> None:
    seen: set[NormDN] = set()
    for entry in _paged(conn, tree.people_dn, "one", read_attributes(target.server)):
        if entry.get("type") != "searchResEntry":
            continue
        norm = directory.normalize_dn(entry["dn"])
        person = people.get(norm)
        out.people += 1
        if person is None:
            uid = values(entry, "uid")
            out.drift.append(Drift("extra", entry["dn"], "account not in the database"))
            if norm[0][0] == "uid" and uid and directory.normalize_dn(tree.person(uid[0])) == norm:
                out.plan.accounts.add(uid[0])
            else:
                out.plan.delete_entries.append(entry["dn"])
            continue
        seen.add(norm)
        _compare_person(out, person, Current.of(entry, target.server), target)
    for norm, person in people.items():
        if norm not in seen:
            out.drift.append(Drift("missing", person.entry.dn, "entry missing from the directory"))
            out.plan.accounts.add(person.key)


def _compare_person(out: Reconciliation, person: Person, cur: Current, target: Target) -> None:
    changes = diff(person, cur, target.server)
    if not changes:
        return
    out.plan.accounts.add(person.key)
    for attr in changes:
        if attr == target.server.lock_attribute:
            state = "should be locked" if person.locked else "should be unlocked"
            out.drift.append(Drift("lock", cur.dn, state))
        elif attr == "objectClass":
            out.drift.append(Drift("attribute", cur.dn, "objectClass incomplete"))
        else:
            have = "|".join(cur.attributes.get(attr, ())) or "(absent)"
            want = "|".join(person.entry.attributes.get(attr, ())) or "(absent)"
            out.drift.append(Drift("attribute", cur.dn, f"{attr} = {have!r}, database: {want!r}"))


def _compare_groups(
    out: Reconciliation,
    tree: Tree,
    conn: Connection,
    *,
    people: dict[NormDN, Person],
    skeleton: dict[NormDN, tuple[str, str]],
    wanted_members: dict[NormDN, dict[NormDN, str]],
) -> None:
    by_dn = {directory.normalize_dn(p.entry.dn): p.key for p in people.values()}
    seen: set[NormDN] = set()
    for entry in _paged(conn, tree.establishments_dn, "sub", ["member"]):
        if entry.get("type") != "searchResEntry":
            continue
        norm = directory.normalize_dn(entry["dn"])
        if norm == directory.normalize_dn(tree.establishments_dn):
            continue
        if norm not in skeleton:
            out.drift.append(Drift("extra", entry["dn"], "not in the database"))
            out.plan.delete_entries.append(entry["dn"])
            continue
        seen.add(norm)
        if _is_group(entry["dn"]):
            out.groups += 1
            _compare_members(out, tree, entry, wanted_members.get(norm, {}), by_dn)
    for norm, (dn, et) in skeleton.items():
        if norm not in seen:
            out.drift.append(Drift("missing", dn, "entry missing from the directory"))
            out.plan.establishments.add(et)


def _compare_members(
    out: Reconciliation,
    tree: Tree,
    entry: dict[str, Any],
    want: dict[NormDN, str],
    by_dn: dict[NormDN, str],
) -> None:
    placeholder = directory.normalize_dn(tree.placeholder)
    group = entry["dn"]
    have = {directory.normalize_dn(m): m for m in values(entry, "member")}
    if placeholder not in have:
        out.drift.append(Drift("member-missing", group, tree.placeholder))
        out.plan.add_placeholder.append(group)
    for m_norm, m_dn in want.items():
        if m_norm not in have:
            out.drift.append(Drift("member-missing", group, m_dn))
            out.plan.accounts.add(by_dn[m_norm])
    for m_norm, m_dn in have.items():
        if m_norm in want or m_norm == placeholder:
            continue
        out.drift.append(Drift("member-extra", group, m_dn))
        if m_norm in by_dn:
            out.plan.accounts.add(by_dn[m_norm])
        else:
            out.plan.delete_members.append((group, m_dn))


def _is_group(dn: str) -> bool:
    """Groups are the `cn=` entries of the skeleton (the others are `ou=`)."""
    return directory.normalize_dn(dn)[0][0] == "cn"
