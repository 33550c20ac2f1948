"""What every command shares: the `--config` option, the database, the error of a refusal.

Commands report nothing themselves when something fails: they raise a `ProfilesyncError`
(the library's, or `CommandRejected` for what only the command line can get wrong) and the
root group prints it (see `profilesync.cli`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from profilesync.config import Settings
from profilesync.config import load as load_config
from profilesync.errors import ProfilesyncError

# The store (SQLAlchemy, Alembic) is imported by the commands that use it, so that
# `--help`, `template` and `check` start without it (see tests/test_cli_start.py).
if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

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
    from profilesync.store import db  # noqa: PLC0415

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
    from profilesync.store import db  # noqa: PLC0415

    with database(settings) as engine:
        if migrated:
            db.require_current(engine)
        yield db.session_factory(engine)


@contextmanager
def transaction(config: Path | None) -> Iterator[Session]:
    """One transaction per operator command on an up-to-date schema: all of it or nothing."""
    from profilesync.store import admin  # noqa: PLC0415

    with sessions(load_config(config)) as factory, admin.transaction(factory) as session:
        yield session
