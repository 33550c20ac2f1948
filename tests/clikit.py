"""What tests of the command line share: a config file, the CLI itself, cheap hashing.

One place, so that every test reads its configuration the way an operator's `--config`
file is read, and none depends on the developer's environment: PROFILESYNC_CONFIG is
ignored unless a test sets it, and paths default to the test's own folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from typer.testing import CliRunner, Result

from profilesync.cli import app
from profilesync.config import PasswordSettings

# argon2id at its floor (one pass over 8 KiB): microseconds a hash instead of ~50 ms, in
# the `{ARGON2}` form production writes. For every test that is not about the cost.
CHEAP_ARGON2: Final = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "hash_workers": 1}
CHEAP_PASSWORDS: Final = PasswordSettings(**CHEAP_ARGON2)
DEADLINE: Final = 120.0  # seconds a CLI process may take before the test fails
# Settings attribute → TOML section, where they differ (`import` is a Python keyword).
_TOML_SECTION: Final = {"imports": "import"}

TomlValue = str | Path | bool | int | float | Sequence[str]


def write_config(tmp: Path, **sections: Mapping[str, TomlValue]) -> Path:
    """`tmp/profilesync.toml` with `sections` over the tests' defaults; its path.

    `write_config(tmp, database={"url": url}, imports={"mass_delete_min": 3})`: sections as
    Settings names them, a key given replaces only that key. Defaults: every path under
    `tmp`, CHEAP_ARGON2.
    """
    merged: dict[str, dict[str, TomlValue]] = {
        "paths": {"inbox": tmp / "inbox", "outbox": tmp / "outbox", "state": tmp / "state"},
        "passwords": dict(CHEAP_ARGON2),
    }
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    path = tmp / "profilesync.toml"
    path.write_text(
        "".join(
            f"[{_TOML_SECTION.get(name, name)}]\n"
            + "".join(f"{key} = {_toml(value)}\n" for key, value in values.items())
            for name, values in merged.items()
        ),
        encoding="utf-8",
    )
    return path


def _toml(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a JSON string is a TOML basic string
    return "[" + ", ".join(json.dumps(item) for item in value) + "]"


def run_cli(
    *args: str | Path, config: Path | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    """`profilesync ARGS [--config CONFIG]` in this process (typer's CliRunner).

    `env` is set for the call only; a None value unsets a variable.
    """
    argv = [str(a) for a in args] + (["--config", str(config)] if config is not None else [])
    return CliRunner().invoke(app, argv, env={"PROFILESYNC_CONFIG": None, **(env or {})})


def cli_command() -> list[str]:
    """How a subprocess runs `profilesync` from this tree (conftest sets PYTHONPATH)."""
    return [sys.executable, "-m", "profilesync"]


def run_process(
    *args: str | Path,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEADLINE,
) -> subprocess.CompletedProcess[str]:
    """`profilesync ARGS [--config CONFIG]` in a fresh process, as an operator runs it.

    For what only a process shows: the exit status of the real entry point, signals, a
    crash at a fault point. `env` is added to this process's environment.
    """
    argv = [str(a) for a in args] + (["--config", str(config)] if config is not None else [])
    return subprocess.run(
        [*cli_command(), *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PROFILESYNC_CONFIG": "", **(env or {})},
        timeout=timeout,
        check=False,
    )
