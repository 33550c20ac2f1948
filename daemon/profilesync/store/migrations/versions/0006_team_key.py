"""Teams are one whatever their case, accents and spaces (issue 10.4): `team.key`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

« Urgences », « urgences  » and « URGENCES » name one team of an establishment: `key` is
the name folded as `profilesync.fileformat.folding.fold_words` folds it, unique per
establishment; the name keeps the first spelling. Existing rows get their key here, with
the fold written out below so that this revision never changes meaning when the code's
fold evolves.

An establishment may already hold two teams that fold alike (created by an older
version). They are not merged (their profiles could then collide): the oldest keeps the
plain key, so lines find it; each younger one gets `<key>#<id>`, which no typed name folds
to, and is logged for the operator (docs/operations.md, « Teams »).

`audit.entity_key` grows to 400: a profile's key ends with its team's name (up to 200
characters), and a long team name made the line fail on PostgreSQL.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("profilesync.migrations")
_KEY_MAX = 200  # the column's size


def _fold_words(text: str) -> str:
    """model.team_key as of this revision: NFKD, combining marks dropped, casefold, words."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(bare.split())[:_KEY_MAX]


def upgrade() -> None:
    with op.batch_alter_table("team") as batch:
        batch.add_column(sa.Column("key", sa.String(length=_KEY_MAX), nullable=True))
    conn = op.get_bind()
    team = sa.table(
        "team",
        sa.column("id", sa.Integer),
        sa.column("establishment_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("key", sa.String),
    )
    seen: set[tuple[int, str]] = set()
    rows = conn.execute(sa.select(team.c.id, team.c.establishment_id, team.c.name).order_by("id"))
    updates = []
    for team_id, establishment_id, name in rows.all():
        key = _fold_words(name)
        if (establishment_id, key) in seen:
            log.warning(
                "team %d (establishment id %d) folds like an older team: kept apart as %s#%d",
                team_id,
                establishment_id,
                key,
                team_id,
            )
            suffix = f"#{team_id}"
            key = key[: _KEY_MAX - len(suffix)] + suffix
        seen.add((establishment_id, key))
        updates.append({"tid": team_id, "tkey": key})
    if updates:
        conn.execute(
            team.update().where(team.c.id == sa.bindparam("tid")).values(key=sa.bindparam("tkey")),
            updates,
        )
    with op.batch_alter_table("team") as batch:
        batch.alter_column("key", existing_type=sa.String(length=_KEY_MAX), nullable=False)
    op.create_index(
        "uq_team_establishment_id_key", "team", ["establishment_id", "key"], unique=True
    )

    # A profile's audit key holds its team's name (up to 200): 200 was too short for it.
    with op.batch_alter_table("audit") as batch:
        batch.alter_column(
            "entity_key", existing_type=sa.String(length=200), type_=sa.String(length=400)
        )


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.alter_column(
            "entity_key", existing_type=sa.String(length=400), type_=sa.String(length=200)
        )
    # In place on both engines (SQLite 3.35+ drops a column): recreating `team` would need
    # the foreign keys of `profile` off, which only `db.upgrade` arranges.
    op.drop_index("uq_team_establishment_id_key", table_name="team")
    op.drop_column("team", "key")
