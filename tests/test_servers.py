"""The directory side on both servers it supports, for real: OpenLDAP and 389-ds.

Every test runs on the project's slapd (argon2, ppolicy with pwdMaxAge) and on a real
389 Directory Server with a hospital's password policy, on SQLite and PostgreSQL.
Expected values come from SPEC §4 and from what the servers do (operations.md §11):
an account binds with its CSV password and never with anything profilesync stores; a
locked account is refused (49 on OpenLDAP, 53 « Account inactivated » on 389); the
person's own password change survives reconcile and later syncs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection
from sqlalchemy.orm import Session, sessionmaker

import importkit
from clikit import CHEAP_ARGON2, run_cli, write_config
from fixtures_db import missing_backend
from fixtures_ldap import (
    World,
    _clear_children,
    admin_connection,
    bind_code,
    children,
    ldap_section,
    members,
    read_entry,
)
from profilesync.clock import FixedClock
from profilesync.config import BIND_PASSWORD_ENV, LdapSettings, PasswordSettings, Settings, hashing
from profilesync.directory import canary, ds389, reconcile, slapd
from profilesync.directory.conn import Pipeline, close, connect
from profilesync.directory.servers import DS389_PROFILE
from profilesync.directory.sync import sync_once
from profilesync.directory.tree import Tree, normalize_dn
from profilesync.secret import Secret
from profilesync.store.model import Account, Audit, Base, DirectoryChange
from profilesync.store.passwords import hash_password

ET = "750000001"
# Cheap for the tests, in the scheme each server verifies; 389 keeps PBKDF2-SHA512 as sent.
PBKDF2_TEST_ITERATIONS = 10_000


@dataclass
class Server:
    """One real server under test, and how profilesync is configured for it."""

    name: str  # "openldap" | "389ds"
    settings: Settings
    locked_code: int  # what a bind on a locked account answers
    stop: Callable[[], None]
    start: Callable[[], None]

    @property
    def ldap(self) -> LdapSettings:
        return self.settings.ldap

    def admin(self) -> Connection:
        return admin_connection(self.ldap)


def _settings(ldap: LdapSettings, name: str) -> Settings:
    passwords = PasswordSettings(**CHEAP_ARGON2, pbkdf2_iterations=PBKDF2_TEST_ITERATIONS)
    return Settings(ldap=replace(ldap, server=name), passwords=passwords)


@pytest.fixture(params=["openldap", "389ds"])
def server(request: pytest.FixtureRequest) -> Server:
    if request.param == "openldap":
        inst: slapd.Instance = request.getfixturevalue("slapd_server")
        ldap = request.getfixturevalue("ldap_settings")

        def start() -> None:
            slapd.start(inst.directory, nosync=True)

        def stop() -> None:
            slapd.stop(inst)

        return Server("openldap", _settings(ldap, "openldap"), 49, stop, start)
    ds: ds389.Instance = request.getfixturevalue("ds389_server")
    ldap = request.getfixturevalue("ds389_settings")

    def start389() -> None:
        ds389.start(ds.directory, nosync=True)

    def stop389() -> None:
        ds389.stop(ds)

    return Server("389ds", _settings(ldap, "389ds"), 53, stop389, start389)


@pytest.fixture
def world(sessions: sessionmaker[Session], server: Server) -> World:
    return World(sessions, passwords=hashing(server.settings))


@pytest.fixture
def clock() -> FixedClock:
    # The servers date passwords with the real clock: so does the store here.
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def csv_world(
    db_url: str, tmp_path: Path, server: Server, clock: FixedClock
) -> Iterator[importkit.World]:
    settings = replace(
        importkit.fast_settings(tmp_path),
        ldap=server.ldap,
        passwords=server.settings.passwords,
    )
    w = importkit.World(db_url, tmp_path, settings, clock=clock)
    yield w
    w.close()


def _stored_values(sf: sessionmaker[Session]) -> set[str]:
    """Every non-empty value of every column of every table, as text."""
    found: set[str] = set()
    with sf() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(sa.select(table)):
                for value in row:
                    if value is None or isinstance(value, bool):
                        continue
                    text = value.isoformat() if isinstance(value, datetime) else str(value)
                    if text.strip():
                        found.add(text)
    return found


def _dn(server: Server, key: str) -> str:
    return Tree.from_settings(server.ldap).person(key)


def test_csv_account_binds_with_its_password_never_with_anything_the_database_holds(
    *, csv_world: importkit.World, server: Server, clock: FixedClock
) -> None:
    result, _ = csv_world.run([importkit.row("C", password=importkit.GOOD_PW)])
    assert result.summary.ok == 1, result
    report = sync_once(csv_world.sf, server.settings, clock=clock)
    assert (report.error, report.parked, report.retried) == (None, 0, 0), report
    dn = _dn(server, "cmartin")
    assert bind_code(server.ldap, dn, importkit.GOOD_PW) == 0
    stored = csv_world.scalar("SELECT password_hash FROM account WHERE key = 'cmartin'")
    assert stored.startswith("{PBKDF2-SHA512}" if server.name == "389ds" else "{ARGON2}")
    values = _stored_values(csv_world.sf)
    assert stored in values
    for value in sorted(values):
        # 49 each time, and the right password still binds after it: no policy lockout
        # (389 locks after 5 failures) hides a value that would have bound.
        assert bind_code(server.ldap, dn, value) == 49, "a stored value binds"
        assert bind_code(server.ldap, dn, importkit.GOOD_PW) == 0
    # The password was written once: nothing left to write.
    assert not csv_world.scalar("SELECT password_pending FROM account WHERE key = 'cmartin'")


def test_lock_and_unlock_follow_validity(
    *, world: World, sessions: sessionmaker[Session], server: Server, clock: FixedClock
) -> None:
    world.establishment(ET)
    world.account("val", "Valid-Pass-1234", profiles=((ET, "CDC1", None, "active"),))
    sync_once(sessions, server.settings, clock=clock)
    dn = _dn(server, "val")
    assert bind_code(server.ldap, dn, "Valid-Pass-1234") == 0
    world.set_state("val", "ended")
    assert sync_once(sessions, server.settings, clock=clock).parked == 0
    assert bind_code(server.ldap, dn, "Valid-Pass-1234") == server.locked_code
    world.set_state("val", "active")
    assert sync_once(sessions, server.settings, clock=clock).parked == 0
    assert bind_code(server.ldap, dn, "Valid-Pass-1234") == 0
    assert reconcile.compare(sessions(), server.settings).drift == []


def _own_change(server: Server, dn: str, new: str) -> None:
    """The person's own password change as the application's reset flow makes it: a clear
    value the server hashes itself (OpenLDAP: the password modify operation; 389 refuses
    it without TLS, so a modify of userPassword with the clear value)."""
    conn = server.admin()
    try:
        if server.name == "389ds":
            assert conn.modify(dn, {"userPassword": [(MODIFY_REPLACE, [new])]})[0]
        else:
            assert conn.extend.standard.modify_password(user=dn, new_password=new), conn.result
    finally:
        conn.unbind()


def test_own_password_change_survives_reconcile_repair_and_a_later_sync(
    *, world: World, sessions: sessionmaker[Session], server: Server, clock: FixedClock
) -> None:
    world.establishment(ET)
    world.account(
        "own", "First-Pass-1234", email="a@x.fr", profiles=((ET, "SYNT", None, "active"),)
    )
    sync_once(sessions, server.settings, clock=clock)
    dn = _dn(server, "own")
    _own_change(server, dn, "Mine-Now-98765")
    assert bind_code(server.ldap, dn, "Mine-Now-98765") == 0

    with sessions() as s:
        found = reconcile.compare(s, server.settings)
        assert found.drift == [], found.drift
        assert reconcile.repair(s, server.settings, found) == 0
        s.commit()
    assert bind_code(server.ldap, dn, "Mine-Now-98765") == 0

    world.update_account("own", email="b@x.fr")
    assert sync_once(sessions, server.settings, clock=clock).pushed == 1
    conn = server.admin()
    assert read_entry(conn, dn, "mail") == {"mail": ["b@x.fr"]}
    conn.unbind()
    assert bind_code(server.ldap, dn, "Mine-Now-98765") == 0
    assert bind_code(server.ldap, dn, "First-Pass-1234") == 49
    # The push read the directory's own record of the change (SPEC §4: expiry counts
    # from it): pwdChangedTime, or 389's passwordExpirationTime minus the maximum age.
    with sessions() as s:
        account = s.scalars(sa.select(Account).where(Account.key == "own")).one()
        assert account.directory_password_at is not None
        assert abs(account.directory_password_at - clock.now()) < timedelta(minutes=10)


def test_expired_password_reset_by_the_sole_owner_is_written_and_binds(
    *, csv_world: importkit.World, server: Server, clock: FixedClock
) -> None:
    csv_world.run([importkit.row("C", password=importkit.GOOD_PW)])
    sync_once(csv_world.sf, server.settings, clock=clock)
    dn = _dn(server, "cmartin")
    clock.advance(timedelta(days=server.settings.passwords.max_age_days + 1))
    result, outcomes = csv_world.run([importkit.row("M", password=importkit.OTHER_PW)])
    assert result.summary.ok == 1, importkit.messages_of(outcomes[0])
    assert csv_world.scalar("SELECT password_pending FROM account")
    sync_once(csv_world.sf, server.settings, clock=clock)
    assert bind_code(server.ldap, dn, importkit.OTHER_PW) == 0
    assert bind_code(server.ldap, dn, importkit.GOOD_PW) == 49
    assert not csv_world.scalar("SELECT password_pending FROM account")


def test_a_pending_reset_never_overwrites_a_newer_change_in_the_directory(
    *, world: World, sessions: sessionmaker[Session], server: Server, clock: FixedClock
) -> None:
    world.establishment(ET)
    world.account("race", "First-Pass-1234", profiles=((ET, "SYNT", None, "active"),))
    sync_once(sessions, server.settings, clock=clock)
    dn = _dn(server, "race")
    # A reset decided a day ago, not pushed yet; the person changed it in between.
    reset = _hash(server, "Reset-Pass-5678")
    world.update_account(
        "race",
        password_hash=reset,
        password_set_at=clock.now() - timedelta(days=1),
        password_pending=True,
    )
    _own_change(server, dn, "Mine-Now-98765")
    report = sync_once(sessions, server.settings, clock=clock)
    assert (report.pushed, report.parked, report.retried) == (1, 0, 0)
    assert bind_code(server.ldap, dn, "Mine-Now-98765") == 0
    assert bind_code(server.ldap, dn, "Reset-Pass-5678") == 49
    with sessions() as s:
        account = s.scalars(sa.select(Account).where(Account.key == "race")).one()
        assert not account.password_pending
        actions = s.scalars(sa.select(Audit.action).where(Audit.entity_key == "race")).all()
        assert "account.password_superseded" in actions


def test_a_hash_the_server_does_not_verify_is_never_sent(
    *, world: World, sessions: sessionmaker[Session], server: Server, clock: FixedClock
) -> None:
    """The other server's scheme: parked with the reason, the entry exists without a
    password, and neither the password nor the stored string binds."""
    world.establishment(ET)
    other = "389ds" if server.name == "openldap" else "openldap"
    foreign = _hash(server, "Foreign-Pass-123", scheme_of=other)
    # Not pushed yet: the entry's creation is where the value would go.
    world.account("alien", "unused", profiles=((ET, "SYNT", None, "active"),))
    world.update_account("alien", password_hash=foreign, password_pending=True)
    report = sync_once(sessions, server.settings, clock=clock)
    assert (report.parked, report.pushed) == (2, 1)  # the establishment went through
    with sessions() as s:
        errors = s.scalars(
            sa.select(DirectoryChange.last_error).where(DirectoryChange.key == "alien")
        ).all()
    assert errors and all(
        e is not None and e.startswith("the account needs a new password") for e in errors
    )
    dn = _dn(server, "alien")
    conn = server.admin()
    entry = read_entry(conn, dn, "uid", "userPassword")
    conn.unbind()
    assert entry is not None and "userPassword" not in entry
    assert bind_code(server.ldap, dn, "Foreign-Pass-123") == 49
    assert bind_code(server.ldap, dn, foreign) == 49


def _hash(server: Server, plain: str, *, scheme_of: str | None = None) -> str:
    name = scheme_of or server.name
    scheme = "pbkdf2-sha512" if name == "389ds" else "argon2"
    return hash_password(Secret(plain), replace(hashing(server.settings), scheme=scheme))


HOSTILE_KEY = ' a,b+c"d\\e<f>g;h#i=j '
HOSTILE_TEAM = ' Bloc, "B"+<C>;#=\\ '


def test_dn_hostile_names(
    *, world: World, sessions: sessionmaker[Session], server: Server, clock: FixedClock
) -> None:
    tree = Tree.from_settings(server.ldap)
    world.establishment(ET)
    world.account(HOSTILE_KEY, "Hostile-Pass-123", profiles=((ET, "CDC1", HOSTILE_TEAM, "active"),))
    report = sync_once(sessions, server.settings, clock=clock)
    assert (report.error, report.parked, report.retried) == (None, 0, 0), report
    dn = tree.person(HOSTILE_KEY)
    assert bind_code(server.ldap, dn, "Hostile-Pass-123") == 0
    conn = server.admin()
    got = {normalize_dn(m) for m in members(conn, tree.team(ET, HOSTILE_TEAM))}
    assert read_entry(conn, dn, "uid") == {"uid": [HOSTILE_KEY]}
    conn.unbind()
    assert normalize_dn(dn) in got
    assert reconcile.compare(sessions(), server.settings).drift == []


def test_member_updates_converge_without_a_retry(
    *, world: World, sessions: sessionmaker[Session], server: Server, clock: FixedClock
) -> None:
    """A member already there (a hand edit, a concurrent push) and one already gone: on
    389 without Permissive Modify, 20 and 16 mean done, not failure."""
    tree = Tree.from_settings(server.ldap)
    world.establishment(ET)
    world.account("m1", profiles=((ET, "CDC1", "Nuit", "active"),))
    sync_once(sessions, server.settings, clock=clock)
    world.account("m2", profiles=((ET, "CDC1", "Nuit", "active"),))
    conn = server.admin()
    assert conn.modify(tree.team(ET, "Nuit"), {"member": [(MODIFY_ADD, [tree.person("m2")])]})[0]
    report = sync_once(sessions, server.settings, clock=clock)
    assert (report.pushed, report.retried, report.parked) == (1, 0, 0)
    assert members(conn, tree.team(ET, "Nuit")) >= {tree.person("m1"), tree.person("m2")}
    conn.unbind()


def test_server_restarted_in_the_middle_of_a_sync_nothing_lost(
    *,
    world: World,
    sessions: sessionmaker[Session],
    server: Server,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tree = Tree.from_settings(server.ldap)
    world.establishment(ET)
    keys = [f"r{i:02d}" for i in range(30)]
    for key in keys:
        world.account(key, "Restart-Pass-123", profiles=((ET, "SYNT", "Garde", "active"),))
    adds = 0
    real_add = Pipeline.add

    def add_then_restart(self: Pipeline, *args: object, **kwargs: object) -> None:
        nonlocal adds
        adds += 1
        if adds == 13 + 15:  # after the skeleton, half-way through the people
            server.stop()
            server.start()
        real_add(self, *args, **kwargs)  # type: ignore[arg-type]

    with sessions() as s:
        queued = s.scalar(sa.select(sa.func.count()).select_from(DirectoryChange))
    monkeypatch.setattr(Pipeline, "add", add_then_restart)
    report = sync_once(
        sessions,
        replace(server.settings, ldap=replace(server.ldap, pipeline_window=4)),
        clock=clock,
    )
    monkeypatch.undo()
    assert report.error is not None
    with sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(DirectoryChange)) == queued
    clock.advance(timedelta(seconds=5))
    report = sync_once(sessions, server.settings, clock=clock)
    assert (report.error, report.pushed) == (None, queued), report
    conn = server.admin()
    assert members(conn, tree.team(ET, "Garde")) == {
        tree.placeholder,
        *(tree.person(k) for k in keys),
    }
    conn.unbind()
    assert bind_code(server.ldap, tree.person("r29"), "Restart-Pass-123") == 0
    assert reconcile.compare(sessions(), server.settings).drift == []


def _config(tmp_path: Path, db_url: str, ldap: LdapSettings, **passwords: str | int) -> Path:
    return write_config(
        tmp_path,
        database={"url": db_url},
        # A float timeout: check-config used to crash on it (struct.error).
        ldap={**ldap_section(ldap), "timeout_seconds": 2.5},
        passwords={"pbkdf2_iterations": PBKDF2_TEST_ITERATIONS, **passwords},
    )


def _ldap_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "[ldap]" in line]


def test_check_config_canary_passes_and_leaves_nothing_behind(
    *, server: Server, db_url: str, tmp_path: Path
) -> None:
    config = _config(tmp_path, db_url, server.ldap)
    result = run_cli("check-config", config=config)
    assert result.exit_code == 0, result.output
    lines = _ldap_lines(result.output)
    assert [line.split(":")[0] for line in lines] == [
        "ok   [ldap]",
        "ok   [ldap] server",
        "ok   [ldap] base DN",
        "ok   [ldap] containers",
        "ok   [ldap] write access",
        "ok   [ldap] password canary",
    ]
    assert f"{server.name} (configured)" in lines[1]
    assert "the password binds, the stored hash does not" in lines[-1]
    conn = server.admin()
    assert children(conn, Tree.from_settings(server.ldap).people_dn) == set()
    conn.unbind()


def test_check_config_detects_the_server_and_refuses_a_scheme_it_does_not_verify(
    *, server: Server, db_url: str, tmp_path: Path
) -> None:
    """`auto` everywhere: the server is recognised from its root DSE; on 389 the scheme
    `auto` resolves to (argon2: [ldap] server says nothing) is refused, with the fix."""
    config = _config(tmp_path, db_url, replace(server.ldap, server="auto"))
    result = run_cli("check-config", config=config)
    lines = _ldap_lines(result.output)
    assert f"ok   [ldap] server: {server.name} (detected from the root DSE)" in lines
    if server.name == "openldap":
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2
    assert lines[-1].startswith("FAIL [ldap] password canary: 389ds does not verify {ARGON2}")
    assert 'scheme = "pbkdf2-sha512"' in lines[-1]


def test_containers_are_created_under_a_bare_suffix(
    *, world: World, sessions: sessionmaker[Session], server: Server, clock: FixedClock
) -> None:
    tree = Tree.from_settings(server.ldap)
    conn = server.admin()
    for dn in (tree.people_dn, tree.establishments_dn):
        assert conn.delete(dn)[0], conn.result
    world.establishment(ET)
    world.account("first", "First-Pass-1234", profiles=((ET, "SYNT", None, "active"),))
    report = sync_once(sessions, server.settings, clock=clock)
    assert (report.error, report.retried, report.parked) == (None, 0, 0), report
    assert bind_code(server.ldap, tree.person("first"), "First-Pass-1234") == 0
    found = {normalize_dn(dn) for dn in children(conn, tree.people_dn)}
    conn.unbind()
    assert found == {normalize_dn(tree.person("first"))}


@pytest.fixture(scope="module")
def slapd_without_argon2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slapd.Instance]:
    if slapd.find_slapd() is None:
        missing_backend("slapd (the OpenLDAP server) is not installed")
    inst = slapd.start(tmp_path_factory.mktemp("noargon2"), nosync=True, argon2=False)
    yield inst
    slapd.stop(inst)


def test_openldap_without_argon2_the_canary_refuses_and_no_password_is_written(
    *,
    slapd_without_argon2: slapd.Instance,
    db_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    clock: FixedClock,
) -> None:
    ldap = replace(slapd_without_argon2.settings(), server="openldap", timeout_seconds=5.0)
    conn = admin_connection(ldap)
    for ou in (ldap.people_ou, ldap.establishments_ou):
        _clear_children(conn, f"ou={ou},{ldap.base_dn}")
    conn.unbind()
    result = run_cli("check-config", config=_config(tmp_path, db_url, ldap))
    assert result.exit_code == 2
    canary_line = _ldap_lines(result.output)[-1]
    assert canary_line.startswith("FAIL [ldap] password canary: openldap does not verify {ARGON2}")
    assert "moduleload argon2" in canary_line

    settings = _settings(ldap, "openldap")
    world = World(sessions, passwords=hashing(settings))
    world.establishment(ET)
    world.account("noarg", "Noarg-Pass-1234", profiles=((ET, "SYNT", None, "active"),))
    report = sync_once(sessions, settings, clock=clock)
    assert (report.retried, report.parked) == (1, 0)  # the account waits, the ET went
    tree = Tree.from_settings(ldap)
    dn = tree.person("noarg")
    conn = admin_connection(ldap)
    entry = read_entry(conn, dn, "uid", "userPassword")
    conn.unbind()
    assert entry is not None and "userPassword" not in entry  # created, locked out by absence
    with sessions() as s:
        stored = s.scalars(sa.select(Account.password_hash)).one()
        assert s.scalars(sa.select(Account.password_pending)).one()
    assert bind_code(ldap, dn, "Noarg-Pass-1234") == 49
    assert bind_code(ldap, dn, stored) == 49
    status = run_cli("status", config=_config(tmp_path, db_url, ldap))
    assert "directory: waiting because: passwords not written: password canary failed" in (
        status.output
    )


def test_hand_edits_are_found_and_repaired_on_both_servers(
    *, world: World, sessions: sessionmaker[Session], server: Server, clock: FixedClock
) -> None:
    tree = Tree.from_settings(server.ldap)
    world.establishment(ET)
    world.account("alice", "Alice-Pass-123", profiles=((ET, "CDC1", "Bloc", "active"),))
    world.account("bob", "Bob-Pass-12345", profiles=((ET, "CDC2", "Bloc", "ended"),))
    world.account("carol", "Carol-Pass-123", profiles=((ET, "SYNT", None, "active"),))
    sync_once(sessions, server.settings, clock=clock)
    alice, bob, carol = (tree.person(k) for k in ("alice", "bob", "carol"))
    lock = "nsAccountLock" if server.name == "389ds" else "pwdAccountLockedTime"
    conn = server.admin()
    assert conn.modify(alice, {"cn": [(MODIFY_REPLACE, ["Someone Else"])]})[0]
    assert conn.modify(bob, {lock: [(MODIFY_DELETE, [])]})[0]
    assert conn.modify(tree.role(ET, "CDC4"), {"member": [(MODIFY_ADD, [carol])]})[0]
    assert conn.add(tree.person("intruder"), ["inetOrgPerson"], {"cn": "I", "sn": "I"})[0]
    assert conn.delete(carol)[0]
    assert bind_code(server.ldap, bob, "Bob-Pass-12345") == 0  # the hand edit unlocked bob

    with sessions() as s:
        found = reconcile.compare(s, server.settings)
        kinds = sorted(d.kind for d in found.drift)
        assert kinds == ["attribute", "extra", "lock", "member-extra", "missing"], found.drift
        assert reconcile.repair(s, server.settings, found) == 0
        s.commit()
        assert reconcile.compare(s, server.settings).drift == []
    assert read_entry(conn, alice, "cn") == {"cn": ["Alice Martin"]}
    assert read_entry(conn, tree.person("intruder")) is None
    assert carol not in members(conn, tree.role(ET, "CDC4"))
    conn.unbind()
    assert bind_code(server.ldap, bob, "Bob-Pass-12345") == server.locked_code
    assert bind_code(server.ldap, carol, "Carol-Pass-123") == 0  # re-created with its hash
    assert bind_code(server.ldap, alice, "Alice-Pass-123") == 0


def test_389_canary_names_the_writer_it_needs(
    ds389_admin: Connection,
    ds389_settings: LdapSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bind DN with write access but not Directory Manager nor the passwordAdminDN:
    389 refuses the pre-hashed probe (19), the canary says which writer it needs; named
    passwordAdminDN, the same DN passes."""
    people = f"ou={ds389_settings.people_ou},{ds389_settings.base_dn}"
    writer = f"uid=writer,{people}"
    assert ds389_admin.add(
        writer,
        ["inetOrgPerson"],
        {"uid": "writer", "cn": "w", "sn": "w", "userPassword": "Writer-Password-123"},
    )[0]
    aci = (
        '(targetattr="*")(version 3.0; acl "profilesync writer"; '
        f'allow (all) userdn="ldap:///{writer}";)'
    )
    assert ds389_admin.modify(people, {"aci": [(MODIFY_ADD, [aci])]})[0]
    monkeypatch.setenv(BIND_PASSWORD_ENV, "Writer-Password-123")
    settings = _settings(replace(ds389_settings, bind_dn=writer), "389ds")
    try:
        conn = connect(settings.ldap, pipelined=False)
        try:
            verdict = canary.probe(conn, settings.ldap, DS389_PROFILE, hashing(settings))
            assert not verdict.ok
            assert "(19)" in verdict.detail
            assert "Directory Manager or the passwordAdminDN" in verdict.detail
            config = {"passwordAdminDN": [(MODIFY_REPLACE, [writer])]}
            assert ds389_admin.modify("cn=config", config)[0]
            try:
                verdict = canary.probe(conn, settings.ldap, DS389_PROFILE, hashing(settings))
            finally:
                cleared = {"passwordAdminDN": [(MODIFY_DELETE, [])]}
                assert ds389_admin.modify("cn=config", cleared)[0]
            assert verdict.ok, verdict.detail
        finally:
            close(conn)
    finally:
        assert ds389_admin.modify(people, {"aci": [(MODIFY_DELETE, [aci])]})[0]
    assert children(ds389_admin, people) == {writer}  # no probe left behind
