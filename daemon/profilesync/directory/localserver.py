"""What a local, throw-away directory server process needs, whichever server it is.

`slapd.py` and `ds389.py` each run a real server for the tests (and slapd for the quick
start): a daemon that detaches, writes a pid file, and gives no readiness signal. The
process side is the same for both — a free loopback port, "is it alive" (a zombie left
unreaped in a container is dead), stop by signal and wait, ready when a bind answers,
the settings that point at it — and lives here once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import replace
from pathlib import Path

from ldap3 import NONE, Connection, Server
from ldap3.core.exceptions import LDAPException

from profilesync.config import LdapSettings
from profilesync.errors import ProfilesyncError


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_port_pair(host: str = "127.0.0.1") -> int:
    """A port `p` such that `p` and `p + 1` are both free (ldap:// and ldaps:// side by side).

    The kernel hands out ephemeral ports in sequence, so `free_port() + 1` is often the
    port the previous server of the test session just got.
    """
    for _ in range(100):
        port = free_port(host)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port + 1))
            except OSError:
                continue
        return port
    raise OSError("no two consecutive free ports on the loopback")


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (not reaped in a container without init) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return True
    return "\nState:\tZ" not in status


def running_pid(pid_file: Path) -> int | None:
    """The PID in `pid_file` when that process runs, else None."""
    try:
        pid = int(pid_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def signal_and_wait(
    pid_file: Path,
    sig: signal.Signals,
    timeout: float,
    *,
    what: str,
    error: type[ProfilesyncError],
) -> bool:
    """Signal the process of `pid_file` and wait for it to exit; False if none ran."""
    pid = running_pid(pid_file)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            raise error(f"{what} (pid {pid}) did not stop within {timeout:.0f} s")
        time.sleep(0.02)  # waiting on another process: nothing to be notified by
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()
    return True


def listening(host: str, port: int) -> bool:
    """A plain TCP probe first: ldap3 leaks its socket when the connect itself fails."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def bind_refusal(url: str, dn: str, password: str) -> str | None:
    """None when a bind as `dn` succeeds, else why not (for the readiness loops)."""
    conn = Connection(
        Server(url, get_info=NONE, connect_timeout=1), dn, password, receive_timeout=2
    )
    try:
        if conn.bind():
            return None
        return str(conn.result.get("description"))
    except LDAPException as exc:
        return type(exc).__name__
    finally:
        with contextlib.suppress(LDAPException, OSError):
            conn.unbind()


class LocalInstance:
    """What both instance descriptions share: their dataclass fields provide these."""

    directory: Path
    host: str
    port: int
    base_dn: str
    root_dn: str
    people_ou: str
    establishments_ou: str

    @property
    def pid_file(self) -> Path:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @property
    def password_file(self) -> Path:
        return self.directory / "rootpw"

    def root_password(self) -> str:
        """The generated root password (kept in a 0600 file, never in the config)."""
        return self.password_file.read_text(encoding="utf-8").strip()

    def pid(self) -> int | None:
        """The PID of the running server, None when it is not running."""
        return running_pid(self.pid_file)

    def settings(self, base: LdapSettings | None = None) -> LdapSettings:
        """LDAP settings pointing at this instance (bind password through the file)."""
        return replace(
            base or LdapSettings(),
            url=self.url,
            base_dn=self.base_dn,
            bind_dn=self.root_dn,
            bind_password_file=str(self.password_file),
            people_ou=self.people_ou,
            establishments_ou=self.establishments_ou,
        )
