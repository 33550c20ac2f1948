"""Edges of store/passwords.py that mutation testing found unpinned (issue 14).

Expectations come from SPEC §4 (a password is never written in a scheme the directory does
not verify, the configured policy decides rehashing) and from what operations.md documents
of `hash_workers` (that many threads, 0 = the cores this process may run on) and of a
stopped import (hashes not started yet are dropped, nothing half-written).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from clikit import CHEAP_PASSWORDS
from profilesync.config import PasswordSettings
from profilesync.secret import Secret
from profilesync.store import passwords
from profilesync.store.passwords import Hasher, HasherClosed, needs_rehash, scheme_of

# --- the scheme a stored value declares ----------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "scheme"),
    [
        ("{argon2}$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "{ARGON2}"),
        ("{PBKDF2-SHA512}10000$c2FsdA==$ZGlnZXN0", "{PBKDF2-SHA512}"),
        ("{SSHA}abc", "{SSHA}"),
        ("{x}a}b", "{X}"),  # the first closing brace ends the scheme
        ("Correct-Horse-42", ""),  # a clear password has no scheme
        ("{unclosed", ""),
        ("x}{SSHA}", ""),  # a brace later in the value is no scheme
        ("", ""),
    ],
)
def test_the_scheme_of_a_stored_value(stored: str, scheme: str) -> None:
    assert scheme_of(stored) == scheme


# --- rehashing -----------------------------------------------------------------------------------


def _pbkdf2_value(name: str, iterations: int, salt: str, digest: bytes) -> str:
    return f"{{{name}}}{iterations}${salt}${base64.b64encode(digest).decode()}"


def test_another_pbkdf2_scheme_with_the_same_iterations_needs_rehashing() -> None:
    """389-ds's PBKDF2-SHA256 has a prefix as long as PBKDF2-SHA512's: not the configured one."""
    settings = PasswordSettings(scheme="pbkdf2-sha512", pbkdf2_iterations=1000)
    salt = b"0123456789abcdef01234567"
    digest = hashlib.pbkdf2_hmac("sha256", b"Correct-Horse-42", salt, 1000)
    stored = _pbkdf2_value("PBKDF2-SHA256", 1000, base64.b64encode(salt).decode(), digest)
    assert needs_rehash(stored, settings)


def test_a_pbkdf2_value_whose_salt_is_not_base64_needs_rehashing() -> None:
    settings = PasswordSettings(scheme="pbkdf2-sha512", pbkdf2_iterations=1000)
    stored = _pbkdf2_value("PBKDF2-SHA512", 1000, "c2Fs!dA==", b"d" * 64)
    assert needs_rehash(stored, settings)


# --- how many threads hash ----------------------------------------------------------------------


def test_hash_workers_zero_means_the_cores_this_process_may_run_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {3}, raising=False)
    assert passwords.default_workers() == 1
    assert Hasher(PasswordSettings(hash_workers=0)).workers == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    assert Hasher(PasswordSettings(hash_workers=0)).workers == 3


@pytest.mark.parametrize(("cpus", "workers"), [(None, 1), (1, 1), (3, 3)])
def test_without_cpu_affinity_the_core_count_decides(
    monkeypatch: pytest.MonkeyPatch, cpus: int | None, workers: int
) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    assert passwords.default_workers() == workers


class _Gate:
    """Hashes that block until the pool is told to stop, so that some are still queued then.

    The pool signals after it dropped (or kept) the queued hashes and before it waits for
    the running ones: what close() does with the queue is then certain, not a race.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stopping = threading.Event()
        self.threads: set[str] = set()
        self.running = threading.Semaphore(0)
        gate = self

        class Pool(ThreadPoolExecutor):
            def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
                super().shutdown(wait=False, cancel_futures=cancel_futures)
                gate.stopping.set()
                super().shutdown(wait=wait)

        monkeypatch.setattr(passwords, "ThreadPoolExecutor", Pool)

    def hash(self, secret: Secret) -> str:
        self.threads.add(threading.current_thread().name)
        self.running.release()
        assert self.stopping.wait(timeout=60)
        return "{TEST}" + secret.reveal()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Gate]:
    yield _Gate(monkeypatch)


def _submit(hasher: Hasher, gate: _Gate, n: int) -> list[Future[str]]:
    hasher.hash = gate.hash  # type: ignore[method-assign]
    return [hasher.submit(Secret(f"s{i}")) for i in range(n)]


def test_close_waits_for_every_hash_submitted(gate: _Gate) -> None:
    hasher = Hasher(CHEAP_PASSWORDS, workers=2)
    futures = _submit(hasher, gate, 6)
    hasher.close()
    assert [f.result(timeout=0) for f in futures] == [f"{{TEST}}s{i}" for i in range(6)]
    hasher.close()  # a second close (the `with` after an explicit close) is harmless


def test_leaving_the_block_normally_keeps_the_queued_hashes(gate: _Gate) -> None:
    with Hasher(CHEAP_PASSWORDS, workers=2) as hasher:
        futures = _submit(hasher, gate, 6)
    assert [f.result(timeout=0) for f in futures] == [f"{{TEST}}s{i}" for i in range(6)]


def test_an_error_in_the_block_drops_the_hashes_not_started(gate: _Gate) -> None:
    futures: list[Future[str]] = []
    with (
        pytest.raises(RuntimeError, match="import stopped"),
        Hasher(CHEAP_PASSWORDS, workers=2) as hasher,
    ):
        futures = _submit(hasher, gate, 6)
        for _ in range(2):  # both workers busy: the four others are queued
            assert gate.running.acquire(timeout=60)
        raise RuntimeError("import stopped")
    assert [f.cancelled() for f in futures] == [False, False, True, True, True, True]


def test_the_pool_has_the_configured_number_of_threads(gate: _Gate) -> None:
    with Hasher(PasswordSettings(hash_workers=2)) as hasher:
        _submit(hasher, gate, 8)
    assert len(gate.threads) == 2


def test_a_closed_hasher_says_it_is_closed() -> None:
    hasher = Hasher(CHEAP_PASSWORDS, workers=1)
    hasher.close()
    with pytest.raises(HasherClosed, match="closed"):
        hasher.submit(Secret("late"))
