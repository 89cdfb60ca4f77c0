"""Who is talking with the mind right now, across every process that shares the store.

Each open conversation keeps a row in ``live_sessions`` and refreshes it while it is open; a row
whose heartbeat is older than ``STALE_AFTER`` (a process that died) no longer counts.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from os1.memory.models import Conversation
from os1.memory.tables import live_sessions

HEARTBEAT_EVERY = timedelta(seconds=20)
STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Presence:
    conversations: int
    people: int


async def open_session(engine: AsyncEngine, conversation: Conversation) -> str:
    session_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            delete(live_sessions).where(live_sessions.c.heartbeat_at < now - STALE_AFTER)
        )
        await conn.execute(
            insert(live_sessions).values(
                id=session_id,
                person_id=conversation.person_id,
                conversation_id=conversation.id,
                pid=os.getpid(),
                started_at=now,
                heartbeat_at=now,
            )
        )
    return session_id


async def heartbeat(engine: AsyncEngine, session_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(live_sessions)
            .where(live_sessions.c.id == session_id)
            .values(heartbeat_at=datetime.now(UTC))
        )


async def close_session(engine: AsyncEngine, session_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(live_sessions).where(live_sessions.c.id == session_id))


async def current(engine: AsyncEngine) -> Presence:
    fresh = live_sessions.c.heartbeat_at >= datetime.now(UTC) - STALE_AFTER
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(
                    func.count(live_sessions.c.id),
                    func.count(func.distinct(live_sessions.c.person_id)),
                ).where(fresh)
            )
        ).one()
    return Presence(conversations=int(row[0]), people=int(row[1]))
