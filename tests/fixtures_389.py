"""A real 389 Directory Server for the directory tests (Debian's 389-ds-base, via dscreate).

One instance per test session (bdb, as dscreate 2.3 makes it; no durable transactions:
fast, not crash-safe), created in a temporary directory that is also lib389's PREFIX (no
systemd, nothing written outside it), on a free loopback port, with a hospital's global
password policy (`ds389.HOSPITAL_POLICY`); removed at the end. Each test starts from an
empty `ou=people` / `ou=establishments`. `ds389_factory` makes more instances, each on its
own port, for tests that need several. A missing 389-ds skips loudly, or fails in CI
(PROFILESYNC_TEST_REQUIRE_ALL=1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from ldap3 import Connection

from fixtures_db import missing_backend
from fixtures_ldap import _clear_children, admin_connection
from profilesync.config import LdapSettings
from profilesync.directory import ds389


def _require_389() -> None:
    reason = ds389.unavailable()
    if reason is not None:
        missing_backend(reason)


@pytest.fixture(scope="session")
def ds389_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ds389.Instance]:
    _require_389()
    inst = ds389.start(tmp_path_factory.mktemp("ds389") / "ds", nosync=True)
    yield inst
    ds389.remove(inst)


@pytest.fixture(scope="session")
def ds389_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ds389.Instance]]:
    """`make(**start_options)`: another throw-away instance, removed at the session's end."""
    _require_389()
    made: list[ds389.Instance] = []

    def make(**options: object) -> ds389.Instance:
        options.setdefault("nosync", True)
        inst = ds389.start(tmp_path_factory.mktemp("ds389") / "ds", **options)  # type: ignore[arg-type]
        made.append(inst)
        return inst

    yield make
    for inst in made:
        ds389.remove(inst)


@pytest.fixture
def ds389_settings(ds389_server: ds389.Instance) -> LdapSettings:
    """Settings for a clean 389-ds; restarts it if a fault test left it stopped."""
    if ds389_server.pid() is None:
        ds389.start(ds389_server.directory, nosync=True)
    conn = admin_connection(ds389_server.settings())
    try:
        for ou in (ds389_server.people_ou, ds389_server.establishments_ou):
            _clear_children(conn, f"ou={ou},{ds389_server.base_dn}")
    finally:
        conn.unbind()
    return replace(ds389_server.settings(), timeout_seconds=5.0, pipeline_window=64)


@pytest.fixture
def ds389_admin(ds389_settings: LdapSettings) -> Iterator[Connection]:
    conn = admin_connection(ds389_settings)
    yield conn
    conn.unbind()
