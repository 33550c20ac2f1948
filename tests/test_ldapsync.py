"""The sync worker against a real slapd: entries, groups, locking proved by real binds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from ldap3 import Connection
from sqlalchemy.orm import Session, sessionmaker

from clikit import CHEAP_PASSWORDS
from fixtures_ldap import T0, World, bind_code, children, members, read_entry
from profilesync.clock import FixedClock
from profilesync.config import LdapSettings
from profilesync.directory.sync import backlog, sync_once
from profilesync.directory.tree import Tree
from profilesync.secret import Secret
from profilesync.store.model import DirectoryChange
from profilesync.store.passwords import hash_password

ET = "750000001"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def test_new_account_binds_and_is_in_its_groups(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    clock: FixedClock,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account(
        "10003456789",
        "Sesame-Ouvre-Toi-1",
        nom="Dupont",
        prenom="Jean",
        email="jean.dupont@hopital.mssante.fr",
        rpps="10003456789",
        profiles=((ET, "CDC3E", "Cardiologie", "active"),),
    )
    report = sync_once(sessions, ldap_settings, clock=clock)
    assert report.error is None
    assert (report.pushed, report.parked, report.retried) == (3, 0, 0)

    dn = tree.person("10003456789")
    entry = read_entry(ldap_admin, dn, "cn", "sn", "givenName", "mail", "employeeNumber")
    assert entry == {
        "cn": ["Jean Dupont"],
        "sn": ["Dupont"],
        "givenName": ["Jean"],
        "mail": ["jean.dupont@hopital.mssante.fr"],
        "employeeNumber": ["10003456789"],
    }
    assert bind_code(ldap_settings, dn, "Sesame-Ouvre-Toi-1") == 0
    assert bind_code(ldap_settings, dn, "wrong-password-1") == 49
    assert dn in members(ldap_admin, tree.team(ET, "Cardiologie"))
    assert dn in members(ldap_admin, tree.role(ET, "CDC3E"))
    assert dn not in members(ldap_admin, tree.role(ET, "CDC1"))
    # Every role group exists, holding only the placeholder when nobody has the role.
    assert members(ldap_admin, tree.role(ET, "OEC2")) == {tree.placeholder}
    with sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(DirectoryChange)) == 0


def test_no_active_profile_locks_and_reactivation_unlocks(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    clock: FixedClock,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account("jmartin", "Pass-Word-12345", profiles=((ET, "CDC1", "Accueil", "active"),))
    sync_once(sessions, ldap_settings, clock=clock)
    dn = tree.person("jmartin")
    assert bind_code(ldap_settings, dn, "Pass-Word-12345") == 0

    world.set_state("jmartin", "ended")
    sync_once(sessions, ldap_settings, clock=clock)
    entry = read_entry(ldap_admin, dn, "pwdAccountLockedTime")
    assert entry == {"pwdAccountLockedTime": ["000001010000Z"]}
    assert bind_code(ldap_settings, dn, "Pass-Word-12345") == 49  # slapd itself refuses
    assert dn not in members(ldap_admin, tree.role(ET, "CDC1"))  # roles: active only
    assert dn in members(ldap_admin, tree.team(ET, "Accueil"))  # teams: not deleted

    world.set_state("jmartin", "active")
    sync_once(sessions, ldap_settings, clock=clock)
    assert read_entry(ldap_admin, dn, "pwdAccountLockedTime") == {}
    assert bind_code(ldap_settings, dn, "Pass-Word-12345") == 0
    assert dn in members(ldap_admin, tree.role(ET, "CDC1"))

    world.set_state("jmartin", "deleted")
    sync_once(sessions, ldap_settings, clock=clock)
    assert bind_code(ldap_settings, dn, "Pass-Word-12345") == 49
    assert dn not in members(ldap_admin, tree.team(ET, "Accueil"))
    assert members(ldap_admin, tree.team(ET, "Accueil")) == {tree.placeholder}


def test_pending_profile_account_is_created_locked(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    clock: FixedClock,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account("future", "Pass-Word-12345", profiles=((ET, "SYNT", None, "pending"),))
    sync_once(sessions, ldap_settings, clock=clock)
    assert bind_code(ldap_settings, tree.person("future"), "Pass-Word-12345") == 49


def test_attribute_changes_are_pushed_and_a_second_push_sends_nothing(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    clock: FixedClock,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account("abc", email="a@x.fr", profiles=((ET, "CDC2", None, "active"),))
    sync_once(sessions, ldap_settings, clock=clock)
    stored = read_entry(ldap_admin, tree.person("abc"), "userPassword")
    # SPEC §4: a later sync of the account never sends userPassword again.
    world.update_account("abc", nom="Durand", email=None)
    report = sync_once(sessions, ldap_settings, clock=clock)
    assert (report.entries_modified, report.entries_added) == (1, 0)
    entry = read_entry(ldap_admin, tree.person("abc"), "cn", "sn", "mail")
    assert entry == {"cn": ["Alice Durand"], "sn": ["Durand"]}
    assert read_entry(ldap_admin, tree.person("abc"), "userPassword") == stored
    # A password profilesync sets (an operator's change through the model) is written.
    new = hash_password(Secret("Operator-Set-123"), CHEAP_PASSWORDS)
    world.update_account("abc", password_hash=new, password_set_at=datetime.now(UTC))
    sync_once(sessions, ldap_settings, clock=clock)
    assert read_entry(ldap_admin, tree.person("abc"), "userPassword") == {"userPassword": [new]}

    # Same state queued again: nothing to send, the change is still consumed.
    world.update_account("abc")
    report = sync_once(sessions, ldap_settings, clock=clock)
    assert report.pushed == 1
    assert (report.entries_added, report.entries_modified, report.member_changes) == (0, 0, 0)


def test_changes_of_one_key_are_coalesced(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    clock: FixedClock,
) -> None:
    world.establishment(ET)
    world.account("k1", profiles=((ET, "CDC1", None, "active"),))
    for _ in range(4):
        world.update_account("k1")
    report = sync_once(sessions, ldap_settings, clock=clock)
    assert report.pushed == 6  # 1 establishment + 5 account rows
    assert report.keys == 2


def test_account_gone_from_database_is_removed_with_its_memberships(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    clock: FixedClock,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account("gone", profiles=((ET, "CDC4", "Bloc", "active"),))
    sync_once(sessions, ldap_settings, clock=clock)
    with sessions.begin() as s:
        s.execute(sa.text("DELETE FROM profile"))
        s.execute(sa.text("DELETE FROM account"))
        s.add(DirectoryChange(kind="account", key="gone", created_at=T0, next_attempt_at=T0))
    sync_once(sessions, ldap_settings, clock=clock)
    assert read_entry(ldap_admin, tree.person("gone")) is None
    assert members(ldap_admin, tree.team(ET, "Bloc")) == {tree.placeholder}
    assert members(ldap_admin, tree.role(ET, "CDC4")) == {tree.placeholder}


def test_establishment_skeleton(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    clock: FixedClock,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    sync_once(sessions, ldap_settings, clock=clock)
    assert children(ldap_admin, tree.establishment(ET)) == {tree.teams(ET), tree.roles(ET)}
    assert len(children(ldap_admin, tree.roles(ET))) == 9
    assert children(ldap_admin, tree.teams(ET)) == set()


def test_limit_and_backlog(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    clock: FixedClock,
) -> None:
    world.establishment(ET)
    for i in range(5):
        world.account(f"u{i}", profiles=((ET, "CDC1", None, "active"),))
    with sessions() as s:
        assert backlog(s, clock.now()) == (6, 0, 0)
    report = sync_once(sessions, ldap_settings, clock=clock, limit=2)
    assert report.pushed == 2
    with sessions() as s:
        assert backlog(s, clock.now()) == (4, 0, 0)
    sync_once(sessions, ldap_settings, clock=clock)
    with sessions() as s:
        assert backlog(s, clock.now()) == (0, 0, 0)


def test_establishment_change_rechecks_a_skeleton_already_seen_this_run(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
) -> None:
    from profilesync.directory.conn import Pipeline, close, connect
    from profilesync.directory.push import push

    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    conn = connect(ldap_settings)
    ensured: set[str] = set()
    try:
        pipe = Pipeline(conn, 16, 5.0)
        with sessions() as s:
            assert push(pipe, s, tree, [], [ET], ensured=ensured).failures == {}
        assert ensured == {ET}
        world.account("newteam", profiles=((ET, "CDC4", "Réa", "active"),))  # creates a team
        with sessions() as s:
            assert push(pipe, s, tree, [], [ET], ensured=ensured).failures == {}
    finally:
        close(conn)
    assert members(ldap_admin, tree.team(ET, "Réa")) == {tree.placeholder}
