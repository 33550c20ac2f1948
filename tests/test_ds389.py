"""The real 389 Directory Server the tests run: created, started, and how it treats passwords.

These tests pin what profilesync's 389 profile relies on (docs/operations.md, "389
Directory Server"): a pre-hashed `{PBKDF2-SHA512}` written by Directory Manager is kept
and verified; a scheme 389 does not know (`{ARGON2}`) is taken for a clear password, so
the hash string itself binds; `nsAccountLock: TRUE` refuses the bind with 53; the root
DSE says which server this is. If 389 changes any of this, these tests say so first.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from ldap3 import (
    BASE,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NONE,
    SAFE_SYNC,
    Connection,
    Server,
)

from clikit import CHEAP_PASSWORDS
from fixtures_ldap import bind_code, read_entry
from profilesync.config import LdapSettings
from profilesync.directory import ds389, slapd
from profilesync.directory.tree import Tree, skeleton
from profilesync.secret import Secret
from profilesync.store.passwords import hash_password

pytestmark = pytest.mark.ds389

PLAIN = "Mot-de-passe-été-2026"  # non-ASCII: client and server must agree on UTF-8
PERMISSIVE_MODIFY = "1.2.840.113556.1.4.1413"


def pbkdf2_sha512(plain: str, iterations: int = 10_000) -> str:
    """389's `{PBKDF2-SHA512}<iterations>$<salt>$<hash>` (standard base64), from hashlib."""
    salt = secrets.token_bytes(24)
    digest = hashlib.pbkdf2_hmac("sha512", plain.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"{{PBKDF2-SHA512}}{iterations}${b64(salt).decode()}${b64(digest).decode()}"


def ssha512(plain: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha512(plain.encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode()


def add_person(conn: Connection, settings: LdapSettings, uid: str, password: str) -> str:
    dn = f"uid={uid},ou={settings.people_ou},{settings.base_dn}"
    attrs = {"uid": uid, "cn": uid, "sn": uid, "userPassword": password}
    ok, result, _, _ = conn.add(dn, ["inetOrgPerson"], attrs)
    assert ok, result
    return dn


def stored_password(conn: Connection, dn: str) -> str:
    entry = read_entry(conn, dn, "userPassword")
    assert entry is not None
    return entry["userPassword"][0]


def bind_result(settings: LdapSettings, dn: str, password: str) -> tuple[int, str]:
    conn = Connection(Server(settings.url, get_info=NONE), dn, password, client_strategy=SAFE_SYNC)
    conn.open()
    _, result, _, _ = conn.bind()
    conn.unbind()
    return int(result["result"]), str(result.get("message", ""))


def root_dse(url: str) -> dict[str, list[str]]:
    """The root DSE as an anonymous client reads it: user and operational attributes."""
    conn = Connection(Server(url, get_info=NONE), client_strategy=SAFE_SYNC, auto_bind=True)
    try:
        ok, result, entries, _ = conn.search("", "(objectClass=*)", BASE, attributes=["*", "+"])
        assert ok, result
        raw = entries[0]["raw_attributes"]
        return {k.lower(): [v.decode() for v in vals] for k, vals in raw.items()}
    finally:
        conn.unbind()


def test_instance_runs_on_loopback_and_directory_manager_binds(
    ds389_server: ds389.Instance, ds389_settings: LdapSettings
) -> None:
    assert ds389_server.pid() is not None
    assert ds389_server.url.startswith("ldap://127.0.0.1:")
    assert ds389_server.bind_dn == "cn=Directory Manager"
    assert bind_code(ds389_settings, ds389_server.root_dn, ds389_server.root_password()) == 0
    assert bind_code(ds389_settings, ds389_server.root_dn, "wrong") == 49
    # Nothing of the instance outside its directory: lib389 had PREFIX and no systemd.
    assert ds389_server.config_dir.is_relative_to(ds389_server.directory)
    assert ds389_server.error_log.exists()


def test_hospital_password_policy_is_set(ds389_admin: Connection) -> None:
    config = read_entry(ds389_admin, "cn=config", *ds389.HOSPITAL_POLICY)
    assert config is not None
    wanted = {k.lower(): v for k, v in ds389.HOSPITAL_POLICY.items()}
    assert {k.lower(): v[0] for k, v in config.items()} == wanted


def test_prehashed_pbkdf2_binds_with_its_password_never_with_the_hash(
    ds389_admin: Connection, ds389_settings: LdapSettings
) -> None:
    stored = pbkdf2_sha512(PLAIN)
    dn = add_person(ds389_admin, ds389_settings, "pbkdf2", stored)
    assert stored_password(ds389_admin, dn) == stored  # kept as sent: not re-hashed
    assert bind_result(ds389_settings, dn, PLAIN)[0] == 0
    assert bind_result(ds389_settings, dn, stored)[0] == 49
    assert bind_result(ds389_settings, dn, PLAIN.upper())[0] == 49
    # The configured scheme: a successful bind does not rewrite it.
    assert stored_password(ds389_admin, dn) == stored


def test_prehashed_ssha512_verifies_then_is_upgraded_at_the_first_bind(
    ds389_admin: Connection, ds389_settings: LdapSettings
) -> None:
    """nsslapd-enable-upgrade-hash (on by default) re-hashes any other scheme at bind."""
    stored = ssha512(PLAIN)
    dn = add_person(ds389_admin, ds389_settings, "ssha512", stored)
    assert stored_password(ds389_admin, dn) == stored
    assert bind_result(ds389_settings, dn, stored)[0] == 49
    assert bind_result(ds389_settings, dn, PLAIN)[0] == 0
    assert stored_password(ds389_admin, dn).startswith("{PBKDF2-SHA512}")
    assert bind_result(ds389_settings, dn, PLAIN)[0] == 0


def test_unknown_scheme_is_taken_for_a_clear_password(
    ds389_admin: Connection, ds389_settings: LdapSettings
) -> None:
    """The hole of issue 16: `{ARGON2}…` is hashed again, and the hash string binds."""
    stored = hash_password(Secret(PLAIN), CHEAP_PASSWORDS)
    dn = add_person(ds389_admin, ds389_settings, "argon2", stored)
    assert stored_password(ds389_admin, dn).startswith("{PBKDF2-SHA512}")
    assert bind_result(ds389_settings, dn, PLAIN)[0] == 49
    assert bind_result(ds389_settings, dn, stored)[0] == 0


def test_prehashed_value_needs_a_privileged_writer(
    ds389_admin: Connection, ds389_settings: LdapSettings
) -> None:
    """Only Directory Manager or passwordAdminDN may write a pre-hashed userPassword."""
    writer = add_person(ds389_admin, ds389_settings, "writer", "Writer-Password-123")
    people = f"ou={ds389_settings.people_ou},{ds389_settings.base_dn}"
    aci = (
        '(targetattr="userPassword")(version 3.0; acl "writer"; '
        f'allow (write) userdn="ldap:///{writer}";)'
    )
    assert ds389_admin.modify(people, {"aci": [(MODIFY_ADD, [aci])]})[0]
    target = add_person(ds389_admin, ds389_settings, "target", pbkdf2_sha512("Old-password-123"))
    conn = Connection(
        Server(ds389_settings.url, get_info=NONE),
        writer,
        "Writer-Password-123",
        client_strategy=SAFE_SYNC,
        auto_bind=True,
    )
    try:
        change = {"userPassword": [(MODIFY_REPLACE, [pbkdf2_sha512(PLAIN)])]}
        ok, result, _, _ = conn.modify(target, change)
        assert not ok
        assert result["result"] == 19  # constraintViolation
        assert "storage scheme are not allowed" in result["message"]
        config = {"passwordAdminDN": [(MODIFY_REPLACE, [writer])]}
        assert ds389_admin.modify("cn=config", config)[0]
        try:
            ok, result, _, _ = conn.modify(target, change)
            assert ok, result
        finally:
            assert ds389_admin.modify("cn=config", {"passwordAdminDN": [(MODIFY_DELETE, [])]})[0]
    finally:
        conn.unbind()
        assert ds389_admin.modify(people, {"aci": [(MODIFY_DELETE, [aci])]})[0]
    assert bind_result(ds389_settings, target, PLAIN)[0] == 0


def test_nsaccountlock_refuses_the_bind_with_53(
    ds389_admin: Connection, ds389_settings: LdapSettings
) -> None:
    dn = add_person(ds389_admin, ds389_settings, "locked", pbkdf2_sha512(PLAIN))
    assert ds389_admin.modify(dn, {"nsAccountLock": [(MODIFY_REPLACE, ["TRUE"])]})[0]
    code, message = bind_result(ds389_settings, dn, PLAIN)
    assert (code, message) == (53, "Account inactivated. Contact system administrator.")
    assert bind_result(ds389_settings, dn, "wrong")[0] == 53
    assert ds389_admin.modify(dn, {"nsAccountLock": [(MODIFY_DELETE, [])]})[0]
    assert bind_result(ds389_settings, dn, PLAIN)[0] == 0
    # OpenLDAP's ppolicy lock is not in 389's schema (the server says so, not ldap3).
    raw = Connection(
        Server(ds389_settings.url, get_info=NONE),
        ds389_settings.bind_dn,
        ds389_settings.bind_password(),
        client_strategy=SAFE_SYNC,
        auto_bind=True,
    )
    ok, result, _, _ = raw.modify(
        dn, {"pwdAccountLockedTime": [(MODIFY_REPLACE, [slapd.PERMANENT_LOCK])]}
    )
    raw.unbind()
    assert not ok
    assert result["description"] == "objectClassViolation"


def test_password_expiration_time_is_the_password_age(
    ds389_admin: Connection, ds389_settings: LdapSettings
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    dn = add_person(ds389_admin, ds389_settings, "aging", pbkdf2_sha512(PLAIN))
    entry = read_entry(ds389_admin, dn, "passwordExpirationTime", "pwdUpdateTime")
    assert entry is not None
    expires = datetime.strptime(entry["passwordExpirationTime"][0], "%Y%m%d%H%M%SZ")
    max_age = timedelta(seconds=int(ds389.HOSPITAL_POLICY["passwordMaxAge"]))
    set_at = expires.replace(tzinfo=UTC) - max_age
    assert before - timedelta(seconds=2) <= set_at <= datetime.now(UTC) + timedelta(seconds=2)
    assert "pwdUpdateTime" not in entry  # only with passwordTrackUpdateTime: on


def test_root_dse_identifies_389(ds389_server: ds389.Instance) -> None:
    dse = root_dse(ds389_server.url)
    assert dse["vendorname"] == ["389 Project"]
    assert dse["vendorversion"][0].startswith("389-Directory/")
    assert "openldaprootdse" not in {c.lower() for c in dse["objectclass"]}
    assert PERMISSIVE_MODIFY not in dse["supportedcontrol"]
    assert "1.3.6.1.4.1.42.2.27.8.5.1" in dse["supportedcontrol"]  # password policy control


@pytest.mark.slapd
def test_root_dse_identifies_openldap(slapd_server: slapd.Instance) -> None:
    """For comparison: no vendor attributes; and permissive modify works but is not listed."""
    dse = root_dse(slapd_server.url)
    assert "openldaprootdse" in {c.lower() for c in dse["objectclass"]}
    assert "vendorname" not in dse
    assert PERMISSIVE_MODIFY not in dse["supportedcontrol"]


def test_profilesync_tree_fits_389_schema(
    ds389_admin: Connection, ds389_settings: LdapSettings
) -> None:
    """ou=people, ou=establishments (made by the fixture) and an establishment's groups."""
    tree = Tree.from_settings(ds389_settings)
    for ou in (tree.people_dn, tree.establishments_dn):
        assert read_entry(ds389_admin, ou, "ou") is not None
    for level in skeleton(tree, "750000001", ["Cardio, B", "Équipe #1"]).levels:
        for entry in level:
            attrs = {k: list(v) for k, v in entry.attributes.items()}
            ok, result, _, _ = ds389_admin.add(entry.dn, list(entry.classes), attrs)
            assert ok, (entry.dn, result)
    group = tree.team("750000001", "Cardio, B")
    person = add_person(ds389_admin, ds389_settings, "member", pbkdf2_sha512(PLAIN))
    assert ds389_admin.modify(group, {"member": [(MODIFY_ADD, [person])]})[0]
    # Adding it again: 389 ignores the (non-critical) permissive modify control.
    control = (PERMISSIVE_MODIFY, False, None)
    ok, result, _, _ = ds389_admin.modify(
        group, {"member": [(MODIFY_ADD, [person])]}, controls=[control]
    )
    assert not ok
    assert result["result"] == 20  # attributeOrValueExists


def test_more_instances_restart_on_their_port_and_survive_a_kill(
    ds389_server: ds389.Instance, ds389_factory: Callable[..., ds389.Instance]
) -> None:
    other = ds389_factory(db_lib="mdb", base_dn="o=hospital")
    assert other.port != ds389_server.port
    settings = other.settings()
    conn = Connection(
        Server(settings.url, get_info=NONE),
        other.root_dn,
        other.root_password(),
        client_strategy=SAFE_SYNC,
        auto_bind=True,
    )
    dn = add_person(conn, settings, "kept", pbkdf2_sha512(PLAIN))
    conn.unbind()
    assert ds389.stop(other)
    assert other.pid() is None
    again = ds389.start(other.directory, nosync=True)
    assert again.url == other.url
    assert bind_result(settings, dn, PLAIN)[0] == 0
    assert ds389.kill(again)
    again = ds389.start(other.directory)
    assert bind_result(settings, dn, PLAIN)[0] == 0
