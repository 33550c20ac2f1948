"""Password hashes the directory verifies itself, computed on every core, and their expiry.

A password is hashed once, at validation time, into a form the directory checks on bind:
`{ARGON2}$argon2id$v=19$m=…,t=…,p=…$salt$hash` for OpenLDAP's `argon2` module, or
`{PBKDF2-SHA512}<iterations>$<salt b64>$<hash b64>` for 389 Directory Server (its default
scheme, which it keeps byte for byte when Directory Manager writes it: operations.md §11).
The database keeps that string and the directory receives it unchanged, so the plain text
never goes further than this module. A server that does not know the scheme would take
the string for a clear password: `directory/servers.py` says which schemes each server
verifies, and the push refuses any other.

argon2id at OWASP cost is ~40 ms of CPU per hash: a file creating thousands of accounts
is bound by hashing, not by the database or LDAP. `Hasher` spreads the work over a pool
of *threads*: argon2-cffi calls libargon2 through CFFI, which releases the GIL for the
whole computation, so threads scale like processes (see `benchmarks/bench_hashing.py`)
without a process start-up, without pickling secrets into other processes and without
forking a threaded daemon.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from types import TracebackType

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from profilesync.config import PasswordSettings
from profilesync.errors import ProfilesyncError
from profilesync.secret import Secret

SCHEME = "{ARGON2}"
PBKDF2_SCHEME = "{PBKDF2-SHA512}"
_PBKDF2_SALT_BYTES = 24  # as measured against 389-ds (operations.md §11)
SCHEMES = {"argon2": SCHEME, "pbkdf2-sha512": PBKDF2_SCHEME}


def scheme_of(stored: str) -> str:
    """The `{SCHEME}` prefix of a stored value, upper-cased ("" when it has none)."""
    if stored.startswith("{") and "}" in stored:
        return stored[: stored.index("}") + 1].upper()
    return ""


def _pbkdf2(plain: str, salt: bytes, iterations: int) -> str:
    digest = hashlib.pbkdf2_hmac("sha512", plain.encode("utf-8"), salt, iterations)
    b64 = base64.b64encode
    return f"{PBKDF2_SCHEME}{iterations}${b64(salt).decode()}${b64(digest).decode()}"


def _pbkdf2_parts(stored: str) -> tuple[int, bytes, bytes] | None:
    try:
        iterations, salt, digest = stored[len(PBKDF2_SCHEME) :].split("$")
        return int(iterations), base64.b64decode(salt, validate=True), base64.b64decode(digest)
    except ValueError:
        return None


class HasherClosed(ProfilesyncError, RuntimeError):
    """A secret was submitted to a `Hasher` after it was closed."""


def _argon2(settings: PasswordSettings) -> argon2.PasswordHasher:
    return argon2.PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        hash_len=32,
        salt_len=16,
        type=argon2.Type.ID,
    )


def hash_password(secret: Secret, settings: PasswordSettings) -> str:
    """The stored form of one secret in the configured scheme, computed in this thread."""
    if settings.scheme == "pbkdf2-sha512":
        salt = secrets.token_bytes(_PBKDF2_SALT_BYTES)
        return _pbkdf2(secret.reveal(), salt, settings.pbkdf2_iterations)
    return SCHEME + _argon2(settings).hash(secret.reveal())


def verify(stored: str, plain: Secret | str) -> bool:
    """Whether `plain` matches a stored hash (either scheme); False for any malformed one."""
    text = plain.reveal() if isinstance(plain, Secret) else plain
    if stored.startswith(PBKDF2_SCHEME):
        parts = _pbkdf2_parts(stored)
        if parts is None:
            return False
        iterations, salt, _ = parts
        return hmac.compare_digest(_pbkdf2(text, salt, iterations), stored)
    if not stored.startswith(SCHEME):
        return False
    try:
        return argon2.PasswordHasher().verify(stored[len(SCHEME) :], text)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str, settings: PasswordSettings) -> bool:
    """Whether a stored hash was made with another scheme or parameters than configured."""
    if settings.scheme == "pbkdf2-sha512":
        parts = _pbkdf2_parts(stored) if stored.startswith(PBKDF2_SCHEME) else None
        return parts is None or parts[0] != settings.pbkdf2_iterations
    if not stored.startswith(SCHEME):
        return True
    try:
        return _argon2(settings).check_needs_rehash(stored[len(SCHEME) :])
    except InvalidHashError:
        return True


def is_expired(set_at: datetime, now: datetime, max_age_days: int) -> bool:
    """A password set `max_age_days` ago or more has expired; 0 or less means never.

    As with ppolicy's `pwdMaxAge: 0`, a zero age turns expiry off.
    """
    if max_age_days <= 0:
        return False
    return now - set_at >= timedelta(days=max_age_days)


def password_date(set_at: datetime, directory_at: datetime | None) -> datetime:
    """The date a password's age counts from: the later of ours and the directory's.

    SPEC §4: the directory owns a password once set, so a change the person made there
    (recorded by the push as `account.directory_password_at`) restarts the age; a reset
    profilesync decided but has not pushed yet is newer than the directory's record.
    """
    return set_at if directory_at is None else max(set_at, directory_at)


def default_workers() -> int:
    """The cores this process may run on (respects CPU affinity, e.g. systemd's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class Hasher:
    """Hashes many secrets in parallel; use as a context manager so the pool is shut down.

    `submit` lets the importer overlap hashing with database work; `hash_many` keeps the
    order of its input. With one worker everything runs in the caller's thread.
    """

    def __init__(self, settings: PasswordSettings, workers: int | None = None) -> None:
        self._hasher = _argon2(settings)
        self._settings = settings
        chosen = workers if workers is not None else settings.hash_workers
        self.workers = chosen if chosen > 0 else default_workers()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"Hasher(workers={self.workers})"

    def hash(self, secret: Secret) -> str:
        """One hash in the calling thread."""
        if self._settings.scheme == "pbkdf2-sha512":
            return hash_password(secret, self._settings)
        return SCHEME + self._hasher.hash(secret.reveal())

    def submit(self, secret: Secret) -> Future[str]:
        """The hash of `secret`, computed in the pool (already done with one worker)."""
        if self._closed:
            raise HasherClosed("this Hasher is closed")
        if self.workers == 1:
            future: Future[str] = Future()
            try:
                future.set_result(self.hash(secret))
            except Exception as exc:
                future.set_exception(exc)
            return future
        if self._pool is None:
            # Started on first use: a file without account creation costs no threads.
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="argon2")
        return self._pool.submit(self.hash, secret)

    def hash_many(self, secrets: Sequence[Secret]) -> list[str]:
        """The hashes of `secrets`, in the same order."""
        return [f.result() for f in [self.submit(s) for s in secrets]]

    def close(self, cancel_pending: bool = False) -> None:
        """Wait for the hashes in flight (or drop the pending ones) and stop the threads."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel_pending)
            self._pool = None

    def __enter__(self) -> Hasher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(cancel_pending=exc is not None)
