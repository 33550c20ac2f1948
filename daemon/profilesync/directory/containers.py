"""profilesync's two containers under the base DN, created when missing.

A hospital points profilesync at the directory it already runs (DESIGN "The directory
tree"): under a bare suffix `ou=people` and `ou=establishments` do not exist yet.
Like the establishments' skeletons, they are created idempotently (an add that finds
the entry there is success); the base DN itself is the site's, and never created.
"""

from __future__ import annotations

import secrets

from ldap3 import BASE, Connection

from profilesync.directory.conn import DirectoryUnavailable
from profilesync.directory.tree import Tree


class ContainerMissing(DirectoryUnavailable):
    """The base DN is missing, or a container cannot be created: nothing can be pushed."""


def ensure(conn: Connection, tree: Tree) -> list[str]:
    """Create whichever of the two containers is missing; the DNs created.

    `conn` is a synchronous connection bound as profilesync.
    """
    require_base(conn, tree)
    created: list[str] = []
    for dn, name in (
        (tree.people_dn, tree.people_ou),
        (tree.establishments_dn, tree.establishments_ou),
    ):
        if _exists(conn, dn):
            continue
        if not conn.add(dn, ["organizationalUnit"], {"ou": name}):
            result = conn.result or {}
            if result.get("result") != 68:  # created meanwhile by another worker
                raise ContainerMissing(
                    f"cannot create {dn}: {result.get('description', 'refused')} "
                    f"({result.get('result', '?')}): the bind DN needs write access under "
                    f"{tree.base_dn}"
                )
        created.append(dn)
    return created


def require_base(conn: Connection, tree: Tree) -> None:
    """The base DN is the site's: profilesync never creates it, and cannot work without it."""
    if not _exists(conn, tree.base_dn):
        raise ContainerMissing(
            f"the base DN {tree.base_dn} does not exist in the directory: create it there, "
            "or correct [ldap] base_dn"
        )


def probe_write(conn: Connection, tree: Tree) -> None:
    """Add and remove a throw-away entry under each container: the ACL lets us write.

    What `check-config` asks before the daemon finds out push by push; the probe's name
    is random, so two checks at once do not collide.
    """
    for parent in (tree.people_dn, tree.establishments_dn):
        name = f"profilesync-write-check-{secrets.token_hex(4)}"
        dn = f"ou={name},{parent}"
        if not conn.add(dn, ["organizationalUnit"], {"ou": name}):
            result = conn.result or {}
            raise ContainerMissing(
                f"{_refusal(result)} under {parent}: grant the bind DN write access "
                "there (OpenLDAP: olcAccess / access to; 389-ds: an aci)"
            )
        if not conn.delete(dn):  # S lines delete entries: deleting is needed too
            result = conn.result or {}
            raise ContainerMissing(
                f"{_refusal(result)} when deleting {dn} (left behind): grant the bind DN "
                f"delete access under {parent}, then remove that entry"
            )


def _refusal(result: dict[str, object]) -> str:
    """The server's refusal, as a short text: its description, code and message."""
    text = f"{result.get('description', 'refused')} ({result.get('result', '?')})"
    message = str(result.get("message") or "").strip()
    return f"writing refused: {text}" + (f": {message}" if message else "")


def _exists(conn: Connection, dn: str) -> bool:
    conn.search(dn, "(objectClass=*)", BASE, attributes=["1.1"])
    result = conn.result or {}
    if result.get("result") == 0:
        return True
    if result.get("result") == 32:
        return False
    raise ContainerMissing(
        f"cannot read {dn}: {result.get('description', 'refused')} ({result.get('result', '?')})"
    )
