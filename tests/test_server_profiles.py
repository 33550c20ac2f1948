"""directory/servers.py: recognising the server, and what each profile does (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from profilesync import config
from profilesync.config import ConfigError, Settings
from profilesync.directory import servers
from profilesync.directory.servers import DS389_PROFILE, OPENLDAP_PROFILE

# Root DSEs as operations.md §11 records them.
ROOT_389 = {"vendorName": ["389 Project"], "vendorVersion": ["389-Directory/2.3.1"]}
ROOT_OPENLDAP = {"objectClass": ["top", "OpenLDAProotDSE"]}


def test_root_dse_identifies_the_server() -> None:
    assert servers.identify(ROOT_389) is DS389_PROFILE
    assert servers.identify(ROOT_OPENLDAP) is OPENLDAP_PROFILE
    assert servers.identify({"objectclass": ["openldaprootdse"]}) is OPENLDAP_PROFILE
    with pytest.raises(servers.UnknownServer, match="set \\[ldap\\] server"):
        servers.identify({"vendorName": ["Microsoft"]})


def test_each_server_verifies_only_its_scheme() -> None:
    assert OPENLDAP_PROFILE.verifies("{ARGON2}$argon2id$v=19$…")
    assert not OPENLDAP_PROFILE.verifies("{PBKDF2-SHA512}10000$a$b")
    assert DS389_PROFILE.verifies("{pbkdf2-sha512}10000$a$b")
    assert not DS389_PROFILE.verifies("{ARGON2}$argon2id$…")
    assert not DS389_PROFILE.verifies("clear text")


def test_locks_lift_only_our_own() -> None:
    assert OPENLDAP_PROFILE.is_locked(["000001010000Z"])
    assert not OPENLDAP_PROFILE.is_locked(["20261201083000Z"])  # a policy lockout
    assert DS389_PROFILE.is_locked(["true"])
    assert DS389_PROFILE.unlock_change(["TRUE"]) == [("MODIFY_DELETE", ["TRUE"])]


def test_password_age_from_each_record() -> None:
    when = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert OPENLDAP_PROFILE.password_changed_at(["20261201083000Z"], 90) == when
    expiry = ["20270301083000Z"]
    assert DS389_PROFILE.password_changed_at(expiry, 90) == datetime(
        2027, 3, 1, 8, 30, tzinfo=UTC
    ) - timedelta(days=90)
    assert DS389_PROFILE.password_changed_at(["19700101000000Z"], 90) is None  # must change
    assert DS389_PROFILE.password_changed_at([], 90) is None
    assert OPENLDAP_PROFILE.password_changed_at(["garbage"], 90) is None


def test_scheme_auto_follows_the_server() -> None:
    def scheme(**ldap: str) -> str:
        return config.password_scheme(Settings().with_overrides(ldap=ldap))

    assert scheme() == "argon2"
    assert scheme(server="389ds") == "pbkdf2-sha512"
    assert scheme(server="openldap") == "argon2"
    with pytest.raises(ConfigError, match="server must be one of"):
        Settings().with_overrides(ldap={"server": "ad"})
    with pytest.raises(ConfigError, match="scheme must be one of"):
        Settings().with_overrides(passwords={"scheme": "md5"})
