"""What every command shares: the `--config` option, loading settings, failing cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy.orm import Session, sessionmaker

from profilesync import config
from profilesync.config import Settings
from profilesync.store import db

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


@contextmanager
def sessions(settings: Settings, *, migrated: bool = True) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database, or a clean exit 2 (unreachable, or a schema
    other than the code's: the message names `profilesync db upgrade`)."""
    try:
        engine = db.make_engine(settings.database.url)
    except db.DatabaseError as exc:
        fail(str(exc))
    try:
        if migrated:
            try:
                db.require_current(engine)
            except db.DatabaseError as exc:
                fail(str(exc))
        yield db.session_factory(engine)
    finally:
        engine.dispose()
