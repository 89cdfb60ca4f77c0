"""The letters studio's tables, on the memory store's metadata (same database, same
migrations: revision 0006 makes them).

Every row carries ``writer_id``, the OS1 person whose studio it belongs to, and every query
filters by it: one writer's clients, letters and their history are invisible to another.
Lists (a client's phrases, an address, what a draft drew on) are stored as JSON.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from os1.memory.tables import UTCDateTime, metadata


def _writer() -> Column[int]:
    return Column("writer_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False)


def _correspondence() -> Column[int]:
    """The correspondence a row belongs to (deleted with it)."""
    return Column(
        "correspondence_id",
        ForeignKey("letter_correspondences.id", ondelete="CASCADE"),
        nullable=False,
    )


clients = Table(
    "letter_clients",
    metadata,
    Column("id", Integer, primary_key=True),
    _writer(),
    Column("name", String(64), nullable=False),
    #: A hand learned with `os1 hand learn`, or a stock hand to write in until there is one.
    Column("hand", String(64), nullable=True),
    Column("stock_hand", String(64), nullable=True),
    #: The client's own address lines: the return address on an envelope.
    Column("address", JSON, nullable=False),
    #: The client's voice: phrases they use, and words or things they never say.
    Column("phrases", JSON, nullable=False),
    Column("never_say", JSON, nullable=False),
    Column("notes", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("writer_id", "name", name="uq_letter_clients_writer_name"),
)

correspondences = Table(
    "letter_correspondences",
    metadata,
    Column("id", Integer, primary_key=True),
    _writer(),
    Column("client_id", ForeignKey("letter_clients.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("address", JSON, nullable=False),
    Column("relation", String(200), nullable=False),
    Column("notes", Text, nullable=False),
    Column("since", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("client_id", "name", name="uq_letter_correspondences_client_name"),
    Index("ix_letter_correspondences_writer", "writer_id", "client_id"),
)

occasions = Table(
    "letter_occasions",
    metadata,
    Column("id", Integer, primary_key=True),
    _writer(),
    _correspondence(),
    Column("kind", String(16), nullable=False),
    Column("label", String(200), nullable=False),
    Column("month", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    Column("year", Integer, nullable=True),
    Index("ix_letter_occasions_writer", "writer_id", "month", "day"),
)

letters = Table(
    "letters",
    metadata,
    Column("id", Integer, primary_key=True),
    _writer(),
    _correspondence(),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("approved_version", Integer, nullable=True),
    Column("sent_on", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_letters_writer", "writer_id", "correspondence_id"),
)

mentions = Table(
    "letter_mentions",
    metadata,
    Column("id", Integer, primary_key=True),
    _writer(),
    _correspondence(),
    Column("kind", String(16), nullable=False),
    Column("text", String(500), nullable=False),
    Column("letter_id", ForeignKey("letters.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_letter_mentions_writer", "writer_id", "correspondence_id"),
)

versions = Table(
    "letter_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    _writer(),
    Column("letter_id", ForeignKey("letters.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("source", String(16), nullable=False),
    #: The writer's notes a mind draft was written from.
    Column("notes", Text, nullable=True),
    #: For a mind draft: the past letters and mentions it was given (see ``DrewOn``).
    Column("drew_on", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("letter_id", "number", name="uq_letter_versions_letter_number"),
)
