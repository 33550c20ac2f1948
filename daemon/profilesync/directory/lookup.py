"""One person's directory entry as it is now, for `profilesync person show`.

The database says what the entry should be; the helpdesk also needs what the directory
holds at this moment (is the entry there, locked, in which groups), because that is what
the application authenticates against. Read only, never `userPassword`; a directory that
is not configured or not reachable is an answer, not an error: the rest of the view is
still worth printing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ldap3 import BASE, SUBTREE, Connection
from ldap3.core.exceptions import LDAPException

from profilesync.config import Settings
from profilesync.directory import tree as directory
from profilesync.directory.conn import DirectoryNotConfigured, DirectoryUnavailable, close, values
from profilesync.directory.push import read_attributes
from profilesync.directory.servers import ServerProfile, UnknownServer
from profilesync.directory.sync import open_target
from profilesync.directory.tree import Tree

NOT_CONFIGURED = "not-configured"
UNREACHABLE = "unreachable"
ABSENT = "absent"
PRESENT = "present"


@dataclass(frozen=True)
class DirectoryView:
    """What the directory holds for one account key, or why it could not be read."""

    status: str  # present | absent | not-configured | unreachable
    dn: str = ""
    error: str = ""
    server: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)
    locked: bool = False
    password_age: list[str] = field(default_factory=list)  # pwdChangedTime or 389's expiry
    groups: list[str] = field(default_factory=list)  # DNs of the groups listing the entry

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dn": self.dn,
            "error": self.error,
            "server": self.server,
            "attributes": self.attributes,
            "locked": self.locked,
            "password_age": self.password_age,
            "groups": self.groups,
        }


def read_person(settings: Settings, key: str) -> DirectoryView:
    """The entry `uid=<key>` under ou=people and the groups that list it, read now."""
    if not settings.ldap.url:
        return DirectoryView(NOT_CONFIGURED, error="[ldap] url is empty")
    tree = Tree.from_settings(settings.ldap)
    dn = tree.person(key)
    try:
        conn, target = open_target(settings, pipelined=False, writes=False)
    except (DirectoryUnavailable, DirectoryNotConfigured, UnknownServer) as exc:
        return DirectoryView(UNREACHABLE, dn=dn, error=str(exc))
    try:
        return _read(conn, tree, dn, target.server)
    except LDAPException as exc:
        return DirectoryView(UNREACHABLE, dn=dn, error=f"read failed: {type(exc).__name__}")
    finally:
        close(conn)


def _read(conn: Connection, tree: Tree, dn: str, server: ServerProfile) -> DirectoryView:
    attributes = read_attributes(server)
    conn.search(dn, "(objectClass=*)", BASE, attributes=attributes)
    entries = _entries(conn)
    if conn.result.get("result") == 32 or not entries:  # noSuchObject
        return DirectoryView(ABSENT, dn=dn, server=server.name)
    if conn.result.get("result") != 0:
        return DirectoryView(
            UNREACHABLE, dn=dn, server=server.name, error=str(conn.result.get("description"))
        )
    entry = entries[0]
    conn.search(tree.establishments_dn, tree.member_filter(entry["dn"]), SUBTREE, attributes=[])
    groups = sorted(e["dn"] for e in _entries(conn))
    return DirectoryView(
        PRESENT,
        dn=entry["dn"],
        server=server.name,
        attributes={a: list(values(entry, a)) for a in directory.PERSON_ATTRIBUTES},
        locked=server.is_locked(values(entry, server.lock_attribute)),
        password_age=list(values(entry, server.age_attribute)),
        groups=groups,
    )


def _entries(conn: Connection) -> list[dict[str, Any]]:
    return [e for e in conn.response or () if e.get("type") == "searchResEntry"]
