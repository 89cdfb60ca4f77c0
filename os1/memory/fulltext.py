"""Full-text search over turns: SQLite FTS5 (BM25) or PostgreSQL tsvector, chosen by dialect.

Queries are reduced to plain word tokens before they reach either engine, so no user text is
ever parsed as query syntax.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from os1.memory.expand import expand

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

_STOPWORD_TEXT = """
a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is
it its itself just me more most my myself no nor not now of off on once only or other our
ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself
yourselves tell know remember said say says told ok okay yes yeah
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def keywords(query: str, *, keep_stopwords: bool = False, limit: int = 32) -> list[str]:
    """Lower-cased word tokens of ``query``, de-duplicated, in order."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if len(word) > 64 or (not keep_stopwords and word in STOPWORDS):
            continue
        seen.setdefault(word, None)
    return list(seen)[:limit]


async def index(conn: AsyncConnection, rows: Sequence[tuple[int, str]]) -> None:
    """Add turns to the index (PostgreSQL indexes by itself). An entry left under the same id
    by a turn that is gone (SQLite hands a deleted last turn's id out again) is replaced, never
    a reason to refuse the new turn."""
    if conn.dialect.name == "sqlite" and rows:
        await conn.execute(
            text("INSERT OR REPLACE INTO turn_fts(rowid, content) VALUES (:id, :content)"),
            [{"id": i, "content": c} for i, c in rows],
        )


async def unindex(conn: AsyncConnection, turn_ids: Sequence[int]) -> None:
    if conn.dialect.name == "sqlite" and turn_ids:
        stmt = text("DELETE FROM turn_fts WHERE rowid IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        await conn.execute(stmt, {"ids": list(turn_ids)})


async def unindex_person(conn: AsyncConnection, person_id: int) -> None:
    """Remove every turn of ``person_id`` from the index, in one statement."""
    if conn.dialect.name == "sqlite":
        await conn.execute(
            text("DELETE FROM turn_fts WHERE rowid IN (SELECT id FROM turns WHERE person_id = :p)"),
            {"p": person_id},
        )


async def compact(conn: AsyncConnection) -> None:
    """Merge the index so deleted entries are dropped from it, not only marked."""
    if conn.dialect.name == "sqlite":
        await conn.execute(text("INSERT INTO turn_fts(turn_fts) VALUES ('optimize')"))


async def search(
    conn: AsyncConnection, person_id: int, query: str, limit: int, *, match_all: bool = False
) -> list[tuple[int, float]]:
    """(turn id, score) pairs of ``person_id``'s turns, best first; higher scores are better."""
    words = keywords(query, keep_stopwords=match_all)
    if not words:
        return []
    if not match_all:
        words = expand(words)
    if conn.dialect.name == "sqlite":
        return await _search_sqlite(conn, person_id, words, limit, match_all)
    return await _search_postgres(conn, person_id, words, limit, match_all)


async def _search_sqlite(
    conn: AsyncConnection, person_id: int, words: list[str], limit: int, match_all: bool
) -> list[tuple[int, float]]:
    joiner = " AND " if match_all else " OR "
    match = joiner.join(f'"{w}"' for w in words)
    rows = await conn.execute(
        text(
            "SELECT turn_fts.rowid, -bm25(turn_fts) AS score FROM turn_fts "
            "JOIN turns ON turns.id = turn_fts.rowid "
            "WHERE turn_fts MATCH :match AND turns.person_id = :person "
            "ORDER BY bm25(turn_fts) LIMIT :limit"
        ),
        {"match": match, "person": person_id, "limit": limit},
    )
    return [(int(r[0]), float(r[1])) for r in rows]


async def _search_postgres(
    conn: AsyncConnection, person_id: int, words: list[str], limit: int, match_all: bool
) -> list[tuple[int, float]]:
    joiner = " & " if match_all else " | "
    tsquery = joiner.join(words)
    rows = await conn.execute(
        text(
            "SELECT id, ts_rank_cd(search, q) AS score "
            "FROM turns, to_tsquery('english', :q) AS q "
            "WHERE person_id = :person AND search @@ q "
            "ORDER BY score DESC, id DESC LIMIT :limit"
        ),
        {"q": tsquery, "person": person_id, "limit": limit},
    )
    return [(int(r[0]), float(r[1])) for r in rows]
