"""Who is talking with the mind right now, across every process that shares the store.

Each conversation in progress keeps a row in ``live_sessions`` with an expiry time. A terminal
chat holds its row while it is open and renews it every ``HEARTBEAT_EVERY``; a conversation over
HTTP renews its row at each turn, for ``OS1_PRESENCE_WINDOW`` seconds. Rows of a process that
died simply expire.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from os1.memory.db import autocommit
from os1.memory.models import Conversation
from os1.memory.tables import live_sessions

HEARTBEAT_EVERY = timedelta(seconds=20)
SESSION_TTL = timedelta(seconds=60)
#: How old a count :func:`recent` may hand out, in seconds.
RECENT_MAX_AGE = 1.0
#: A conversation touched this recently (as a fraction of its window) is not touched again.
TOUCH_EVERY = 0.25
#: Past this many remembered touches, the memory of them is cleared.
TOUCH_MEMORY = 100_000

#: When this process last renewed each conversation's row, by engine and conversation.
_touched: weakref.WeakKeyDictionary[AsyncEngine, dict[int, float]] = weakref.WeakKeyDictionary()
#: The last count per engine, with when it was made, and a count in progress.
_counts: weakref.WeakKeyDictionary[AsyncEngine, tuple[float, Presence]] = (
    weakref.WeakKeyDictionary()
)
_counting: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Future[Presence]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class Presence:
    conversations: int
    people: int

    def phrase(self) -> str:
        """ "3 conversations with 2 people", "1 conversation with 1 person"."""
        talks = "conversation" if self.conversations == 1 else "conversations"
        people = "person" if self.people == 1 else "people"
        return f"{self.conversations} {talks} with {self.people} {people}"


def counted(window_s: float) -> str:
    """What a count of conversations in progress takes in, for people reading it."""
    return f"open chats, and conversations with a turn in the last {window_s / 60:g} minutes"


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
    _changed(engine)


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
    """Mark ``conversation`` as in progress for ``ttl`` (used for turns over HTTP and
    WebSocket). A row this process renewed within the last quarter of ``ttl`` is left as it
    is: it still has most of its time, and a busy conversation costs no write per turn."""
    touched = _touched.setdefault(engine, {})
    now = time.monotonic()
    if now - touched.get(conversation.id, -1e9) < ttl.total_seconds() * TOUCH_EVERY:
        return
    if len(touched) >= TOUCH_MEMORY:
        touched.clear()
    await _renew(engine, conversation, ttl)
    touched[conversation.id] = now


async def _renew(engine: AsyncEngine, conversation: Conversation, ttl: timedelta) -> None:
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
    _changed(engine)


async def current(engine: AsyncEngine) -> Presence:
    async with autocommit(engine).connect() as conn:
        row = (
            await conn.execute(
                select(
                    func.count(func.distinct(live_sessions.c.conversation_id)),
                    func.count(func.distinct(live_sessions.c.person_id)),
                ).where(live_sessions.c.expires_at > _now())
            )
        ).one()
    return Presence(conversations=int(row[0]), people=int(row[1]))


def _changed(engine: AsyncEngine) -> None:
    """This process changed who is talking: its next count is made afresh."""
    _counts.pop(engine, None)
    _counting.pop(engine, None)


async def recent(engine: AsyncEngine, max_age: float = RECENT_MAX_AGE) -> Presence:
    """:func:`current`, as counted at most ``max_age`` seconds ago: for the prompt of every
    turn, where a count a second old does as well and thousands of turns share one query.
    Sessions this process opens or closes are seen at once; other processes' within
    ``max_age``."""
    cached = _counts.get(engine)
    if cached is not None and time.monotonic() - cached[0] <= max_age:
        return cached[1]
    counting = _counting.get(engine)
    if counting is None:
        counting = asyncio.ensure_future(current(engine))
        _counting[engine] = counting

        def done(future: asyncio.Future[Presence]) -> None:
            if _counting.get(engine) is not future:
                return  # the sessions changed while it counted: do not keep it
            del _counting[engine]
            if not future.cancelled() and future.exception() is None:
                _counts[engine] = (time.monotonic(), future.result())

        counting.add_done_callback(done)
    return await asyncio.shield(counting)
