"""Who is talking with the mind right now, across every process that shares the store.

Each conversation in progress keeps a row in ``live_sessions`` with an expiry time. A terminal
chat holds its row while it is open and renews it every ``HEARTBEAT_EVERY``; a conversation over
HTTP renews its row at each turn, for ``OS1_PRESENCE_WINDOW`` seconds. Rows of a process that
died simply expire.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from os1.memory.models import Conversation
from os1.memory.tables import live_sessions

HEARTBEAT_EVERY = timedelta(seconds=20)
SESSION_TTL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Presence:
    conversations: int
    people: int


def _now() -> datetime:
    return datetime.now(UTC)


async def open_session(engine: AsyncEngine, conversation: Conversation) -> str:
    """A row held while a session is open; renew it with :func:`heartbeat`."""
    session_id = str(uuid.uuid4())
    await _insert(engine, session_id, conversation, SESSION_TTL)
    return session_id


async def _insert(
    engine: AsyncEngine, row_id: str, conversation: Conversation, ttl: timedelta
) -> None:
    now = _now()
    async with engine.begin() as conn:
        await conn.execute(delete(live_sessions).where(live_sessions.c.expires_at < now))
        await conn.execute(
            insert(live_sessions).values(
                id=row_id,
                person_id=conversation.person_id,
                conversation_id=conversation.id,
                pid=os.getpid(),
                started_at=now,
                expires_at=now + ttl,
            )
        )


async def heartbeat(engine: AsyncEngine, session_id: str, ttl: timedelta = SESSION_TTL) -> bool:
    """Push the row's expiry out; False if there was no such row."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(live_sessions)
            .where(live_sessions.c.id == session_id)
            .values(expires_at=_now() + ttl)
        )
    return bool(result.rowcount)


async def touch(engine: AsyncEngine, conversation: Conversation, ttl: timedelta) -> None:
    """Mark ``conversation`` as in progress for ``ttl`` (used for turns over HTTP)."""
    row_id = f"conversation:{conversation.id}"
    if await heartbeat(engine, row_id, ttl):
        return
    try:
        await _insert(engine, row_id, conversation, ttl)
    except IntegrityError:  # another worker made it in the meantime
        await heartbeat(engine, row_id, ttl)


async def close_session(engine: AsyncEngine, session_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(live_sessions).where(live_sessions.c.id == session_id))


async def current(engine: AsyncEngine) -> Presence:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(
                    func.count(func.distinct(live_sessions.c.conversation_id)),
                    func.count(func.distinct(live_sessions.c.person_id)),
                ).where(live_sessions.c.expires_at > _now())
            )
        ).one()
    return Presence(conversations=int(row[0]), people=int(row[1]))
