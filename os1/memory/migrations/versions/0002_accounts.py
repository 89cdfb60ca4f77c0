"""API tokens for people; live sessions expire at a set time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from os1.memory.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column(
            "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
        sa.Column("expires_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_tokens_person_id", "tokens", ["person_id"])
    # Live sessions are ephemeral: the table is made anew with an expiry time per row.
    op.drop_table("live_sessions")
    op.create_table(
        "live_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("conversation_id", sa.Integer, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_live_sessions_expires_at", "live_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("live_sessions")
    op.create_table(
        "live_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    )
