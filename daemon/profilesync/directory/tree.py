"""The directory tree as a projection of the database: DNs, and the desired entries.

Everything here is computed from the database only; `push` compares it with what
the server holds and sends the difference. Every DN component goes through
`escape_rdn` (RFC 4514) and every filter value through `escape_filter_chars` (RFC 4515).

Groups (`groupOfNames`) must have at least one `member`: each group keeps a placeholder
member, the base DN, from its creation on. Adding and removing real members is then a
plain modify of `member` values that never empties a group, so concurrent pushes never
have to create or delete a group, and an empty team or role still exists in the tree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from sqlalchemy import select
from sqlalchemy.orm import Session

from profilesync.config import LdapSettings
from profilesync.fileformat.roles import Role
from profilesync.store.model import Account, Establishment, Profile, ProfileState, Team

# The person attributes profilesync keeps equal to the database; anything else on the
# entry is left alone. userPassword is not one of them: profilesync writes it only when it
# sets a password (`Password.pending`), and the directory owns it after that (SPEC §4).
PERSON_ATTRIBUTES = ("uid", "cn", "sn", "givenName", "mail", "employeeNumber")
_CHUNK = 500  # bound on IN (...) lists: SQLite allows 32766 parameters, keep it modest


@dataclass(frozen=True)
class Tree:
    """Where everything lives under the base DN (OU names configurable)."""

    base_dn: str
    people_ou: str = "people"
    establishments_ou: str = "establishments"
    teams_ou: str = "teams"
    roles_ou: str = "roles"
    person_classes: tuple[str, ...] = ("inetOrgPerson",)

    @classmethod
    def from_settings(cls, s: LdapSettings) -> Tree:
        return cls(
            s.base_dn,
            s.people_ou,
            s.establishments_ou,
            s.teams_ou,
            s.roles_ou,
            tuple(s.person_object_classes),
        )

    @property
    def people_dn(self) -> str:
        return f"ou={escape_rdn(self.people_ou)},{self.base_dn}"

    @property
    def establishments_dn(self) -> str:
        return f"ou={escape_rdn(self.establishments_ou)},{self.base_dn}"

    @property
    def placeholder(self) -> str:
        """The member every group keeps so that it is never empty (see module doc)."""
        return self.base_dn

    def person(self, key: str) -> str:
        return f"uid={escape_rdn(key)},{self.people_dn}"

    def establishment(self, et: str) -> str:
        return f"ou={escape_rdn(et)},{self.establishments_dn}"

    def teams(self, et: str) -> str:
        return f"ou={escape_rdn(self.teams_ou)},{self.establishment(et)}"

    def roles(self, et: str) -> str:
        return f"ou={escape_rdn(self.roles_ou)},{self.establishment(et)}"

    def team(self, et: str, name: str) -> str:
        return f"cn={escape_rdn(name)},{self.teams(et)}"

    def role(self, et: str, role: str) -> str:
        return f"cn={escape_rdn(role)},{self.roles(et)}"

    def member_filter(self, dn: str) -> str:
        """Groups that list `dn` as a member (the DN is a filter value: escaped)."""
        return f"(member={escape_filter_chars(dn)})"

    def people_filter(self, keys: Iterable[str]) -> str:
        terms = "".join(f"(uid={escape_filter_chars(k)})" for k in keys)
        return f"(|{terms})"


@dataclass(frozen=True)
class Entry:
    """One entry as profilesync wants it: object classes and managed attribute values."""

    dn: str
    classes: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Password:
    """The account's stored hash, and whether profilesync still has to write it."""

    hash: str
    set_at: datetime
    pending: bool  # set here (creation, reset, operator) and not yet written
    directory_at: datetime | None  # the directory's own date, as last read


@dataclass(frozen=True)
class Person:
    """The desired state of one account: its entry, lock and group memberships."""

    key: str
    entry: Entry
    locked: bool
    groups: frozenset[str]  # DNs, as built by Tree
    establishments: frozenset[str]  # the ETs whose groups it is in
    password: Password | None = None


@dataclass(frozen=True)
class Skeleton:
    """The entries an establishment needs before members can be added: parents first."""

    et: str
    levels: tuple[tuple[Entry, ...], ...]


def people(session: Session, tree: Tree, keys: Collection[str]) -> dict[str, Person]:
    """The desired state of these accounts; a key absent from the result has no account."""
    out: dict[str, Person] = {}
    for chunk in _chunks(sorted(keys)):
        accounts = session.scalars(select(Account).where(Account.key.in_(chunk))).all()
        out.update(_people(session, tree, accounts))
    return out


def all_people(session: Session, tree: Tree, batch: int = _CHUNK) -> Iterator[Person]:
    """Every account's desired state, streamed in key order (for reconcile)."""
    last = ""
    first = True
    while True:
        query = select(Account).order_by(Account.key).limit(batch)
        if not first:
            query = query.where(Account.key > last)
        accounts = session.scalars(query).all()
        if not accounts:
            return
        first = False
        last = accounts[-1].key
        yield from _people(session, tree, accounts).values()
        session.expunge_all()


def _people(session: Session, tree: Tree, accounts: Iterable[Account]) -> dict[str, Person]:
    by_id = {a.id: a for a in accounts}
    if not by_id:
        return {}
    rows = session.execute(
        select(Profile.account_id, Profile.role, Profile.state, Establishment.et, Team.name)
        .join(Establishment, Establishment.id == Profile.establishment_id)
        .outerjoin(Team, Team.id == Profile.team_id)
        .where(Profile.account_id.in_(list(by_id)))
    ).all()
    groups: dict[int, set[str]] = defaultdict(set)
    ets: dict[int, set[str]] = defaultdict(set)
    active: set[int] = set()
    for account_id, role, state, et, team in rows:
        if state == ProfileState.DELETED:
            continue
        if team is not None:
            groups[account_id].add(tree.team(et, team))
            ets[account_id].add(et)
        if state == ProfileState.ACTIVE:
            active.add(account_id)
            groups[account_id].add(tree.role(et, role))
            ets[account_id].add(et)
    out = {}
    for account in by_id.values():
        out[account.key] = Person(
            key=account.key,
            entry=person_entry(tree, account),
            locked=account.id not in active,
            groups=frozenset(groups[account.id]),
            establishments=frozenset(ets[account.id]),
            password=Password(
                account.password_hash,
                account.password_set_at,
                account.password_pending,
                account.directory_password_at,
            )
            if account.password_hash
            else None,
        )
    return out


def person_entry(tree: Tree, account: Account) -> Entry:
    """The inetOrgPerson entry of an account, without its password (see `Password`)."""
    attrs: dict[str, tuple[str, ...]] = {
        "uid": (account.key,),
        "cn": (f"{account.prenom} {account.nom}".strip() or account.key,),
        "sn": (account.nom or account.key,),
        "givenName": (account.prenom,) if account.prenom else (),
        "mail": (account.email,) if account.email else (),
        "employeeNumber": (account.rpps,) if account.doctor and account.rpps else (),
    }
    return Entry(tree.person(account.key), tree.person_classes, attrs)


def skeletons(session: Session, tree: Tree, ets: Collection[str]) -> dict[str, Skeleton]:
    """What each known establishment needs in the tree; unknown ETs are left out."""
    out: dict[str, Skeleton] = {}
    for chunk in _chunks(sorted(ets)):
        found = session.execute(
            select(Establishment.id, Establishment.et).where(Establishment.et.in_(chunk))
        ).all()
        ids = {est_id: et for est_id, et in found}
        teams: dict[str, list[str]] = defaultdict(list)
        if ids:
            for est_id, name in session.execute(
                select(Team.establishment_id, Team.name).where(Team.establishment_id.in_(list(ids)))
            ):
                teams[ids[est_id]].append(name)
        for et in ids.values():
            out[et] = skeleton(tree, et, sorted(teams[et]))
    return out


def all_establishments(session: Session) -> list[str]:
    return list(session.scalars(select(Establishment.et).order_by(Establishment.et)))


def skeleton(tree: Tree, et: str, teams: Iterable[str]) -> Skeleton:
    ou = ("organizationalUnit",)
    group = ("groupOfNames",)
    placeholder = (tree.placeholder,)
    return Skeleton(
        et,
        (
            (Entry(tree.establishment(et), ou, {"ou": (et,)}),),
            (
                Entry(tree.teams(et), ou, {"ou": (tree.teams_ou,)}),
                Entry(tree.roles(et), ou, {"ou": (tree.roles_ou,)}),
            ),
            tuple(
                [Entry(tree.team(et, t), group, {"cn": (t,), "member": placeholder}) for t in teams]
                + [
                    Entry(tree.role(et, r.value), group, {"cn": (r.value,), "member": placeholder})
                    for r in Role
                ]
            ),
        ),
    )


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


@lru_cache(maxsize=65536)  # group DNs recur for every member: a pure function, cached
def normalize_dn(dn: str) -> tuple[tuple[str, str], ...]:
    """A comparable form of a DN: servers re-escape DNs (`\\2C` for `\\,`), so compare this.

    Attribute types are case-insensitive, and so are the values of the types used here
    (uid, cn, ou, dc: caseIgnoreMatch). Multi-valued RDNs are not used by profilesync.
    """
    rdns: list[tuple[str, str]] = []
    attr: list[str] = []
    value = bytearray()
    in_value = False
    i = 0
    raw = dn.encode("utf-8")
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw):  # backslash
            pair = raw[i + 1 : i + 3]
            if len(pair) == 2 and all(chr(b) in "0123456789abcdefABCDEF" for b in pair):
                value.append(int(pair, 16))
                i += 3
                continue
            value.append(raw[i + 1])
            i += 2
            continue
        if not in_value and c == 0x3D:  # '='
            in_value = True
        elif c in (0x2C, 0x3B):  # ',' or ';' ends an RDN
            rdns.append(_rdn(attr, value))
            attr, value, in_value = [], bytearray(), False
        elif in_value:
            value.append(c)
        else:
            attr.append(chr(c))
        i += 1
    if attr or value:
        rdns.append(_rdn(attr, value))
    return tuple(rdns)


def _rdn(attr: list[str], value: bytearray) -> tuple[str, str]:
    return ("".join(attr).strip().lower(), value.decode("utf-8", "replace").casefold())
