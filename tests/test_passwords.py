"""Password hashes: the exact form OpenLDAP verifies (proved against a real slapd), the
worker pool, expiry, and no plain text anywhere it could leak."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2.exceptions import HashingError

from clikit import CHEAP_PASSWORDS
from fixtures_db import missing_backend
from profilesync.config import PasswordSettings
from profilesync.secret import Secret
from profilesync.store import passwords
from profilesync.store.passwords import Hasher, HasherClosed, hash_password, is_expired, verify

with warnings.catch_warnings():
    # ldap3 2.9.1 uses pyasn1 names deprecated since pyasn1 0.6 (harmless, not ours).
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3

B64 = "[A-Za-z0-9+/]"


def test_default_hash_has_the_openldap_argon2_form_with_owasp_parameters() -> None:
    stored = hash_password(Secret("Correct-Horse-9"), PasswordSettings())
    assert re.fullmatch(
        rf"\{{ARGON2\}}\$argon2id\$v=19\$m=19456,t=2,p=1\${B64}{{22}}\${B64}{{43}}", stored
    )


def test_configured_parameters_are_used() -> None:
    settings = PasswordSettings(argon2_time_cost=3, argon2_memory_kib=2048, argon2_parallelism=2)
    stored = hash_password(Secret("x"), settings)
    assert "$m=2048,t=3,p=2$" in stored


def test_verify_accepts_the_password_and_nothing_else() -> None:
    stored = hash_password(Secret("Été-2026-motdepasse"), CHEAP_PASSWORDS)
    assert verify(stored, Secret("Été-2026-motdepasse"))
    assert verify(stored, "Été-2026-motdepasse")
    assert not verify(stored, Secret("Ete-2026-motdepasse"))
    assert not verify(stored, "")


@pytest.mark.parametrize(
    "stored",
    ["", "{SSHA}abc", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "{ARGON2}garbage"],
)
def test_verify_is_false_for_anything_not_an_argon2_hash(stored: str) -> None:
    assert not verify(stored, "whatever")


def test_each_hash_has_its_own_salt() -> None:
    a, b = (hash_password(Secret("same"), CHEAP_PASSWORDS) for _ in range(2))
    assert a != b
    assert verify(a, "same")
    assert verify(b, "same")


def test_needs_rehash_when_the_parameters_change() -> None:
    stored = hash_password(Secret("x"), CHEAP_PASSWORDS)
    assert not passwords.needs_rehash(stored, CHEAP_PASSWORDS)
    assert passwords.needs_rehash(stored, PasswordSettings())
    assert passwords.needs_rehash("{SSHA}abc", CHEAP_PASSWORDS)


# -- the pool -----------------------------------------------------------------------------


def _argon2_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("argon2")]


def test_hash_many_keeps_the_order_of_its_input() -> None:
    secrets = [Secret(f"secret-{i}") for i in range(12)]
    with Hasher(CHEAP_PASSWORDS, workers=3) as hasher:
        hashes = hasher.hash_many(secrets)
    assert len(hashes) == 12
    for i, stored in enumerate(hashes):
        assert verify(stored, secrets[i])
        assert not verify(stored, secrets[(i + 1) % 12])


def test_pool_runs_in_worker_threads_and_stops_on_exit() -> None:
    seen: list[str] = []
    with Hasher(CHEAP_PASSWORDS, workers=2) as hasher:
        assert _argon2_threads() == []  # nothing started before the first secret
        future = hasher.submit(Secret("pool"))
        assert verify(future.result(timeout=30), "pool")
        seen = _argon2_threads()
    assert seen
    assert _argon2_threads() == []


def test_one_worker_hashes_in_the_calling_thread() -> None:
    with Hasher(CHEAP_PASSWORDS, workers=1) as hasher:
        future = hasher.submit(Secret("inline"))
        assert future.done()  # computed before submit returned: no pool at all
        assert _argon2_threads() == []
        assert verify(future.result(), "inline")


def test_worker_count_comes_from_the_settings_then_the_cores() -> None:
    assert Hasher(PasswordSettings(hash_workers=3)).workers == 3
    assert Hasher(PasswordSettings(hash_workers=0)).workers == passwords.default_workers()
    assert Hasher(PasswordSettings(hash_workers=3), workers=1).workers == 1
    assert passwords.default_workers() >= 1


def test_a_closed_hasher_refuses_work() -> None:
    hasher = Hasher(CHEAP_PASSWORDS, workers=2)
    hasher.close()
    with pytest.raises(HasherClosed):
        hasher.submit(Secret("late"))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_hash_never_shows_the_password(workers: int) -> None:
    broken = PasswordSettings(argon2_memory_kib=1)  # below argon2's minimum
    plain = "Tres-Secret-Mot-De-Passe-42"
    with Hasher(broken, workers=workers) as hasher:
        future = hasher.submit(Secret(plain))
        with pytest.raises(HashingError) as info:
            future.result(timeout=30)
    assert plain not in str(info.value)
    assert plain not in repr(info.value)
    assert plain not in repr(hasher)


def test_secret_never_prints_itself() -> None:
    plain = "Tres-Secret-Mot-De-Passe-42"
    assert plain not in repr(Secret(plain))
    assert plain not in f"{Secret(plain)}"


# -- expiry -------------------------------------------------------------------------------

SET_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "expired"),
    [
        (timedelta(0), False),
        (timedelta(days=90) - timedelta(seconds=1), False),
        (timedelta(days=90), True),
        (timedelta(days=400), True),
    ],
)
def test_password_expires_at_max_age(age: timedelta, expired: bool) -> None:
    assert is_expired(SET_AT, SET_AT + age, 90) is expired


def test_zero_max_age_means_never_expires() -> None:
    assert not is_expired(SET_AT, SET_AT + timedelta(days=10_000), 0)


# -- a real slapd with the argon2 module ----------------------------------------------------

SLAPD = Path("/usr/sbin/slapd")
SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret"


@dataclass
class Slapd:
    url: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, deadline_s: float = 30.0) -> None:
    """slapd's parent returns once the daemon is set up but before it calls listen()."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def _wait_gone(pid: int, deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        except (FileNotFoundError, IndexError):
            return
        if state == "Z":  # exited, waiting for a reaper that is not us
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """A throw-away slapd (mdb, argon2 module) on a free loopback port."""
    if not SLAPD.exists() or not Path("/usr/lib/ldap/argon2.la").exists():
        missing_backend("slapd with the argon2 module (/usr/sbin/slapd, /usr/lib/ldap)")
    base = tmp_path_factory.mktemp("slapd")
    (base / "data").mkdir()
    (base / "run").mkdir()
    conf = base / "slapd.conf"
    conf.write_text(
        "include /etc/ldap/schema/core.schema\n"
        "include /etc/ldap/schema/cosine.schema\n"
        "include /etc/ldap/schema/inetorgperson.schema\n"
        f"pidfile {base}/run/slapd.pid\n"
        f"argsfile {base}/run/slapd.args\n"
        "modulepath /usr/lib/ldap\n"
        "moduleload back_mdb\n"
        "moduleload argon2\n"
        "database mdb\n"
        "maxsize 10485760\n"
        f'suffix "{SUFFIX}"\n'
        f'rootdn "{ROOT_DN}"\n'
        f"rootpw {ROOT_PW}\n"
        f"directory {base}/data\n"
    )
    subprocess.run(["slaptest", "-Q", "-u", "-f", str(conf)], check=True)
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    subprocess.run([str(SLAPD), "-h", url + "/", "-f", str(conf)], check=True)
    pid = int((base / "run" / "slapd.pid").read_text())
    try:
        _wait_listening(port)
        with _admin(url) as conn:
            assert conn.add(SUFFIX, ["dcObject", "organization"], {"dc": "example", "o": "Ex"})
        yield Slapd(url)
    finally:
        os.kill(pid, signal.SIGINT)
        _wait_gone(pid)
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def _admin(url: str) -> Iterator[ldap3.Connection]:
    conn = ldap3.Connection(url, ROOT_DN, ROOT_PW, receive_timeout=10)
    try:
        assert conn.bind(), conn.result
        yield conn
    finally:
        conn.unbind()


def _bind(url: str, dn: str, password: str) -> tuple[bool, int]:
    conn = ldap3.Connection(url, dn, password, receive_timeout=10)
    try:
        ok = conn.bind()
        return ok, conn.result["result"]
    finally:
        conn.unbind()


def _add_person(url: str, uid: str, stored: str) -> str:
    dn = f"uid={uid},{SUFFIX}"
    with _admin(url) as conn:
        attrs = {"uid": uid, "cn": uid, "sn": uid, "userPassword": stored}
        assert conn.add(dn, ["inetOrgPerson"], attrs), conn.result
    return dn


@pytest.mark.slapd
@pytest.mark.parametrize(
    ("uid", "settings"),
    [("owasp", PasswordSettings()), ("custom", PasswordSettings(argon2_time_cost=3))],
)
def test_slapd_verifies_our_hash(slapd: Slapd, uid: str, settings: PasswordSettings) -> None:
    plain = "Mot-de-passe-été-2026"  # non-ASCII: both sides must agree on UTF-8
    dn = _add_person(slapd.url, uid, hash_password(Secret(plain), settings))
    assert _bind(slapd.url, dn, plain) == (True, 0)
    assert _bind(slapd.url, dn, plain + "x") == (False, 49)  # invalidCredentials
    assert _bind(slapd.url, dn, "mot-de-passe-été-2026") == (False, 49)


@pytest.mark.slapd
def test_ldapwhoami_binds_with_a_pooled_hash(slapd: Slapd) -> None:
    plain = "Correct-Horse-Battery-9"
    with Hasher(PasswordSettings(), workers=2) as hasher:
        stored = hasher.submit(Secret(plain)).result(timeout=60)
    dn = _add_person(slapd.url, "whoami", stored)
    ok = subprocess.run(
        ["ldapwhoami", "-x", "-H", slapd.url, "-D", dn, "-w", plain],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"dn:{dn}"
    bad = subprocess.run(
        ["ldapwhoami", "-x", "-H", slapd.url, "-D", dn, "-w", "wrong"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 49


def test_pbkdf2_sha512_is_389s_format_and_verifies() -> None:
    settings = PasswordSettings(scheme="pbkdf2-sha512", pbkdf2_iterations=1000)
    stored = hash_password(Secret("Été-2026-motdepasse"), settings)
    scheme, rest = stored.split("}", 1)
    iterations, salt, digest = rest.split("$")
    assert (scheme + "}", iterations) == ("{PBKDF2-SHA512}", "1000")
    assert len(base64.b64decode(salt)) == 24 and len(base64.b64decode(digest)) == 64
    expected = hashlib.pbkdf2_hmac(
        "sha512", "Été-2026-motdepasse".encode(), base64.b64decode(salt), 1000
    )
    assert base64.b64decode(digest) == expected
    assert verify(stored, "Été-2026-motdepasse")
    assert not verify(stored, "Ete-2026-motdepasse")
    assert not verify("{PBKDF2-SHA512}x$y", "x")
    assert not passwords.needs_rehash(stored, settings)
    assert passwords.needs_rehash(stored, PasswordSettings(scheme="pbkdf2-sha512"))
    assert passwords.needs_rehash(stored, CHEAP_PASSWORDS)
    with Hasher(settings, workers=2) as hasher:
        assert all(h.startswith("{PBKDF2-SHA512}1000$") for h in hasher.hash_many([Secret("a")]))


def test_the_age_counts_from_the_later_of_our_date_and_the_directorys() -> None:
    ours = datetime(2026, 1, 1, tzinfo=UTC)
    assert passwords.password_date(ours, None) == ours
    assert passwords.password_date(ours, ours + timedelta(days=3)) == ours + timedelta(days=3)
    assert passwords.password_date(ours, ours - timedelta(days=3)) == ours
