"""A job lease whose holder was killed is taken over at once by a daemon restarted on the
same host (issue 9: it used to wait `lease_seconds`, 10 minutes, before pushing anything).
With a real `kill -9` of a real process holding the lease, on both engines.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import FixedClock, SystemClock
from profilesync.service import lease
from profilesync.store import db

HOST = socket.gethostname()
ME = f"{HOST}:{os.getpid()}"
HOLD = (
    "import os, socket, sys\n"
    "from profilesync.clock import SystemClock\n"
    "from profilesync.service import lease\n"
    "from profilesync.store import db\n"
    "sf = db.session_factory(db.make_engine(sys.argv[1]))\n"
    "owner = f'{socket.gethostname()}:{os.getpid()}'\n"
    "got = lease.acquire(sf, 'prune', owner, SystemClock(), lease_seconds=600)\n"
    "print('held' if got else 'refused', flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture
def sf(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(db_url)
    yield db.session_factory(engine)
    engine.dispose()


def holder(db_url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, db_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_killed_holder_s_lease_is_taken_over_at_once(
    db_url: str, sf: sessionmaker[Session]
) -> None:
    with holder(db_url) as proc:
        try:
            assert lease.acquire(sf, "prune", ME, SystemClock(), lease_seconds=600) is None
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    got = lease.acquire(sf, "prune", ME, SystemClock(), lease_seconds=600)
    assert got == lease.Lease("prune", ME)


def test_a_lease_of_another_host_waits_for_its_expiry(sf: sessionmaker[Session]) -> None:
    clock = FixedClock(SystemClock().now())
    other = "another-host.example:12345"
    assert lease.acquire(sf, "prune", other, clock, lease_seconds=600) is not None
    assert lease.acquire(sf, "prune", ME, clock, lease_seconds=600) is None
    clock.advance(timedelta(seconds=601))
    assert lease.acquire(sf, "prune", ME, clock, lease_seconds=600) is not None


def test_a_reused_pid_does_not_hold_a_lease(sf: sessionmaker[Session]) -> None:
    """The PID of the dead holder now belongs to a process started after the lease."""
    clock = FixedClock(SystemClock().now() - timedelta(minutes=5))
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    ) as newcomer:
        try:
            owner = f"{HOST}:{newcomer.pid}"
            assert lease.acquire(sf, "prune", owner, clock, lease_seconds=3600) is not None
            assert lease.gone(owner, clock.now())
            assert lease.acquire(sf, "prune", ME, SystemClock(), lease_seconds=600) is not None
        finally:
            newcomer.kill()
            newcomer.wait(timeout=30)


def test_a_live_holder_keeps_its_lease(sf: sessionmaker[Session]) -> None:
    assert not lease.gone(f"{HOST}:1", SystemClock().now())  # init started before any lease
    assert not lease.gone(ME, None)
    assert not lease.gone("no-colon", None)
    assert not lease.gone(f"{HOST}:notapid", None)
