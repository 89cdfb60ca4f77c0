"""The relational schema, as SQLAlchemy Core tables.

The full-text index is dialect-specific and lives outside these tables: an FTS5 table
``turn_fts`` on SQLite, a generated ``tsvector`` column ``turns.search`` on PostgreSQL (both made
by the first migration).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("OS1 stores aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("interview_done", Boolean, nullable=False, default=False),
    #: Bumped whenever a turn is edited or deleted: in-memory recall indexes rebuild on change.
    Column("memory_epoch", Integer, nullable=False, default=0, server_default="0"),
    #: A few sentences about the person, rewritten by distillation; cleared by forgetting.
    Column("profile", Text, nullable=True),
    Column("profile_updated_at", UTCDateTime, nullable=True),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("label", String(200), nullable=True),
    Index("ix_conversations_person", "person_id", "source", "label"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("speaker", String(200), nullable=True),
    Column("content", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("external_id", String(200), nullable=True),
    UniqueConstraint("person_id", "external_id", name="uq_turns_person_external"),
    Index("ix_turns_person_time", "person_id", "created_at"),
    Index("ix_turns_conversation", "conversation_id", "id"),
    Index("ix_turns_person_id", "person_id", "id"),
)

turn_vectors = Table(
    "turn_vectors",
    metadata,
    Column("turn_id", ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", Integer, nullable=False),
    Column("model", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    #: The vectors of the turn's parts, one after the other (``embedqueue.parts``); empty when
    #: it has none, NULL when embedded before parts were (``os1 reindex`` adds them).
    Column("parts", LargeBinary, nullable=True),
    Index("ix_turn_vectors_person_turn", "person_id", "turn_id"),
)

facts = Table(
    "facts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(100), nullable=False),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    #: When the fact stopped being current, why (updated, superseded, retracted, corrected),
    #: and the fact that took its place, if any.
    Column("superseded_at", UTCDateTime, nullable=True),
    Column("ended_reason", String(16), nullable=True),
    Column("replaced_by", Integer, nullable=True),
)

fact_sources = Table(
    "fact_sources",
    metadata,
    Column("fact_id", ForeignKey("facts.id", ondelete="CASCADE"), primary_key=True),
    Column("turn_id", ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_fact_sources_turn", "turn_id"),
)

live_sessions = Table(
    "live_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    Column("conversation_id", Integer, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("label", String(100), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
)

peers = Table(
    "peers",
    metadata,
    Column("id", Integer, primary_key=True),
    #: The peer's own row in ``people``: its memory and relationship are kept like a person's.
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("url", String(500), nullable=False),
    #: The peer's Agent Card as fetched (JSON), and the token it gave us to reach it.
    Column("card", Text, nullable=True),
    Column("token", Text, nullable=True),
    #: Only allow-listed peers are answered.
    Column("allowed", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

peer_sharing = Table(
    "peer_sharing",
    metadata,
    #: What a person allowed the mind to tell a peer about them (``profile``, ``facts``).
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Column("peer_id", ForeignKey("peers.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)
