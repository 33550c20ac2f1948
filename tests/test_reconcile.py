"""`profilesync reconcile [--repair]` through the real CLI, against a real slapd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection
from sqlalchemy.orm import Session, sessionmaker

from clikit import CHEAP_PASSWORDS, run_cli
from fixtures_db import missing_backend
from fixtures_ldap import T0, World, admin_connection, bind_code, members, read_entry
from profilesync.clock import FixedClock
from profilesync.config import LdapSettings
from profilesync.directory.sync import sync_once
from profilesync.directory.tree import Tree
from profilesync.secret import Secret
from profilesync.store.passwords import hash_password

ET = "750000001"


def _run(*args: str, config: Path | None = None) -> tuple[int, str]:
    result = run_cli(*args, config=config)
    return result.exit_code, result.output


@pytest.fixture
def synced(
    world: World, sessions: sessionmaker[Session], ldap_settings: LdapSettings
) -> LdapSettings:
    world.establishment(ET)
    world.account("alice", "Alice-Pass-123", profiles=((ET, "CDC1", "Bloc", "active"),))
    world.account("bob", "Bob-Pass-12345", profiles=((ET, "CDC2", "Bloc", "ended"),))
    world.account("carol", "Carol-Pass-123", profiles=((ET, "SYNT", None, "active"),))
    sync_once(sessions, ldap_settings, clock=FixedClock(T0))
    return ldap_settings


def test_clean_directory_has_no_drift(*, synced: LdapSettings, ldap_config: Path) -> None:
    code, out = _run("reconcile", config=ldap_config)
    assert code == 0, out
    assert out.strip().splitlines() == ["directory matches the database (3 accounts, 10 groups)"]


def test_hand_edits_are_reported_then_repaired(
    *, synced: LdapSettings, ldap_config: Path, ldap_admin: Connection
) -> None:
    tree = Tree.from_settings(synced)
    alice, bob, carol = (tree.person(k) for k in ("alice", "bob", "carol"))
    conn = ldap_admin
    assert conn.modify(alice, {"cn": [(MODIFY_REPLACE, ["Someone Else"])]})[0]
    # Alice's own password change (SPEC §4): never drift, never undone.
    own = hash_password(Secret("Alice-Own-4567"), CHEAP_PASSWORDS)
    assert conn.modify(alice, {"userPassword": [(MODIFY_REPLACE, [own])]})[0]
    assert conn.modify(bob, {"pwdAccountLockedTime": [(MODIFY_DELETE, [])]})[0]
    assert conn.modify(tree.role(ET, "CDC4"), {"member": [(MODIFY_ADD, [carol])]})[0]
    assert conn.modify(tree.team(ET, "Bloc"), {"member": [(MODIFY_DELETE, [alice])]})[0]
    ghost = tree.person("ghost")
    assert conn.modify(tree.role(ET, "SYNT"), {"member": [(MODIFY_ADD, [ghost])]})[0]
    assert conn.add(tree.person("intruder"), ["inetOrgPerson"], {"cn": "I", "sn": "I"})[0]
    assert conn.delete(carol)[0]
    assert conn.delete(tree.role(ET, "OEC1"))[0]
    assert bind_code(synced, bob, "Bob-Pass-12345") == 0  # the hand edit unlocked bob

    code, out = _run("reconcile", config=ldap_config)
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[-1] == (
        "8 difference(s) between the directory and the database: 1 attribute, 1 extra, 1 lock, "
        "2 member-extra, 1 member-missing, 2 missing"
    )
    assert len(lines) == 9
    text = "\n".join(lines)
    assert f"attribute       {alice}: cn = 'Someone Else', database: 'Alice Martin'" in text
    assert "password" not in text
    assert f"lock            {bob}: should be locked" in text
    assert f"extra           {tree.person('intruder')}" in text
    assert f"missing         {carol}" in text
    assert f"missing         {tree.role(ET, 'OEC1')}" in text
    assert f"member-extra    {tree.role(ET, 'CDC4')}: {carol}" in text
    assert f"member-extra    {tree.role(ET, 'SYNT')}: {ghost}" in text
    assert f"member-missing  {tree.team(ET, 'Bloc')}: {alice}" in text

    code, out = _run("reconcile", "--json", config=ldap_config)
    assert code == 1
    report = json.loads(out)
    assert sum(report["counts"].values()) == len(report["drift"])

    code, out = _run("reconcile", "--repair", config=ldap_config)
    assert code == 0, out
    assert out.strip().splitlines()[-1].startswith("repair: 0 failure(s); after repair:")
    assert "directory matches the database" in out.strip().splitlines()[-1]
    code, _ = _run("reconcile", config=ldap_config)
    assert code == 0

    fresh = admin_connection(synced)
    assert read_entry(fresh, alice, "cn") == {"cn": ["Alice Martin"]}
    assert bind_code(synced, alice, "Alice-Own-4567") == 0
    assert bind_code(synced, alice, "Alice-Pass-123") == 49
    assert bind_code(synced, bob, "Bob-Pass-12345") == 49
    assert bind_code(synced, carol, "Carol-Pass-123") == 0
    assert read_entry(fresh, tree.person("intruder")) is None
    assert carol not in members(fresh, tree.role(ET, "CDC4"))
    assert members(fresh, tree.role(ET, "SYNT")) == {tree.placeholder, carol}
    assert alice in members(fresh, tree.team(ET, "Bloc"))
    assert members(fresh, tree.role(ET, "OEC1")) == {tree.placeholder}
    fresh.unbind()


def test_unreachable_directory_is_a_clean_error(
    *, synced: LdapSettings, ldap_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILESYNC_LDAP_URL", "ldap://127.0.0.1:1")
    code, out = _run("reconcile", config=ldap_config)
    assert code == 2
    assert "error: directory unavailable: " in out


def test_directory_sync_command(
    *, world: World, ldap_config: Path, ldap_settings: LdapSettings
) -> None:
    world.establishment(ET)
    world.account("dave", profiles=((ET, "CDC1", None, "active"),))
    code, out = _run("directory", "sync", config=ldap_config)
    assert code == 0, out
    assert out.splitlines() == [
        "2 change(s) pushed (2 key(s)), 0 retried later, 0 parked",
        "queue: 0 due, 0 waiting for a retry, 0 parked",
    ]
    assert (
        bind_code(
            ldap_settings, Tree.from_settings(ldap_settings).person("dave"), "Correct-horse-1"
        )
        == 0
    )


def test_slapd_start_and_stop_commands(tmp_path: Path) -> None:
    from profilesync.directory import slapd

    if slapd.find_slapd() is None:
        missing_backend("slapd (apt-get install slapd)")
    target = tmp_path / "var-slapd"
    code, out = _run("slapd", "start", "--dir", str(target))
    assert code == 0, out
    inst = slapd.load(target.resolve())
    assert f'url = "{inst.url}"' in out
    assert bind_code(inst.settings(), inst.root_dn, inst.root_password()) == 0
    code, out = _run("slapd", "start", "--dir", str(target))
    assert code == 2 and "already running" in out
    code, out = _run("slapd", "stop", "--dir", str(target))
    assert (code, out.strip()) == (0, "slapd stopped")
    assert inst.pid() is None
    code, out = _run("slapd", "stop", "--dir", str(target))
    assert (code, out.strip()) == (0, "slapd was not running")
