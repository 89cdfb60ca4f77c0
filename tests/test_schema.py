"""The migrations build exactly the schema the code declares (memory and the letters studio),
on SQLite and on PostgreSQL: a table or column written in one place and not the other fails
here, and `alembic revision --autogenerate` would have nothing to add or drop."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import os1.letters.tables  # noqa: F401 (puts the studio's tables on the metadata)
from os1.memory.store import SqlStore
from os1.memory.tables import metadata


def _outside_the_tables(diff: Any) -> bool:
    """The full-text index is made by the first migration outside the declared tables: the FTS5
    table ``turn_fts`` (and its shadow tables) on SQLite, ``turns.search`` on PostgreSQL."""
    kind, *rest = diff
    if kind == "remove_table":
        return bool(rest[0].name.startswith("turn_fts"))
    if kind == "remove_index":
        return bool(rest[0].name == "ix_turns_search")
    if kind == "remove_column":
        return bool(rest[1] == "turns" and rest[2].name == "search")
    return False


async def test_migrations_match_the_declared_tables(any_store: SqlStore) -> None:
    async with any_store.engine.connect() as conn:
        diffs = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert [d for d in diffs if not _outside_the_tables(d)] == []
    assert {"letters", "letter_versions", "letter_clients"} <= set(metadata.tables)
