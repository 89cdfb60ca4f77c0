"""The letters studio: a writer's clients, their correspondences, occasions and mentions,
letters and the versions of each (see ``os1.letters.tables``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from os1.memory.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _writer() -> sa.Column[int]:
    return sa.Column(
        "writer_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
    )


def _of(table: str, column: str, ondelete: str = "CASCADE", null: bool = False) -> sa.Column[int]:
    return sa.Column(
        column, sa.Integer, sa.ForeignKey(f"{table}.id", ondelete=ondelete), nullable=null
    )


def upgrade() -> None:
    op.create_table(
        "letter_clients",
        _id(),
        _writer(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("hand", sa.String(64), nullable=True),
        sa.Column("stock_hand", sa.String(64), nullable=True),
        sa.Column("address", sa.JSON, nullable=False),
        sa.Column("phrases", sa.JSON, nullable=False),
        sa.Column("never_say", sa.JSON, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("writer_id", "name", name="uq_letter_clients_writer_name"),
    )
    op.create_table(
        "letter_correspondences",
        _id(),
        _writer(),
        _of("letter_clients", "client_id"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("address", sa.JSON, nullable=False),
        sa.Column("relation", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("since", sa.Date, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("client_id", "name", name="uq_letter_correspondences_client_name"),
    )
    op.create_index(
        "ix_letter_correspondences_writer", "letter_correspondences", ["writer_id", "client_id"]
    )
    op.create_table(
        "letter_occasions",
        _id(),
        _writer(),
        _of("letter_correspondences", "correspondence_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("month", sa.Integer, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("year", sa.Integer, nullable=True),
    )
    op.create_index("ix_letter_occasions_writer", "letter_occasions", ["writer_id", "month", "day"])
    op.create_table(
        "letters",
        _id(),
        _writer(),
        _of("letter_correspondences", "correspondence_id"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approved_version", sa.Integer, nullable=True),
        sa.Column("sent_on", sa.Date, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_letters_writer", "letters", ["writer_id", "correspondence_id"])
    op.create_table(
        "letter_mentions",
        _id(),
        _writer(),
        _of("letter_correspondences", "correspondence_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        _of("letters", "letter_id", ondelete="SET NULL", null=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_letter_mentions_writer", "letter_mentions", ["writer_id", "correspondence_id"]
    )
    op.create_table(
        "letter_versions",
        _id(),
        _writer(),
        _of("letters", "letter_id"),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("drew_on", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("letter_id", "number", name="uq_letter_versions_letter_number"),
    )


def downgrade() -> None:
    for table in (
        "letter_versions",
        "letter_mentions",
        "letters",
        "letter_occasions",
        "letter_correspondences",
        "letter_clients",
    ):
        op.drop_table(table)
