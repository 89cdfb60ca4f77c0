"""Recall keeps a per-person index in memory: an epoch per person says when it must be rebuilt,
and (person, id) indexes let it read only what is new.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column("memory_epoch", sa.Integer, nullable=False, server_default=sa.text("0"))
        )
    op.create_index("ix_turns_person_id", "turns", ["person_id", "id"])
    op.create_index("ix_turn_vectors_person_turn", "turn_vectors", ["person_id", "turn_id"])


def downgrade() -> None:
    op.drop_index("ix_turn_vectors_person_turn", table_name="turn_vectors")
    op.drop_index("ix_turns_person_id", table_name="turns")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("memory_epoch")
