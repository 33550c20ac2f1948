"""Alembic environment: runs on the connection `profilesync.store.db.upgrade` hands over.

`db.upgrade` opens the transaction (and, on PostgreSQL, takes an advisory lock) itself,
so every migration of one upgrade commits or rolls back as a whole on both engines.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from profilesync.store import db
from profilesync.store.model import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise db.DatabaseError("Alembic needs a connection or sqlalchemy.url")
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise db.DatabaseError("offline (--sql) migrations are not supported")
_run_online()
