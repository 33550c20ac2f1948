"""What every command shares: the `--config` option, the database, the error of a refusal.

Commands report nothing themselves when something fails: they raise a `ProfilesyncError`
(the library's, or `CommandRejected` for what only the command line can get wrong) and the
root group prints it (see `profilesync.cli`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from profilesync.config import Settings
from profilesync.config import load as load_config
from profilesync.errors import ProfilesyncError
from profilesync.store import admin, db

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML configuration file (default: $PROFILESYNC_CONFIG, else built-in defaults).",
        dir_okay=False,
    ),
]


class CommandRejected(ProfilesyncError):
    """The command, or the file it was given, is refused as a whole; the message says why."""


@contextmanager
def database(settings: Settings, *, create: bool = False) -> Iterator[Engine]:
    """The configured database for one command: its connections end with the command.
    Only `db upgrade` creates a SQLite file (`create`); any other command refuses a missing
    one rather than leave an empty database behind."""
    engine = db.make_engine(settings.database.url, create=create)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def sessions(settings: Settings, *, migrated: bool = True) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database; unless told otherwise, only on the schema this
    version expects, so a command never fails half-way on a missing column (the error
    names `profilesync db upgrade`)."""
    with database(settings) as engine:
        if migrated:
            db.require_current(engine)
        yield db.session_factory(engine)


@contextmanager
def transaction(config: Path | None) -> Iterator[Session]:
    """One transaction per operator command on an up-to-date schema: all of it or nothing."""
    with sessions(load_config(config)) as factory, admin.transaction(factory) as session:
        yield session
