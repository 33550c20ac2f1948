"""profilesync's two containers under the base DN, created when missing.

A hospital points profilesync at the directory it already runs (DESIGN "The directory
tree"): under a bare suffix `ou=people` and `ou=establishments` do not exist yet.
Like the establishments' skeletons, they are created idempotently (an add that finds
the entry there is success); the base DN itself is the site's, and never created.
"""

from __future__ import annotations

from ldap3 import BASE, Connection

from profilesync.directory.conn import DirectoryUnavailable
from profilesync.directory.tree import Tree


class ContainerMissing(DirectoryUnavailable):
    """The base DN is missing, or a container cannot be created: nothing can be pushed."""


def ensure(conn: Connection, tree: Tree) -> list[str]:
    """Create whichever of the two containers is missing; the DNs created.

    `conn` is a synchronous connection bound as profilesync.
    """
    if not _exists(conn, tree.base_dn):
        raise ContainerMissing(f"the base DN {tree.base_dn} does not exist in the directory")
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
