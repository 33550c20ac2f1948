"""The tree: escaping of DNs (RFC 4514) and filters (RFC 4515), end to end on a real slapd."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldap3 import Connection
from ldap3.utils.dn import escape_rdn
from sqlalchemy.orm import Session, sessionmaker

from fixtures_ldap import T0, World, bind_code, members, read_entry
from profilesync.clock import FixedClock
from profilesync.config import LdapSettings
from profilesync.directory import reconcile
from profilesync.directory.sync import sync_once
from profilesync.directory.tree import Tree, normalize_dn

ET = "750000001"
TREE = Tree("dc=example,dc=org")
NASTY = [
    "O'Brien, Jr.",
    '=+<>#;"\\',
    " leading",
    "trailing ",
    "*)(uid=*",
    "Élodie Œuvré",
    "#hash",
    "a\x00b",
]


def test_dns_escape_every_component() -> None:
    assert TREE.person("O'Brien, Jr.") == "uid=O'Brien\\, Jr.,ou=people,dc=example,dc=org"
    assert TREE.person(" x ") == "uid=\\ x\\ ,ou=people,dc=example,dc=org"
    assert TREE.team(ET, "A+B=C") == (
        "cn=A\\+B\\=C,ou=teams,ou=750000001,ou=establishments,dc=example,dc=org"
    )
    assert (
        TREE.role(ET, "CDC1") == "cn=CDC1,ou=roles,ou=750000001,ou=establishments,dc=example,dc=org"
    )


def test_filters_escape_every_value() -> None:
    assert TREE.people_filter(["*)(uid=*", "a\\b"]) == "(|(uid=\\2a\\29\\28uid=\\2a)(uid=a\\5cb))"
    dn = TREE.person("x)(|(uid=*")
    assert TREE.member_filter(dn) == (
        "(member=uid=x\\29\\28|\\28uid\\5c=\\2a,ou=people,dc=example,dc=org)"
    )


def test_normalize_dn_matches_the_servers_spelling() -> None:
    ours = TREE.person("O'Brien, Jr.")
    servers = "uid=O'Brien\\2C Jr.,ou=people,dc=example,dc=org"
    assert normalize_dn(ours) == normalize_dn(servers)
    assert normalize_dn("UID=Abc,OU=People,DC=Example,DC=org") == normalize_dn(TREE.person("abc"))
    assert normalize_dn(TREE.person("a,b")) != (*normalize_dn(TREE.person("a")), ("b", ""))


# Whitespace-only values are left out: ldap3's escape_rdn turns a lone space into an
# escaped backslash followed by a space, and profilesync never puts one in a DN (every
# cell is trimmed; empty names, logins and teams are refused before the directory).
@given(st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s and s.strip()))
def test_normalize_dn_inverts_escape_rdn(value: str) -> None:
    dn = f"uid={escape_rdn(value)},ou=people,dc=example,dc=org"
    assert normalize_dn(dn)[0] == ("uid", value.casefold())
    assert len(normalize_dn(dn)) == 4


@pytest.mark.parametrize("key", [k for k in NASTY if "\x00" not in k])
def test_nasty_names_end_to_end(
    *,
    key: str,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account("bystander", "Bystander-Pass-1", profiles=((ET, "CDC1", "Plain", "active"),))
    sync_once(sessions, ldap_settings, clock=FixedClock(T0))
    world.account(
        key,
        "Nasty-Pass-1234",
        nom=key,
        prenom=key,
        profiles=((ET, "CDC1", key, "active"), (ET, "CDC2", "Plain", "active")),
    )
    report = sync_once(sessions, ldap_settings, clock=FixedClock(T0))
    assert (report.error, report.parked, report.retried) == (None, 0, 0)

    dn = tree.person(key)
    assert read_entry(ldap_admin, dn, "uid", "sn") == {"uid": [key], "sn": [key]}
    assert bind_code(ldap_settings, dn, "Nasty-Pass-1234") == 0
    # The server re-spells DNs (`\2C` for `\,`): compare them normalized.
    team = {normalize_dn(m) for m in members(ldap_admin, tree.team(ET, key))}
    assert team == {normalize_dn(tree.placeholder), normalize_dn(dn)}
    plain = {normalize_dn(m) for m in members(ldap_admin, tree.team(ET, "Plain"))}
    assert plain == {
        normalize_dn(tree.placeholder),
        normalize_dn(dn),
        normalize_dn(tree.person("bystander")),
    }
    # The bystander was not touched by filters built from the nasty key.
    assert read_entry(ldap_admin, tree.person("bystander"), "cn") == {"cn": ["Alice Martin"]}
    with sessions() as session:
        found = reconcile.compare(session, ldap_settings)
    assert found.drift == []

    world.set_state(key, "ended")
    sync_once(sessions, ldap_settings, clock=FixedClock(T0))
    assert bind_code(ldap_settings, dn, "Nasty-Pass-1234") == 49
    assert bind_code(ldap_settings, tree.person("bystander"), "Bystander-Pass-1") == 0
