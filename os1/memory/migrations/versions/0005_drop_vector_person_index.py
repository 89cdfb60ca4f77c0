"""Drop the index on turn_vectors.person_id alone: (person_id, turn_id) serves every query that
used it, and with both present PostgreSQL's planner chose the narrow one for a person with many
turns and scanned all of their vectors to find a few.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_turn_vectors_person_id", table_name="turn_vectors")


def downgrade() -> None:
    op.create_index("ix_turn_vectors_person_id", "turn_vectors", ["person_id"])
