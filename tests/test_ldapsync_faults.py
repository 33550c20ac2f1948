"""Outages, crashes and bad changes: nothing is dropped, nothing is pushed twice."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from ldap3 import Connection
from sqlalchemy.orm import Session, sessionmaker

from fixtures_ldap import T0, World, admin_connection, members, read_entry
from profilesync.clock import FixedClock
from profilesync.config import LdapSettings
from profilesync.directory import slapd
from profilesync.directory.conn import Pipeline
from profilesync.directory.sync import _claim, backlog, backoff, sync_once, unpark
from profilesync.directory.tree import Tree
from profilesync.store.model import DirectoryChange

ET = "750000001"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def _rows(sessions: sessionmaker[Session]) -> list[DirectoryChange]:
    with sessions() as s:
        return list(s.scalars(sa.select(DirectoryChange).order_by(DirectoryChange.id)))


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, 300).total_seconds() for n in (1, 2, 3, 4, 6, 7, 50)] == [
        5,
        10,
        20,
        40,
        160,
        300,
        300,
    ]


def test_outage_keeps_changes_with_backoff_then_drains_without_duplicates(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    slapd_server: slapd.Instance,
    clock: FixedClock,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account("a1", profiles=((ET, "CDC1", "Urgences", "active"),))
    sync_once(sessions, ldap_settings, clock=clock)  # a1 is in the directory already
    world.account("a2", profiles=((ET, "CDC1", "Urgences", "active"),))
    world.set_state("a1", "ended")

    slapd.stop(slapd_server)
    report = sync_once(sessions, ldap_settings, clock=clock)
    assert report.error is not None and report.pushed == 0
    rows = _rows(sessions)
    assert len(rows) == 2
    assert {(r.attempts, r.next_attempt_at) for r in rows} == {(1, T0 + timedelta(seconds=5))}
    assert all(r.last_error and "cannot reach" in r.last_error for r in rows)
    with sessions() as s:
        assert backlog(s, clock.now()) == (0, 2, 0)

    # Not due yet: no attempt at all.
    assert sync_once(sessions, ldap_settings, clock=clock).retried == 0
    clock.advance(timedelta(seconds=5))
    sync_once(sessions, ldap_settings, clock=clock)  # still down
    assert {(r.attempts, r.next_attempt_at) for r in _rows(sessions)} == {
        (2, clock.now() + timedelta(seconds=10))
    }

    slapd.start(slapd_server.directory, nosync=True)
    clock.advance(timedelta(seconds=10))
    report = sync_once(sessions, ldap_settings, clock=clock)
    assert (report.error, report.pushed) == (None, 2)
    assert _rows(sessions) == []
    conn = admin_connection(ldap_settings)  # the old one died with the server
    team = members(conn, tree.team(ET, "Urgences"))
    assert team == {tree.placeholder, tree.person("a1"), tree.person("a2")}
    assert members(conn, tree.role(ET, "CDC1")) == {tree.placeholder, tree.person("a2")}
    assert read_entry(conn, tree.person("a1"), "pwdAccountLockedTime") == {
        "pwdAccountLockedTime": ["000001010000Z"]
    }
    conn.unbind()


def test_slapd_killed_mid_batch_then_converges(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    slapd_server: slapd.Instance,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    keys = [f"user{i:03d}" for i in range(60)]
    for key in keys:
        world.account(key, profiles=((ET, "SYNT", "Nuit", "active"),))

    adds = 0
    real_add = Pipeline.add

    def add_then_crash(self: Pipeline, *args: object, **kwargs: object) -> None:
        nonlocal adds
        adds += 1
        if adds == 13 + 30:  # after the skeleton (13 entries), half-way through the people
            slapd.kill(slapd_server)
        real_add(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Pipeline, "add", add_then_crash)
    report = sync_once(sessions, replace(ldap_settings, pipeline_window=8), clock=clock)
    monkeypatch.undo()
    assert report.error is not None
    assert len(_rows(sessions)) == 62  # nothing confirmed, nothing dropped

    slapd.start(slapd_server.directory, nosync=True)
    clock.advance(timedelta(seconds=5))
    report = sync_once(sessions, ldap_settings, clock=clock)
    assert (report.error, report.pushed, _rows(sessions)) == (None, 62, [])
    conn = admin_connection(ldap_settings)
    _, _, entries, _ = conn.search(
        tree.people_dn, "(objectClass=inetOrgPerson)", attributes=["uid"]
    )
    assert sorted(e["attributes"]["uid"][0] for e in entries) == keys
    team = members(conn, tree.team(ET, "Nuit"))
    conn.unbind()
    assert team == {tree.placeholder, *(tree.person(k) for k in keys)}


def test_rejected_change_is_parked_and_others_proceed(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account("good1", profiles=((ET, "CDC2", None, "active"),))
    # mail is IA5String: the server rejects a non-ASCII address for good.
    world.account("bad", email="élodie@hôpital.fr", profiles=((ET, "CDC2", None, "active"),))
    world.account("good2", profiles=((ET, "CDC2", None, "active"),))
    with caplog.at_level(logging.ERROR):
        report = sync_once(sessions, ldap_settings, clock=clock)
    assert (report.pushed, report.parked) == (3, 1)
    (row,) = _rows(sessions)
    assert (row.key, row.parked, row.attempts) == ("bad", True, 1)
    assert row.last_error is not None and row.last_error.startswith("invalidAttributeSyntax (21)")
    assert "parked" in caplog.text
    assert read_entry(ldap_admin, tree.person("good1"), "uid") == {"uid": ["good1"]}
    assert read_entry(ldap_admin, tree.person("good2"), "uid") == {"uid": ["good2"]}
    assert read_entry(ldap_admin, tree.person("bad"), "uid") is None
    with sessions() as s:
        assert backlog(s, clock.now()) == (0, 0, 1)

    # A parked change is not retried by itself; once the data is fixed, unpark it.
    world.update_account("bad", email="elodie@hopital.fr")
    report = sync_once(sessions, ldap_settings, clock=clock)
    assert (report.pushed, report.parked) == (1, 0)
    with sessions.begin() as s:
        assert unpark(s, clock.now()) == 1
    assert sync_once(sessions, ldap_settings, clock=clock).pushed == 1
    assert _rows(sessions) == []


def test_wrong_bind_password_never_shows(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world.establishment(ET)
    monkeypatch.setenv("PROFILESYNC_LDAP_BIND_PASSWORD", "Tr3s-Secret-Bind!")
    with caplog.at_level(logging.DEBUG):
        report = sync_once(sessions, ldap_settings, clock=clock)
    assert report.error is not None and "invalidCredentials" in report.error
    (row,) = _rows(sessions)
    assert row.attempts == 1
    for text in (report.error, report.line(), row.last_error or "", caplog.text):
        assert "Tr3s-Secret-Bind!" not in text


# Row locks are a PostgreSQL matter (SQLite runs one worker per host): this test runs on
# PostgreSQL only, rather than being collected and skipped on SQLite.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_workers_never_push_the_same_change(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_settings: LdapSettings,
    ldap_admin: Connection,
    clock: FixedClock,
    db_url: str,
) -> None:
    assert db_url.startswith("postgresql")
    tree = Tree.from_settings(ldap_settings)
    world.establishment(ET)
    world.account("x1", profiles=((ET, "CDC1", None, "active"),))
    with sessions.begin() as other:  # another daemon holds these rows mid-push
        claimed = _claim(other, clock.now(), 100)
        assert len(claimed) == 2
        report = sync_once(sessions, ldap_settings, clock=clock)
        assert report.pushed == 0
        assert read_entry(ldap_admin, tree.person("x1"), "uid") is None
    assert sync_once(sessions, ldap_settings, clock=clock).pushed == 2
