"""Tenant isolation end to end: files of two établissements' référents, the real sync, a
real slapd, and real binds (issue 8). Whatever référent B sends about a person
establishment A relies on, the person still logs in with their own password only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from ldap3 import Connection

from fixtures_ldap import bind_code, read_entry
from importkit import (
    ET1,
    ET3,
    GOOD_PW,
    OTHER_PW,
    World,
    doctor,
    fast_settings,
    row,
    rpps,
)
from profilesync.config import LdapSettings
from profilesync.directory.sync import sync_once
from profilesync.directory.tree import Tree

B = "bref"  # référent of ET3 only


@pytest.fixture
def world(
    db_url: str, tmp_path: Path, ldap_settings: LdapSettings, ldap_admin: Connection
) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    w.add_referent(B, ET3)
    yield w
    w.close()


def sync(world: World, settings: LdapSettings) -> None:
    report = sync_once(world.sf, settings, clock=world.clock)
    assert report.error is None and not report.parked, report


def test_another_establishment_cannot_set_a_doctors_password_in_the_directory(
    world: World, ldap_settings: LdapSettings, ldap_admin: Connection
) -> None:
    dn = Tree.from_settings(ldap_settings).person(rpps(1))
    world.run([doctor("C", password=GOOD_PW, email="p.durand@aphp.mssante.fr")])
    sync(world, ldap_settings)
    assert bind_code(ldap_settings, dn, GOOD_PW) == 0
    world.clock.advance(timedelta(days=200))  # A's password expired for profilesync
    _, outs = world.run(
        [doctor("C", password=OTHER_PW, email="pirate@x.mssante.fr", ej=ET3, et=ET3)],
        submitter=B,
    )
    assert outs[0].code.value == "ALERTE"
    sync(world, ldap_settings)
    assert bind_code(ldap_settings, dn, OTHER_PW) == 49
    assert bind_code(ldap_settings, dn, GOOD_PW) == 0
    entry = read_entry(ldap_admin, dn, "mail")
    assert entry is not None and entry["mail"] == ["p.durand@aphp.mssante.fr"]


def test_another_establishment_cannot_join_a_non_doctor_account(
    world: World, ldap_settings: LdapSettings, ldap_admin: Connection
) -> None:
    dn = Tree.from_settings(ldap_settings).person("cmartin")
    world.run([row("C", password=GOOD_PW, et=ET1)])
    sync(world, ldap_settings)
    world.clock.advance(timedelta(days=200))
    _, outs = world.run([row("C", password=OTHER_PW, ej=ET3, et=ET3)], submitter=B)
    assert outs[0].code.value == "ERREUR"
    sync(world, ldap_settings)
    assert bind_code(ldap_settings, dn, OTHER_PW) == 49
    assert bind_code(ldap_settings, dn, GOOD_PW) == 0
    # B's establishment got nothing that points at A's person.
    roles = f"ou=roles,ou={ET3},ou=establishments,{ldap_settings.base_dn}"
    _, _, found, _ = ldap_admin.search(roles, f"(member={dn})", attributes=["1.1"])
    assert [e for e in found if e["type"] == "searchResEntry"] == []
