"""The audit trail made readable (issue 11.2): who kind, and the person and place concerned.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

`audit.actor_kind` says whether a référent (a file), an operator (a command) or profilesync
itself (a job, the directory sync) made the change; `account_key`, `et`, `role` and `team`
name the account and the profile concerned, so that `profilesync audit --person/--et` is an
indexed query and `undo` finds a profile without parsing `entity_key` (a team name may
hold a `/`). Existing rows are filled from what they hold: the actor's form and the
entity key, which earlier versions wrote as `key`, `key/ET/ROLE/team`, `ET/team` or `ET`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SYSTEM_ACTORS = ("profilesync:validity", "directory-sync")


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(
            sa.Column("actor_kind", sa.String(length=10), nullable=False, server_default="system")
        )
        batch.add_column(sa.Column("account_key", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("et", sa.String(length=9), nullable=True))
        batch.add_column(sa.Column("role", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("team", sa.String(length=200), nullable=True))
        batch.create_index("ix_audit_account_key", ["account_key"])
        batch.create_index("ix_audit_et", ["et"])
        batch.create_index("ix_audit_run_id", ["run_id"])
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    audit = sa.table(
        "audit",
        sa.column("id", sa.Integer()),
        sa.column("actor", sa.String()),
        sa.column("entity", sa.String()),
        sa.column("entity_key", sa.String()),
        sa.column("actor_kind", sa.String()),
        sa.column("account_key", sa.String()),
        sa.column("et", sa.String()),
        sa.column("role", sa.String()),
        sa.column("team", sa.String()),
    )
    rows = conn.execute(sa.select(audit.c.id, audit.c.actor, audit.c.entity, audit.c.entity_key))
    updates = [{"i": r.id, **_derived(r.actor, r.entity, r.entity_key)} for r in rows]
    if updates:
        conn.execute(
            audit.update()
            .where(audit.c.id == sa.bindparam("i"))
            .values(
                actor_kind=sa.bindparam("k"),
                account_key=sa.bindparam("a"),
                et=sa.bindparam("e"),
                role=sa.bindparam("r"),
                team=sa.bindparam("t"),
            ),
            updates,
        )


def _derived(actor: str, entity: str, key: str) -> dict[str, str | None]:
    """What the columns would have held, from the actor and the entity key (best effort)."""
    if actor.startswith("operator:"):
        kind = "operator"
    elif actor in _SYSTEM_ACTORS or ":" in actor:
        kind = "system"
    else:
        kind = "referent"
    out: dict[str, str | None] = {"k": kind, "a": None, "e": None, "r": None, "t": None}
    if entity == "account":
        out["a"] = key
    elif entity == "profile":
        # key/ET/ROLE/team: the key of an account never holds a '/', a team name may.
        parts = key.split("/", 3)
        if len(parts) == 4:
            out["a"], out["e"], out["r"], out["t"] = parts[0], parts[1], parts[2], parts[3] or None
    elif entity == "team":
        et, _, team = key.partition("/")
        out["e"], out["t"] = et, team
    elif entity == "establishment":
        out["e"] = key
    return out


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_index("ix_audit_run_id")
        batch.drop_index("ix_audit_et")
        batch.drop_index("ix_audit_account_key")
        for column in ("team", "role", "et", "account_key", "actor_kind"):
            batch.drop_column(column)
