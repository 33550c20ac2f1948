"""The directory as `status` tells it, and what an operator's commands do (issue 9).

An outage is shown as UNREACHABLE since its first failure until a bind succeeds, and the
directory_sync job does not alternate between "failed" and "ok — 0 pushed"; an
operator's `directory sync` pushes the changes waiting for a retry at once; permanent
refusals (no such parent, schema) are parked with the server's reason (insufficient access
and `retry-parked`: test_directory_acl.py); `check-config` says what is missing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from ldap3 import Connection
from sqlalchemy.orm import Session, sessionmaker

from clikit import run_cli, write_config
from fixtures_ldap import T0, World, admin_connection, ldap_section, read_entry
from profilesync import config
from profilesync.clock import FixedClock
from profilesync.config import LdapSettings
from profilesync.directory import containers, slapd
from profilesync.directory.sync import sync_once
from profilesync.directory.tree import Tree
from profilesync.service.jobs import JobContext, run_leased
from profilesync.store.model import DirectoryChange, JobLease

ET = "750000001"


def _config(tmp_path: Path, db_url: str, ldap: LdapSettings) -> Path:
    return write_config(tmp_path, database={"url": db_url}, ldap=ldap_section(ldap))


def _status(cfg: Path) -> tuple[list[str], dict[str, object]]:
    text = run_cli("status", config=cfg)
    as_json = run_cli("status", "--json", config=cfg)
    assert "Traceback" not in text.output + as_json.output
    return text.output.splitlines(), json.loads(as_json.output)


def _job(sessions: sessionmaker[Session], name: str) -> JobLease:
    with sessions() as s:
        row = s.get(JobLease, name)
        assert row is not None
        return row


def _waiting(sessions: sessionmaker[Session]) -> list[tuple[str, datetime, bool]]:
    with sessions() as s:
        rows = s.scalars(sa.select(DirectoryChange).order_by(DirectoryChange.id))
        return [(r.key, r.next_attempt_at, r.parked) for r in rows]


@pytest.fixture
def cfg(tmp_path: Path, db_url: str, ldap_settings: LdapSettings) -> Path:
    return _config(tmp_path, db_url, ldap_settings)


@pytest.fixture
def down(slapd_server: slapd.Instance, ldap_settings: LdapSettings) -> slapd.Instance:
    """The test slapd, stopped (the `ldap_settings` fixture restarts it for the next test)."""
    slapd.stop(slapd_server)
    return slapd_server


def test_an_outage_is_unreachable_since_its_first_failure_and_the_job_does_not_flap(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    cfg: Path,
    down: slapd.Instance,
) -> None:
    clock = FixedClock(T0)
    ctx = JobContext(config.load(cfg, environ={}), sessions, clock, "test:1")
    world.establishment(ET)
    world.account("alice", profiles=((ET, "SYNT", None, "active"),))

    summaries = []
    for step in (0, 1, 1, 4, 1):  # at +0, +1, +2, +6 (a retry fell due at +5), +7 s
        clock.advance(timedelta(seconds=step))
        run = run_leased("directory_sync", ctx, force=True)
        assert run.status == "failed", run
        job = _job(sessions, "directory_sync")
        assert job.last_status == "failed"
        summaries.append(job.last_error)
    where = f"cannot reach {ldap_settings.url} as {ldap_settings.bind_dn}: LDAPSocketOpenError"
    tried = (
        "JobFailed: 0 change(s) pushed (0 key(s)), 2 retried later, 0 parked; directory "
        f"unavailable: {where}"
    )
    waited = (
        "JobFailed: 0 change(s) pushed (0 key(s)), 0 retried later, 0 parked; directory "
        f"unavailable: unreachable since 2026-03-01T08:00:00+00:00: {where}"
    )
    assert summaries == [tried, waited, waited, tried, waited]

    lines, data = _status(cfg)
    [directory] = [line for line in lines if line.startswith("directory: ")]
    assert directory.startswith("directory: UNREACHABLE since 2026-03-01 09:00:00 CET: ")
    assert "cannot reach" in directory
    assert data["directory_state"] == "UNREACHABLE"
    assert data["directory_unreachable_since"] == T0.isoformat()
    sync_line = next(line for line in lines if line.strip().startswith("directory_sync"))
    assert " failed" in sync_line and "ok" not in sync_line.split("—")[0]

    slapd.start(down.directory, nosync=True)
    clock.advance(timedelta(seconds=53))
    run = run_leased("directory_sync", ctx, force=True)
    assert (run.status, run.summary) == (
        "ok",
        "2 change(s) pushed (2 key(s)), 0 retried later, 0 parked",
    )
    lines, data = _status(cfg)
    assert "directory: ok (last answered 2026-03-01 09:01:00 CET)" in lines
    assert (data["directory_state"], data["directory_unreachable_since"]) == ("ok", None)


def test_directory_sync_by_an_operator_pushes_the_waiting_changes_at_once(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    cfg: Path,
    down: slapd.Instance,
) -> None:
    world.establishment(ET)
    world.account("bob", profiles=((ET, "SYNT", None, "active"),))
    # The daemon's attempt during the outage: the changes wait, their retry an hour away.
    later = datetime.now(UTC) + timedelta(hours=1)
    report = sync_once(sessions, ldap_settings, clock=FixedClock(later))
    assert report.retried == 2
    assert all(at > datetime.now(UTC) and not parked for _, at, parked in _waiting(sessions))

    slapd.start(down.directory, nosync=True)
    result = run_cli("directory", "sync", config=cfg)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "2 change(s) pushed (2 key(s)), 0 retried later, 0 parked" in lines
    assert "queue: 0 due, 0 waiting for a retry, 0 parked" in lines
    assert _waiting(sessions) == []
    conn = admin_connection(ldap_settings)
    tree = Tree.from_settings(ldap_settings)
    assert read_entry(conn, tree.person("bob"), "uid") == {"uid": ["bob"]}
    conn.unbind()
    lines, data = _status(cfg)
    assert data["directory_state"] == "ok"
    assert not any("UNREACHABLE" in line for line in lines)


def test_directory_sync_while_still_down_keeps_everything(
    *,
    world: World,
    sessions: sessionmaker[Session],
    cfg: Path,
    down: slapd.Instance,
) -> None:
    world.establishment(ET)
    result = run_cli("directory", "sync", config=cfg)
    assert result.exit_code != 0
    assert "directory unavailable: cannot reach" in result.output
    assert "queue: 0 due, 1 waiting for a retry, 0 parked" in result.output
    [(key, _, parked)] = _waiting(sessions)
    assert (key, parked) == (ET, False)


# --- permanent refusals ---------------------------------------------------------------


def _reader(ldap_settings: LdapSettings, tmp_path: Path) -> LdapSettings:
    """A bind DN the shipped ACL lets read and never write (`by users read`)."""
    name = f"reader-{tmp_path.name[-20:]}"
    dn = f"cn={name},{ldap_settings.base_dn}"
    conn = admin_connection(ldap_settings)
    conn.delete(dn)
    entry = {"cn": name, "sn": "reader", "userPassword": "Reader-Pass-1234"}
    assert conn.add(dn, ["person"], entry)[0], conn.result
    conn.unbind()
    secret = tmp_path / "reader.secret"
    secret.write_text("Reader-Pass-1234", encoding="utf-8")
    secret.chmod(0o600)
    return replace(ldap_settings, bind_dn=dn, bind_password_file=str(secret))


def test_no_such_parent_is_parked_not_retried(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ou=people deleted by someone after the containers were checked: the add of a
    person finds no parent; that is parked with the server's reason, not retried."""
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    sync_once(sessions, ldap_settings, clock=FixedClock(T0))
    world.account("dan", profiles=((ET, "SYNT", None, "active"),))
    assert ldap_admin.delete(tree.people_dn)
    monkeypatch.setattr(containers, "ensure", lambda conn, tree: [])  # checked earlier

    report = sync_once(sessions, ldap_settings, clock=FixedClock(T0))
    assert (report.pushed, report.parked, report.retried) == (0, 1, 0)
    with sessions() as s:
        row = s.scalars(sa.select(DirectoryChange)).one()
    assert (row.key, row.parked) == ("dan", True)
    assert row.last_error is not None and row.last_error.startswith("noSuchObject (32)")


def test_a_schema_violation_is_parked_with_the_servers_reason(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
) -> None:
    """A site whose person class lacks the attributes profilesync writes."""
    narrow = replace(ldap_settings, person_object_classes=("person",))
    world.establishment(ET)
    world.account("erin", profiles=((ET, "SYNT", None, "active"),))
    report = sync_once(sessions, narrow, clock=FixedClock(T0))
    assert (report.parked, report.retried) == (1, 0)
    with sessions() as s:
        row = s.scalars(sa.select(DirectoryChange)).one()
    assert (row.key, row.parked) == ("erin", True)
    assert row.last_error is not None and row.last_error.startswith("objectClassViolation (65)")


# --- check-config ---------------------------------------------------------------------


def _ldap_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "[ldap]" in line]


def test_check_config_says_a_missing_base_dn_with_the_fix(
    *, ldap_settings: LdapSettings, db_url: str, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, db_url, replace(ldap_settings, base_dn="dc=nowhere,dc=org"))
    result = run_cli("check-config", config=cfg)
    assert result.exit_code != 0
    assert _ldap_lines(result.output)[-1] == (
        "FAIL [ldap] base DN: the base DN dc=nowhere,dc=org does not exist in the directory: "
        "create it there, or correct [ldap] base_dn"
    )


def test_check_config_says_the_bind_dn_may_not_write_with_the_fix(
    *, ldap_settings: LdapSettings, db_url: str, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, db_url, _reader(ldap_settings, tmp_path))
    result = run_cli("check-config", config=cfg)
    assert result.exit_code != 0
    lines = _ldap_lines(result.output)
    assert [line.split(":")[0] for line in lines] == [
        "ok   [ldap]",
        "ok   [ldap] server",
        "ok   [ldap] base DN",
        "ok   [ldap] containers",
        "FAIL [ldap] write access",
    ]
    tree = Tree.from_settings(ldap_settings)
    assert lines[-1] == (
        "FAIL [ldap] write access: writing refused: insufficientAccessRights (50): "
        f"no write access to parent under {tree.people_dn}: grant the bind DN write access "
        "there (OpenLDAP: olcAccess / access to; 389-ds: an aci)"
    )


def test_check_config_says_a_refused_bind_with_the_fix(
    *, ldap_settings: LdapSettings, db_url: str, tmp_path: Path
) -> None:
    secret = tmp_path / "wrong.secret"
    secret.write_text("not-the-password", encoding="utf-8")
    secret.chmod(0o600)
    cfg = _config(tmp_path, db_url, replace(ldap_settings, bind_password_file=str(secret)))
    result = run_cli("check-config", config=cfg)
    assert result.exit_code != 0
    [line] = _ldap_lines(result.output)
    assert line.startswith("FAIL [ldap]: bind to ")
    assert line.endswith(": check [ldap] url, bind_dn and the bind password")
    assert "not-the-password" not in result.output
