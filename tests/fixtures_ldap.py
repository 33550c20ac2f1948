"""A real slapd for the directory tests (our shipped config: mdb, argon2, ppolicy).

One slapd per test session (dbnosync: fast, not durable), in a temporary directory, on a
free loopback port, stopped by PID at the end. Each test starts from an empty
`ou=people` / `ou=establishments`. A missing slapd skips loudly, or fails in CI
(PROFILESYNC_TEST_REQUIRE_ALL=1).
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # pyasn1 ≥ 0.6 deprecates names ldap3 2.9.1 imports (tagMap, typeMap): harmless, and
    # raised once at import; pytest runs with filterwarnings=error.
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3  # noqa: F401

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from ldap3 import BASE, LEVEL, SAFE_SYNC, SUBTREE, Connection, Server
from sqlalchemy.orm import Session, sessionmaker

from clikit import CHEAP_PASSWORDS, write_config
from fixtures_db import missing_backend
from profilesync.config import LdapSettings, PasswordSettings
from profilesync.directory import slapd
from profilesync.secret import Secret
from profilesync.store.db import make_engine, session_factory
from profilesync.store.model import Account, DirectoryChange, Establishment, Profile, Team
from profilesync.store.passwords import hash_password

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slapd.Instance]:
    if slapd.find_slapd() is None or not slapd.MODULE_DIR.joinpath("argon2.la").exists():
        missing_backend("slapd with the argon2 and ppolicy modules (apt-get install slapd)")
    inst = slapd.start(tmp_path_factory.mktemp("slapd"), nosync=True)
    yield inst
    slapd.stop(inst)


@pytest.fixture
def ldap_settings(slapd_server: slapd.Instance) -> LdapSettings:
    """Settings for a clean directory; restarts slapd if a fault test left it stopped."""
    if slapd_server.pid() is None:
        slapd.start(slapd_server.directory, nosync=True)
    conn = admin_connection(slapd_server.settings())
    try:
        for ou in ("people", "establishments"):
            _clear_children(conn, f"ou={ou},{slapd_server.base_dn}")
    finally:
        conn.unbind()
    return replace(slapd_server.settings(), timeout_seconds=5.0, pipeline_window=64)


@pytest.fixture
def ldap_config(tmp_path: Path, db_url: str, ldap_settings: LdapSettings) -> Path:
    """A config file naming the test database and the test directory, for the CLI and jobs."""
    return write_config(tmp_path, database={"url": db_url}, ldap=ldap_section(ldap_settings))


def ldap_section(ldap: LdapSettings) -> dict[str, str | float]:
    """The [ldap] keys a config file needs to reach this test directory."""
    return {
        "url": ldap.url,
        "base_dn": ldap.base_dn,
        "bind_dn": ldap.bind_dn,
        "bind_password_file": ldap.bind_password_file,
        "people_ou": ldap.people_ou,
        "establishments_ou": ldap.establishments_ou,
        "server": ldap.server,
    }


@pytest.fixture
def ldap_admin(ldap_settings: LdapSettings) -> Iterator[Connection]:
    conn = admin_connection(ldap_settings)
    yield conn
    conn.unbind()


def admin_connection(settings: LdapSettings) -> Connection:
    return Connection(
        Server(settings.url),
        settings.bind_dn,
        settings.bind_password(),
        client_strategy=SAFE_SYNC,
        auto_bind=True,
    )


def _clear_children(conn: Connection, base: str) -> None:
    _, _, entries, _ = conn.search(base, "(objectClass=*)", SUBTREE, attributes=["1.1"])
    dns = [e["dn"] for e in entries if e["type"] == "searchResEntry"]
    for dn in sorted(dns, key=lambda d: -len(d)):
        if dn.lower() != base.lower():
            conn.delete(dn)


def bind_code(settings: LdapSettings, dn: str, password: str) -> int:
    """The result code of a simple bind as `dn`: 0 accepted, 49 refused."""
    conn = Connection(Server(settings.url), dn, password, client_strategy=SAFE_SYNC)
    conn.open()
    ok, result, _, _ = conn.bind()
    conn.unbind()
    return 0 if ok else int(result["result"])


def read_entry(conn: Connection, dn: str, *attrs: str) -> dict[str, list[str]] | None:
    """An entry's attributes as decoded strings, None when it does not exist."""
    status, result, entries, _ = conn.search(dn, "(objectClass=*)", BASE, attributes=list(attrs))
    if result["result"] == 32:
        return None
    assert status, result
    raw = entries[0]["raw_attributes"]
    return {k: [v.decode() for v in vals] for k, vals in raw.items() if vals}


def members(conn: Connection, group_dn: str) -> set[str]:
    entry = read_entry(conn, group_dn, "member")
    assert entry is not None, f"no group {group_dn}"
    return set(entry.get("member", []))


def children(conn: Connection, base: str) -> set[str]:
    _, _, entries, _ = conn.search(base, "(objectClass=*)", LEVEL, attributes=["1.1"])
    return {e["dn"] for e in entries if e["type"] == "searchResEntry"}


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


class World:
    """Builds database rows directly through the model, as the store would leave them."""

    def __init__(
        self, factory: sessionmaker[Session], passwords: PasswordSettings = CHEAP_PASSWORDS
    ) -> None:
        self.factory = factory
        self.passwords = passwords  # the scheme the directory under test verifies

    def establishment(self, et: str, ej: str = "010000016") -> None:
        with self.factory.begin() as s:
            s.add(Establishment(et=et, ej=ej, name=f"ET {et}", created_at=T0))
            queue(s, "establishment", et)

    def account(
        self,
        key: str,
        password: str = "Correct-horse-1",
        *,
        nom: str = "Martin",
        prenom: str = "Alice",
        email: str | None = None,
        rpps: str | None = None,
        profiles: tuple[tuple[str, str, str | None, str], ...] = (),
    ) -> None:
        """`profiles`: (ET, role, team or None, state)."""
        with self.factory.begin() as s:
            account = Account(
                key=key,
                doctor=rpps is not None,
                rpps=rpps,
                nom=nom,
                prenom=prenom,
                email=email,
                password_hash=hash_password(Secret(password), self.passwords),
                password_set_at=T0,
                locked=not any(p[3] == "active" for p in profiles),
                created_at=T0,
                updated_at=T0,
            )
            s.add(account)
            s.flush()
            for et, role, team, state in profiles:
                self._profile(s, account, et, role=role, team=team, state=state)
            queue(s, "account", key)

    def add_profile(self, key: str, et: str, role: str, team: str | None, state: str) -> None:
        with self.factory.begin() as s:
            account = s.scalars(sa.select(Account).where(Account.key == key)).one()
            self._profile(s, account, et, role=role, team=team, state=state)
            queue(s, "account", key)

    def set_state(self, key: str, state: str, role: str | None = None) -> None:
        with self.factory.begin() as s:
            account = s.scalars(sa.select(Account).where(Account.key == key)).one()
            for p in s.scalars(sa.select(Profile).where(Profile.account_id == account.id)):
                if role is None or p.role == role:
                    p.state = state
            queue(s, "account", key)

    def update_account(self, key: str, **values: object) -> None:
        with self.factory.begin() as s:
            account = s.scalars(sa.select(Account).where(Account.key == key)).one()
            for name, value in values.items():
                setattr(account, name, value)
            queue(s, "account", key)

    @staticmethod
    def _profile(
        s: Session, account: Account, et: str, *, role: str, team: str | None, state: str
    ) -> None:
        est = s.scalars(sa.select(Establishment).where(Establishment.et == et)).one()
        team_id = None
        if team is not None:
            found = s.scalars(
                sa.select(Team).where(Team.establishment_id == est.id, Team.name == team)
            ).one_or_none()
            if found is None:
                found = Team(establishment_id=est.id, name=team, created_at=T0)
                s.add(found)
                s.flush()
                queue(s, "establishment", et)
            team_id = found.id
        s.add(
            Profile(
                account_id=account.id,
                establishment_id=est.id,
                role=role,
                team_id=team_id,
                debut=date(2026, 1, 1),
                fin=None,
                state=state,
                created_at=T0,
                updated_at=T0,
            )
        )


def queue(s: Session, kind: str, key: str, at: datetime = T0) -> None:
    s.add(DirectoryChange(kind=kind, key=key, created_at=at, next_attempt_at=at))


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    return World(sessions)
