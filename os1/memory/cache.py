"""Recall indexes of the people who talk to this process, kept in memory, kept current.

An index is built from the database on first use and afterwards only reads what is new: turns
with a higher id than it has seen (one statement tells whether there are any), and the vectors of
the turns it holds without one, by id, leaving out those this process is embedding itself: the
vectors this process writes go into its cached indexes as they are written, so a conversation's
every turn does not cost a look for a vector that is not there yet. Any edit or deletion of a
person's turns bumps ``people.memory_epoch`` (in the same transaction), and an index whose epoch
is behind is rebuilt, so every worker process sharing one database sees the same memories. The
least recently used indexes are dropped when the cache outgrows its memory budget.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from os1.memory.embed import Vectors, from_blobs, parts_from_blob
from os1.memory.index import Entry, PersonIndex
from os1.memory.tables import people, turn_vectors, turns

#: What an index reads of a turn's vector row.
VECTOR_COLUMNS = (turn_vectors.c.turn_id, turn_vectors.c.vector, turn_vectors.c.parts)
#: Rows read per query while building an index.
CHUNK = 5_000
#: Turns still waiting for their vector that a refresh asks about, newest first.
MISSING_LOOKBACK = 256


#: Vectors kept per index for turns it does not hold yet (see :meth:`IndexCache.put_vectors`).
EARLY_VECTORS = 64


@dataclass(slots=True)
class _Cached:
    epoch: int
    index: PersonIndex
    #: Vectors (and their parts') written by this process for turns newer than the index
    #: holds, by turn id.
    early: dict[int, tuple[Vectors, Vectors]] = field(default_factory=dict)


class IndexCache:
    def __init__(self, dim: int, model: str | None, budget_bytes: int) -> None:
        self.dim = dim
        self.model = model
        self.budget_bytes = budget_bytes
        self._items: OrderedDict[int, _Cached] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}
        #: Each cached index's size when last measured, and their sum: recounting every index
        #: at every recall would cost as much as the recall itself with thousands cached.
        self._sizes: dict[int, int] = {}
        self._total = 0

    async def get(
        self,
        conn: AsyncConnection,
        person_id: int,
        coming: Callable[[int], bool] | None = None,
    ) -> PersonIndex:
        """The person's index, brought up to date. ``coming`` tells the turns whose vectors
        this process is making (and will put in with :meth:`put_vectors`): they are not looked
        for in the database."""
        lock = self._locks.setdefault(person_id, asyncio.Lock())
        async with lock:
            state = (await conn.execute(self._state(person_id))).one_or_none()
            epoch = int(state.epoch or 0) if state is not None else 0
            cached = self._items.get(person_id)
            new = cached is None or cached.epoch != epoch
            if cached is None or cached.epoch != epoch:
                cached = _Cached(epoch, PersonIndex(person_id, self.dim))
                self._items[person_id] = cached
            index = cached.index
            if state is not None and (state.last_turn or 0) > index.max_id:
                await self._read_turns(conn, index)
                if cached.early:
                    ids = list(cached.early)
                    early = [cached.early.pop(i) for i in ids]
                    index.set_vectors(ids, np.stack([v for v, _ in early]), [p for _, p in early])
            if self.model is not None:
                await self._load_vectors(conn, index, new, coming)
            self._items.move_to_end(person_id)
            self._measure(person_id, index)
            self._evict()
            return index

    def put_vectors(
        self, person_id: int, ids: Sequence[int], vectors: Vectors, parts: Sequence[Vectors]
    ) -> None:
        """Vectors (and each turn's parts') this process has just written, into the person's
        index if it is cached. A turn the index does not hold yet (a reply stored after the
        last recall) keeps them aside until the index reads the turn, up to
        :data:`EARLY_VECTORS` turns."""
        cached = self._items.get(person_id)
        if cached is None:
            return
        cached.index.set_vectors(ids, vectors, parts)
        for turn_id, vector, part in zip(ids, vectors, parts, strict=True):
            if turn_id > cached.index.max_id:
                cached.early[turn_id] = (vector, part)
        while len(cached.early) > EARLY_VECTORS:
            cached.early.pop(next(iter(cached.early)))

    def drop(self, person_id: int) -> None:
        self._items.pop(person_id, None)
        self._total -= self._sizes.pop(person_id, 0)

    def _measure(self, person_id: int, index: PersonIndex) -> None:
        size = index.nbytes()
        self._total += size - self._sizes.get(person_id, 0)
        self._sizes[person_id] = size

    @property
    def total_bytes(self) -> int:
        return self._total

    @staticmethod
    def _state(person_id: int) -> Select[Any]:
        """The person's epoch and newest turn id, in one statement (the newest turn is one
        step down the (person_id, id) index)."""
        last_turn = (
            select(turns.c.id)
            .where(turns.c.person_id == person_id)
            .order_by(turns.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        return select(people.c.memory_epoch.label("epoch"), last_turn.label("last_turn")).where(
            people.c.id == person_id
        )

    async def _read_turns(self, conn: AsyncConnection, index: PersonIndex) -> None:
        while True:
            rows = (
                await conn.execute(
                    select(
                        turns.c.id,
                        turns.c.conversation_id,
                        turns.c.role,
                        turns.c.speaker,
                        turns.c.created_at,
                        turns.c.content,
                    )
                    .where(turns.c.person_id == index.person_id, turns.c.id > index.max_id)
                    .order_by(turns.c.id)
                    .limit(CHUNK)
                )
            ).all()
            index.add(
                Entry(
                    r.id, r.conversation_id, r.role, r.speaker, r.created_at.timestamp(), r.content
                )
                for r in rows
            )
            if len(rows) < CHUNK:
                break

    async def _load_vectors(
        self,
        conn: AsyncConnection,
        index: PersonIndex,
        new: bool,
        coming: Callable[[int], bool] | None,
    ) -> None:
        """Vectors of the turns the index holds without one: for a ``new`` index, or when many
        are missing (an import), all of the person's from the newest it holds on; otherwise (the
        turns added since the last recall) by turn id alone. The two forms suit PostgreSQL's
        planner, which reads ``turn_id > n`` as a share of the whole table and, once it plans a
        prepared statement generically, ``person_id = $1`` as an average person's share: for a
        person with many turns, either would mean a scan of all their vectors to find a few.
        The ids come from this person's index, so they name only this person's turns."""
        assert self.model is not None
        missing = index.missing_vectors(MISSING_LOOKBACK + 1)
        if new or len(missing) > MISSING_LOOKBACK:
            newer = select(*VECTOR_COLUMNS).where(
                turn_vectors.c.person_id == index.person_id,
                turn_vectors.c.model == self.model,
                turn_vectors.c.turn_id > index.max_vector_id,
            )
            await self._read_vectors(conn, index, newer)
            missing = index.missing_vectors(MISSING_LOOKBACK)
        if coming is not None:
            missing = [turn_id for turn_id in missing if not coming(turn_id)]
        if missing:
            late = select(*VECTOR_COLUMNS).where(
                turn_vectors.c.turn_id.in_(missing), turn_vectors.c.model == self.model
            )
            await self._read_vectors(conn, index, late)

    async def _read_vectors(
        self, conn: AsyncConnection, index: PersonIndex, query: Select[Any]
    ) -> None:
        rows = (await conn.execute(query)).all()
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            index.set_vectors(
                [r.turn_id for r in chunk],
                from_blobs([r.vector for r in chunk], self.dim),
                [parts_from_blob(r.parts, self.dim) for r in chunk],
            )

    def _evict(self) -> None:
        while self._total > self.budget_bytes and len(self._items) > 1:
            person_id, _ = self._items.popitem(last=False)
            self._locks.pop(person_id, None)
            self._total -= self._sizes.pop(person_id, 0)
