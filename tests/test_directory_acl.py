"""A site's ACL lets profilesync's bind DN write `ou=people` but not `ou=establishments`
(issue 9): `check-config` says so with the fix, the refused changes are parked at once with
the server's reason, `status` shows them, and `directory retry-parked` puts them back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from clikit import run_cli, write_config
from fixtures_db import missing_backend
from fixtures_ldap import World, _clear_children, admin_connection, ldap_section
from profilesync.clock import FixedClock
from profilesync.config import LdapSettings
from profilesync.directory import slapd
from profilesync.directory.sync import sync_once
from profilesync.directory.tree import Tree
from profilesync.store.model import DirectoryChange

ET = "750000001"
BASE = "dc=example,dc=org"
WRITER = f"cn=writer,{BASE}"
WRITER_PASSWORD = "Writer-Pass-1234"
ACCESS = f"""
access to dn.subtree="ou=establishments,{BASE}"
    by users read
    by * none
access to dn.subtree="ou=people,{BASE}" attrs=userPassword
    by dn.exact="{WRITER}" write
    by anonymous auth
    by * none
access to dn.subtree="ou=people,{BASE}"
    by dn.exact="{WRITER}" write
    by users read
    by * none
"""


@pytest.fixture(scope="module")
def acl_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slapd.Instance]:
    if slapd.find_slapd() is None or not slapd.MODULE_DIR.joinpath("argon2.la").exists():
        missing_backend("slapd with the argon2 and ppolicy modules (apt-get install slapd)")
    inst = slapd.start(tmp_path_factory.mktemp("acl"), nosync=True, access=ACCESS)
    conn = admin_connection(inst.settings())
    entry = {"cn": "writer", "sn": "writer", "userPassword": WRITER_PASSWORD}
    assert conn.add(WRITER, ["person"], entry), conn.result
    conn.unbind()
    yield inst
    slapd.stop(inst)


@pytest.fixture
def writer(acl_slapd: slapd.Instance, tmp_path: Path) -> LdapSettings:
    admin = acl_slapd.settings()
    conn = admin_connection(admin)
    for ou in (admin.people_ou, admin.establishments_ou):
        _clear_children(conn, f"ou={ou},{admin.base_dn}")
    conn.unbind()
    secret = tmp_path / "writer.secret"
    secret.write_text(WRITER_PASSWORD, encoding="utf-8")
    secret.chmod(0o600)
    return replace(admin, bind_dn=WRITER, bind_password_file=str(secret), server="openldap")


def _config(tmp_path: Path, db_url: str, ldap: LdapSettings) -> Path:
    return write_config(tmp_path, database={"url": db_url}, ldap=ldap_section(ldap))


def test_check_config_names_the_subtree_the_bind_dn_may_not_write(
    *, writer: LdapSettings, db_url: str, tmp_path: Path
) -> None:
    result = run_cli("check-config", config=_config(tmp_path, db_url, writer))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if "[ldap]" in line]
    tree = Tree.from_settings(writer)
    assert lines[-2:] == [
        f"ok   [ldap] containers: {tree.people_dn}, {tree.establishments_dn}: present",
        "FAIL [ldap] write access: writing refused: insufficientAccessRights (50): no write "
        f"access to parent under {tree.establishments_dn}: grant the bind DN write access "
        "there (OpenLDAP: olcAccess / access to; 389-ds: an aci)",
    ]


def test_refused_changes_are_parked_with_the_reason_and_put_back(
    *,
    writer: LdapSettings,
    acl_slapd: slapd.Instance,
    world: World,
    sessions: sessionmaker[Session],
    db_url: str,
    tmp_path: Path,
) -> None:
    cfg = _config(tmp_path, db_url, writer)
    world.establishment(ET)
    world.account("fanny", profiles=((ET, "SYNT", None, "active"),))

    report = sync_once(sessions, writer, clock=FixedClock(datetime.now(UTC)))
    assert (report.pushed, report.retried, report.parked) == (0, 0, 2), report
    reason = "insufficientAccessRights (50): no write access to parent"
    with sessions() as s:
        rows = {r.key: r for r in s.scalars(sa.select(DirectoryChange))}
    # The establishment's OUs are refused; the person's entry goes in, its groups do not.
    assert {k: (r.parked, r.last_error) for k, r in rows.items()} == {
        ET: (True, reason),
        "fanny": (True, reason),
    }
    # Parked means not retried: a day later the daemon still leaves it alone.
    later = sync_once(sessions, writer, clock=FixedClock(datetime.now(UTC) + timedelta(days=1)))
    with sessions() as s:
        attempts = {r.key: r.attempts for r in s.scalars(sa.select(DirectoryChange))}
    assert attempts == {ET: 1, "fanny": 1}
    assert (later.pushed, later.retried, later.parked) == (0, 0, 0)

    status = run_cli("status", config=cfg).output.splitlines()
    assert "directory backlog: 0 due, 0 retrying later, 2 parked" in status
    assert f"  parked (2): {reason}" in status

    # The site grants the access (here: profilesync binds as the directory's admin).
    fixed = _config(tmp_path, db_url, acl_slapd.settings())
    put_back = run_cli("directory", "retry-parked", config=fixed)
    assert put_back.output.strip() == "2 change(s) put back in the queue"
    pushed = run_cli("directory", "sync", config=fixed)
    assert pushed.exit_code == 0, pushed.output
    assert "queue: 0 due, 0 waiting for a retry, 0 parked" in pushed.output
