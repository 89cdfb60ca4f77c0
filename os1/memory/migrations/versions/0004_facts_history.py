"""Facts keep their history: why a fact ended and which fact replaced it; each person has a
short profile, rewritten as facts are distilled.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from os1.memory.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: a batch rebuild of `facts` on SQLite would drop the
    # table, and with foreign keys on that deletes every `fact_sources` row by cascade.
    op.add_column("facts", sa.Column("ended_reason", sa.String(16), nullable=True))
    op.add_column("facts", sa.Column("replaced_by", sa.Integer, nullable=True))
    op.add_column("people", sa.Column("profile", sa.Text, nullable=True))
    op.add_column("people", sa.Column("profile_updated_at", UTCDateTime, nullable=True))
    op.execute("UPDATE facts SET ended_reason = 'superseded' WHERE superseded_at IS NOT NULL")


def downgrade() -> None:
    op.drop_column("people", "profile_updated_at")
    op.drop_column("people", "profile")
    op.drop_column("facts", "replaced_by")
    op.drop_column("facts", "ended_reason")
