"""Whether the directory answers: `status` shows an outage from its first failure on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

One row (`name = 'directory'`), written by the sync worker: `unreachable_since` is the
time of the first failure of the current outage, cleared by the next successful bind.
In the database, not in state/, because the daemons of several hosts share it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "directory_health",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("unreachable_since", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_directory_health")),
    )
    # The one row exists from the start: two writers never race to insert it.
    op.bulk_insert(table, [{"name": "directory"}])


def downgrade() -> None:
    op.drop_table("directory_health")
