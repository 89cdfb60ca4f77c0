"""People, conversations, turns, vectors, facts, live sessions and the full-text index.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from os1.memory.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _person_fk() -> sa.Column[int]:
    return sa.Column(
        "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("interview_done", sa.Boolean, nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer, primary_key=True),
        _person_fk(),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
    )
    op.create_index("ix_conversations_person", "conversations", ["person_id", "source", "label"])
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer, primary_key=True),
        _person_fk(),
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("speaker", sa.String(200), nullable=True),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.UniqueConstraint("person_id", "external_id", name="uq_turns_person_external"),
    )
    op.create_index("ix_turns_person_time", "turns", ["person_id", "created_at"])
    op.create_index("ix_turns_conversation", "turns", ["conversation_id", "id"])
    op.create_table(
        "turn_vectors",
        sa.Column(
            "turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_turn_vectors_person_id", "turn_vectors", ["person_id"])
    op.create_table(
        "facts",
        sa.Column("id", sa.Integer, primary_key=True),
        _person_fk(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("superseded_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_facts_person_id", "facts", ["person_id"])
    op.create_table(
        "fact_sources",
        sa.Column(
            "fact_id", sa.Integer, sa.ForeignKey("facts.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_fact_sources_turn", "fact_sources", ["turn_id"])
    op.create_table(
        "live_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        _person_fk(),
        sa.Column("conversation_id", sa.Integer, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    )
    _create_fulltext()


def _create_fulltext() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE turn_fts USING fts5("
            "content, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    elif dialect == "postgresql":
        op.execute(
            "ALTER TABLE turns ADD COLUMN search tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
        )
        op.execute("CREATE INDEX ix_turns_search ON turns USING gin (search)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS turn_fts")
    for table in (
        "live_sessions",
        "fact_sources",
        "facts",
        "turn_vectors",
        "turns",
        "conversations",
        "people",
    ):
        op.drop_table(table)
