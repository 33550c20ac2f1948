"""What every command shares: the `--config` option, loading settings, failing cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from profilesync import config
from profilesync.config import Settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML configuration file (default: $PROFILESYNC_CONFIG, else built-in defaults).",
        dir_okay=False,
    ),
]

# Exit codes of SPEC §10.
EXIT_OK = 0
EXIT_LINE_ERRORS = 1
EXIT_REJECTED = 2


def load_settings(path: Path | None) -> Settings:
    """Settings for a command; a broken configuration is a clean exit 2, not a traceback."""
    try:
        return config.load(path)
    except config.ConfigError as exc:
        fail(str(exc))


def fail(message: str, code: int = EXIT_REJECTED) -> NoReturn:
    """Print an error on stderr and exit: the only place library errors become exit codes."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
