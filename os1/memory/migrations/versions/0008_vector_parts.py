"""Turn vectors gain the vectors of the turn's parts (runs of its sentences), for long turns.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: nothing is copied, however many vectors there are.
    op.add_column("turn_vectors", sa.Column("parts", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turn_vectors") as batch:
        batch.drop_column("parts")
