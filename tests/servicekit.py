"""Running the real daemon in subprocesses: its config, a notify socket, waiting politely."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from clikit import DEADLINE, cli_command, write_config


def daemon_config(tmp: Path, url: str, *, batch_size: int = 500, **daemon: float) -> Path:
    """A config for daemons under test: a file is stable after 0.3 s, a rescan every second."""
    return write_config(
        tmp,
        database={"url": url, "batch_size": batch_size},
        daemon={"stable_seconds": 0.3, "rescan_seconds": 1, **daemon},
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
