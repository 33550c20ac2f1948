"""Running the real daemon in subprocesses: a config file, a notify socket, waiting politely."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from daemonkit import cli_command

HERE = Path(__file__).resolve().parent
DEADLINE = 120.0


def write_config(tmp: Path, url: str, **extra: str) -> Path:
    """A TOML config with fast password hashing and a short stability wait."""
    sections = {
        "paths": {
            "inbox": f'"{tmp / "inbox"}"',
            "outbox": f'"{tmp / "outbox"}"',
            "state": f'"{tmp / "state"}"',
        },
        "database": {"url": f'"{url}"', "batch_size": extra.pop("batch_size", "500")},
        "passwords": {"argon2_time_cost": "1", "argon2_memory_kib": "8", "hash_workers": "1"},
        "daemon": {
            "stable_seconds": extra.pop("stable_seconds", "0.3"),
            "rescan_seconds": extra.pop("rescan_seconds", "1"),
        },
    }
    text = "".join(
        f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
        for name, values in sections.items()
    )
    path = tmp / "profilesync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def profilesync(
    config: Path, *args: str, env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli_command(), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=DEADLINE,
        check=False,
        **kw,  # type: ignore[arg-type]
    )


def start_daemon(config: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*cli_command(), "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Wait for another process to get somewhere (not a sleep for correctness)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class NotifySocket:
    """The systemd side of sd_notify: a bound AF_UNIX datagram socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(DEADLINE)
        self.received: list[str] = []

    def expect(self, message: str) -> None:
        while not any(message in m.split("\n") for m in self.received):
            self.received.append(self.sock.recv(4096).decode())

    def close(self) -> None:
        self.sock.close()
        self.path.unlink()
