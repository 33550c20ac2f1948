"""The directory owns a password once set (SPEC §4): what the push needs to know.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

`account.password_pending` marks a password profilesync set and has not written yet; the
push writes `userPassword` only then (or when it creates the entry) and clears it with a
compare-and-set on `password_set_at`. Existing accounts start at false: their entries
were written by earlier versions, and from now on the directory owns their password.
`account.directory_password_at` records the directory's own password date.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(
            sa.Column("password_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("directory_password_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_column("directory_password_at")
        batch.drop_column("password_pending")
