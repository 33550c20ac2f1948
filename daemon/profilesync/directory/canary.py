"""The canary: proof, on the real server, that a stored hash never works as a password.

A server that does not verify a `userPassword` scheme takes the value for a clear
password (389-ds re-hashes it; operations.md §11), so the string in profilesync's
database would open the account. Before any password is written on a connection, and in
`check-config`, profilesync writes a probe entry under its own `ou=people` with a random
password hashed exactly as the importer hashes, then binds with that password (must
succeed) and with the stored string (must fail), and removes the probe. Only then may
passwords be pushed.

The probe's password is random, used once, and appears in no message.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ldap3 import Connection

from profilesync.config import LdapSettings, PasswordSettings
from profilesync.directory.conn import bind_code
from profilesync.directory.servers import ServerProfile
from profilesync.directory.tree import Tree
from profilesync.secret import Secret
from profilesync.store.passwords import hash_password, scheme_of

PROBE_PREFIX = "profilesync-canary-"


@dataclass(frozen=True)
class Verdict:
    """The canary's answer: `ok`, and one line saying what was proved or what to fix."""

    ok: bool
    detail: str


def probe(
    conn: Connection, ldap: LdapSettings, server: ServerProfile, passwords: PasswordSettings
) -> Verdict:
    """Run the canary through `conn` (synchronous, bound as profilesync); the probe is
    always removed.

    `passwords` must carry the concrete scheme the importer hashes with
    (`config.hashing`). Raises `DirectoryUnavailable` when the server cannot be used at all.
    """
    tree = Tree.from_settings(ldap)
    # Letters, digits and a symbol: a site's syntax check never refuses the probe.
    plain = Secret("Cn-" + secrets.token_urlsafe(18) + "-9z")
    stored = hash_password(plain, passwords)
    scheme = scheme_of(stored) or "(no scheme)"
    if not server.verifies(stored):
        return Verdict(
            False, _missing(server, f"does not verify {scheme}, the scheme profilesync hashes with")
        )
    key = PROBE_PREFIX + secrets.token_hex(6)
    dn = tree.person(key)
    attrs = {"uid": key, "cn": "profilesync canary", "sn": "canary", "userPassword": stored}
    if not conn.add(dn, list(tree.person_classes), attrs):
        result = conn.result or {}
        # 19 on 389: a pre-hashed value from a writer that is not Directory Manager or
        # the passwordAdminDN (operations.md §11).
        fix = (
            "to be Directory Manager or the passwordAdminDN"
            if result.get("result") == 19
            else "write access there"
        )
        return Verdict(
            False,
            f"cannot write a probe entry under {tree.people_dn}: "
            f"{result.get('description', 'refused')} ({result.get('result', '?')}) "
            f"{result.get('message', '')}".rstrip()
            + f"; fix: the bind DN needs {fix}",
        )
    try:
        with_password = bind_code(ldap, dn, plain.reveal())
        with_stored = bind_code(ldap, dn, stored)
    finally:
        conn.delete(dn)
    if with_stored == 0:
        return Verdict(
            False,
            _missing(server, f"takes {scheme} for a clear password: the stored hash binds"),
        )
    if with_password != 0:
        return Verdict(
            False,
            _missing(server, f"does not verify {scheme} (the password's bind: {with_password})"),
        )
    return Verdict(
        True,
        f"{server.name} verifies {scheme}: the password binds, the stored hash does not",
    )


def _missing(server: ServerProfile, what: str) -> str:
    return f"{server.name} {what}; fix: {server.scheme_advice}"
