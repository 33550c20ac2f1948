"""A référent's email address, for the notifications of issue 10.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

`referent.email`: where profilesync says a report is ready, a file is held, approved or
refused (service/mail.py). Empty for existing référents: no email until an operator gives
one with `profilesync referent add LOGIN --email ADDRESS`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referent") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referent") as batch:
        batch.drop_column("email")
