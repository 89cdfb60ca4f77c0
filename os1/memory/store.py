"""The memory store: people, conversations, turns, facts, recall and forgetting.

``MemoryStore`` is the protocol the rest of OS1 sees; ``SqlStore`` implements it over SQLAlchemy
(SQLite or PostgreSQL). Every write commits before the call returns, so a crash after
``add_turn`` never loses the turn. All reads and writes are scoped to one person id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from os1.errors import NotFoundError, StorageError, UserInputError
from os1.memory import fulltext, recall
from os1.memory.db import one_line
from os1.memory.embed import Embedder, from_blobs, to_blob
from os1.memory.models import (
    Conversation,
    Fact,
    ImportResult,
    NewTurn,
    Person,
    RecallItem,
    Relationship,
    Turn,
)
from os1.memory.relationship import relationship_from_stats
from os1.memory.tables import (
    conversations,
    fact_sources,
    facts,
    people,
    turn_vectors,
    turns,
)
from os1.memory.validation import check_person_name

log = logging.getLogger("os1.memory")


def utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryStore(Protocol):
    async def get_person(self, name: str) -> Person: ...
    async def ensure_person(self, name: str) -> Person: ...
    async def list_people(self) -> list[Person]: ...
    async def start_conversation(
        self, person: Person, source: str = "chat", label: str | None = None
    ) -> Conversation: ...
    async def add_turn(self, conversation: Conversation, turn: NewTurn) -> Turn: ...
    async def recent_turns(self, conversation: Conversation, limit: int) -> list[Turn]: ...
    async def recall(
        self, person: Person, query: str, k: int, *, exclude: Sequence[int] = ()
    ) -> list[RecallItem]: ...
    async def add_fact(
        self, person: Person, kind: str, key: str, value: str, sources: Sequence[int]
    ) -> Fact: ...
    async def list_facts(self, person: Person, *, current: bool = True) -> list[Fact]: ...
    async def set_interview_done(self, person: Person) -> None: ...
    async def relationship(self, person: Person) -> Relationship: ...
    async def import_turns(
        self, person: Person, batch: Sequence[tuple[str | None, NewTurn]]
    ) -> ImportResult: ...
    async def forget(self, person: Person, query: str | None) -> int: ...
    async def export(self, person: Person) -> dict[str, Any]: ...
    async def delete_person(self, person: Person) -> None: ...
    async def list_conversations(self, person: Person) -> list[Conversation]: ...
    async def get_conversation(self, person: Person, conversation_id: int) -> Conversation: ...
    async def conversations_by_label(
        self, person: Person, source: str, label: str
    ) -> list[Conversation]: ...
    async def turn_stats(self, conversation: Conversation) -> tuple[int, str | None]: ...
    async def drop_other_replies(self, person: Person, answer: Turn, keep: Turn) -> int: ...
    async def list_turns(self, person: Person, limit: int, offset: int = 0) -> list[Turn]: ...
    async def get_turn(self, person: Person, turn_id: int) -> Turn: ...
    async def edit_turn(self, person: Person, turn_id: int, content: str) -> Turn: ...
    async def delete_turn(self, person: Person, turn_id: int) -> None: ...


def _person(row: Any) -> Person:
    return Person(
        id=row.id, name=row.name, created_at=row.created_at, interview_done=row.interview_done
    )


def _conversation(row: Any) -> Conversation:
    return Conversation(
        id=row.id,
        person_id=row.person_id,
        started_at=row.started_at,
        source=row.source,
        label=row.label,
    )


def _turn(row: Any) -> Turn:
    return Turn(
        id=row.id,
        person_id=row.person_id,
        conversation_id=row.conversation_id,
        role=row.role,
        content=row.content,
        time=row.created_at,
        speaker=row.speaker,
        external_id=row.external_id,
    )


class SqlStore(MemoryStore):
    def __init__(self, engine: AsyncEngine, embedder: Embedder | None) -> None:
        self.engine = engine
        self.embedder = embedder

    # -- people and conversations -------------------------------------------------------
    async def get_person(self, name: str) -> Person:
        name = check_person_name(name)
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(people).where(people.c.name == name))).first()
        if row is None:
            raise NotFoundError(f"no person named {name!r} (see `os1 people`)")
        return _person(row)

    async def ensure_person(self, name: str) -> Person:
        name = check_person_name(name)
        try:
            return await self.get_person(name)
        except NotFoundError:
            pass
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(people).values(name=name, created_at=utcnow(), interview_done=False)
                )
        except IntegrityError:
            pass  # made by another process in the meantime
        return await self.get_person(name)

    async def list_people(self) -> list[Person]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(people).order_by(people.c.name))
            return [_person(r) for r in rows]

    async def start_conversation(
        self, person: Person, source: str = "chat", label: str | None = None
    ) -> Conversation:
        async with self.engine.begin() as conn:
            return await self._start_conversation(conn, person, source, label, utcnow())

    async def _start_conversation(
        self, conn: AsyncConnection, person: Person, source: str, label: str | None, when: datetime
    ) -> Conversation:
        result = await conn.execute(
            insert(conversations)
            .values(person_id=person.id, started_at=when, source=source, label=label)
            .returning(conversations)
        )
        return _conversation(result.one())

    async def set_interview_done(self, person: Person) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(people).where(people.c.id == person.id).values(interview_done=True)
            )

    async def list_conversations(self, person: Person) -> list[Conversation]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(conversations)
                .where(conversations.c.person_id == person.id)
                .order_by(conversations.c.id)
            )
            return [_conversation(r) for r in rows]

    async def get_conversation(self, person: Person, conversation_id: int) -> Conversation:
        """``person``'s conversation; NotFoundError for anyone else's, as for a missing one."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(conversations).where(
                        conversations.c.id == conversation_id,
                        conversations.c.person_id == person.id,
                    )
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        return _conversation(row)

    async def conversations_by_label(
        self, person: Person, source: str, label: str
    ) -> list[Conversation]:
        """The person's conversations with this source and label, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(conversations)
                .where(
                    conversations.c.person_id == person.id,
                    conversations.c.source == source,
                    conversations.c.label == label,
                )
                .order_by(conversations.c.id.desc())
                .limit(50)
            )
            return [_conversation(r) for r in rows]

    async def turn_stats(self, conversation: Conversation) -> tuple[int, str | None]:
        """How many user turns the conversation holds, and its first reply's text."""
        async with self.engine.connect() as conn:
            users = (
                await conn.execute(
                    select(func.count(turns.c.id)).where(
                        turns.c.conversation_id == conversation.id, turns.c.role == "user"
                    )
                )
            ).scalar_one()
            first_reply = (
                await conn.execute(
                    select(turns.c.content)
                    .where(turns.c.conversation_id == conversation.id, turns.c.role == "assistant")
                    .order_by(turns.c.id)
                    .limit(1)
                )
            ).scalar()
        return int(users), first_reply

    async def drop_other_replies(self, person: Person, answer: Turn, keep: Turn) -> int:
        """Delete the replies to the user turn ``answer`` other than ``keep`` (a client asked
        for the reply again); returns how many were deleted."""
        async with self.engine.begin() as conn:
            later_user = (
                await conn.execute(
                    select(func.min(turns.c.id)).where(
                        turns.c.conversation_id == answer.conversation_id,
                        turns.c.role == "user",
                        turns.c.id > answer.id,
                    )
                )
            ).scalar()
            query = select(turns.c.id).where(
                turns.c.conversation_id == answer.conversation_id,
                turns.c.role == "assistant",
                turns.c.id > answer.id,
                turns.c.id != keep.id,
            )
            if later_user is not None:
                query = query.where(turns.c.id < later_user)
            ids = list((await conn.execute(query)).scalars())
            if ids:
                await self._delete_turns(conn, person, ids, everything=False)
        return len(ids)

    async def delete_person(self, person: Person) -> None:
        """Delete the person and everything stored about them."""
        await self.forget(person, None)
        async with self.engine.begin() as conn:
            await conn.execute(delete(people).where(people.c.id == person.id))

    # -- turns ----------------------------------------------------------------------------
    async def add_turn(self, conversation: Conversation, turn: NewTurn) -> Turn:
        """Store one turn and commit; its embedding follows in a second short transaction."""
        try:
            async with self.engine.begin() as conn:
                stored = await self._insert_turn(conn, conversation, turn)
                await fulltext.index(conn, [(stored.id, stored.content)])
        except SQLAlchemyError as exc:
            raise StorageError(f"could not store the turn: {one_line(exc)}") from exc
        await self._embed([stored])
        return stored

    async def _insert_turn(
        self, conn: AsyncConnection, conversation: Conversation, turn: NewTurn
    ) -> Turn:
        result = await conn.execute(
            insert(turns)
            .values(
                person_id=conversation.person_id,
                conversation_id=conversation.id,
                role=turn.role,
                speaker=turn.speaker,
                content=turn.content,
                created_at=turn.time,
                external_id=turn.external_id,
            )
            .returning(turns)
        )
        return _turn(result.one())

    async def _embed(self, stored: Sequence[Turn]) -> None:
        if self.embedder is None or not stored:
            return
        vectors = await self.embedder.passages([t.content for t in stored])
        rows = [
            {
                "turn_id": t.id,
                "person_id": t.person_id,
                "model": self.embedder.name,
                "vector": to_blob(v),
            }
            for t, v in zip(stored, vectors, strict=True)
        ]
        async with self.engine.begin() as conn:
            # A turn forgotten while it was being embedded must not get a vector back.
            alive = set(
                (
                    await conn.execute(
                        select(turns.c.id).where(turns.c.id.in_([t.id for t in stored]))
                    )
                ).scalars()
            )
            rows = [r for r in rows if r["turn_id"] in alive]
            if rows:
                await conn.execute(insert(turn_vectors), rows)

    async def recent_turns(self, conversation: Conversation, limit: int) -> list[Turn]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(turns)
                .where(turns.c.conversation_id == conversation.id)
                .order_by(turns.c.id.desc())
                .limit(limit)
            )
            return [_turn(r) for r in reversed(rows.all())]

    async def list_turns(self, person: Person, limit: int, offset: int = 0) -> list[Turn]:
        """The person's turns, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(turns)
                .where(turns.c.person_id == person.id)
                .order_by(turns.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_turn(r) for r in rows]

    async def get_turn(self, person: Person, turn_id: int) -> Turn:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(turns).where(turns.c.id == turn_id, turns.c.person_id == person.id)
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no memory {turn_id}")
        return _turn(row)

    async def edit_turn(self, person: Person, turn_id: int, content: str) -> Turn:
        """Correct a turn's text; its index entry and vector follow, and facts drawn from the
        old text are dropped."""
        old = await self.get_turn(person, turn_id)
        async with self.engine.begin() as conn:
            await self._drop_derived(conn, [old.id])
            await fulltext.unindex(conn, [old.id])
            await conn.execute(update(turns).where(turns.c.id == old.id).values(content=content))
            await fulltext.index(conn, [(old.id, content)])
        edited = await self.get_turn(person, turn_id)
        await self._embed([edited])
        return edited

    async def delete_turn(self, person: Person, turn_id: int) -> None:
        turn = await self.get_turn(person, turn_id)
        async with self.engine.begin() as conn:
            ids = await self._with_replies(conn, [turn.id])
            await self._delete_turns(conn, person, ids, everything=False)
            await fulltext.compact(conn)

    # -- recall ---------------------------------------------------------------------------
    async def recall(
        self, person: Person, query: str, k: int, *, exclude: Sequence[int] = ()
    ) -> list[RecallItem]:
        """The ``k`` turns of ``person`` that best answer ``query``, best first."""
        pool = max(k * 4, 50)
        async with self.engine.connect() as conn:
            lexical = await fulltext.search(conn, person.id, query, pool)
            dense = await self._dense(conn, person, query, pool)
            candidates = {i for i, _ in lexical} | set(dense)
            candidates -= set(exclude)
            if not candidates:
                return []
            rows = await conn.execute(
                select(turns).where(
                    turns.c.person_id == person.id, turns.c.id.in_(sorted(candidates))
                )
            )
            by_id = {r.id: _turn(r) for r in rows}
        ranked = recall.rank(
            [i for i, _ in lexical if i in by_id],
            [i for i in dense if i in by_id],
            {i: t.time for i, t in by_id.items()},
            max(t.time for t in by_id.values()),
        )
        return [_item(by_id[i], score) for i, score in ranked[:k]]

    async def _dense(
        self, conn: AsyncConnection, person: Person, query: str, limit: int
    ) -> list[int]:
        if self.embedder is None or not query.strip():
            return []
        rows = (
            await conn.execute(
                select(turn_vectors.c.turn_id, turn_vectors.c.vector).where(
                    turn_vectors.c.person_id == person.id,
                    turn_vectors.c.model == self.embedder.name,
                )
            )
        ).all()
        if not rows:
            return []
        matrix = from_blobs([r.vector for r in rows], self.embedder.dim)
        scores = matrix @ await self.embedder.query(query)
        top = np.argsort(-scores)[:limit]
        return [int(rows[i].turn_id) for i in top]

    # -- facts ----------------------------------------------------------------------------
    async def add_fact(
        self, person: Person, kind: str, key: str, value: str, sources: Sequence[int]
    ) -> Fact:
        """Add a fact; an older current fact with the same kind and key is superseded."""
        now = utcnow()
        async with self.engine.begin() as conn:
            await conn.execute(
                update(facts)
                .where(
                    facts.c.person_id == person.id,
                    facts.c.kind == kind,
                    facts.c.key == key,
                    facts.c.superseded_at.is_(None),
                )
                .values(superseded_at=now)
            )
            row = (
                await conn.execute(
                    insert(facts)
                    .values(person_id=person.id, kind=kind, key=key, value=value, created_at=now)
                    .returning(facts.c.id)
                )
            ).one()
            if sources:
                await conn.execute(
                    insert(fact_sources), [{"fact_id": row.id, "turn_id": t} for t in sources]
                )
        return Fact(row.id, person.id, kind, key, value, tuple(sources), now)

    async def list_facts(self, person: Person, *, current: bool = True) -> list[Fact]:
        query = select(facts).where(facts.c.person_id == person.id).order_by(facts.c.id)
        if current:
            query = query.where(facts.c.superseded_at.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            links = await conn.execute(
                select(fact_sources).where(fact_sources.c.fact_id.in_([r.id for r in rows]))
            )
            sources: dict[int, list[int]] = {}
            for link in links:
                sources.setdefault(link.fact_id, []).append(link.turn_id)
        return [
            Fact(
                r.id,
                r.person_id,
                r.kind,
                r.key,
                r.value,
                tuple(sorted(sources.get(r.id, []))),
                r.created_at,
                r.superseded_at,
            )
            for r in rows
        ]

    # -- relationship ---------------------------------------------------------------------
    async def relationship(self, person: Person) -> Relationship:
        async with self.engine.connect() as conn:
            stats = (
                await conn.execute(
                    select(
                        func.count(turns.c.id),
                        func.min(turns.c.created_at),
                        func.max(turns.c.created_at),
                        func.count(func.distinct(turns.c.conversation_id)),
                    ).where(turns.c.person_id == person.id, turns.c.role == "user")
                )
            ).one()
            times = (
                await conn.execute(
                    select(turns.c.created_at).where(
                        turns.c.person_id == person.id, turns.c.role == "user"
                    )
                )
            ).scalars()
            days = {t.date() for t in times}
            fact_count = (
                await conn.execute(
                    select(func.count(facts.c.id)).where(
                        facts.c.person_id == person.id, facts.c.superseded_at.is_(None)
                    )
                )
            ).scalar_one()
        return relationship_from_stats(
            person.name,
            first_met=stats[1] or person.created_at,
            last_seen=stats[2],
            conversations=int(stats[3]),
            turns=int(stats[0]),
            days_active=len(days),
            facts=int(fact_count),
            now=utcnow(),
        )

    # -- import, forget, export -----------------------------------------------------------
    async def import_turns(
        self, person: Person, batch: Sequence[tuple[str | None, NewTurn]]
    ) -> ImportResult:
        """Import (session label, turn) pairs in one transaction; known ids are skipped. When
        another import of the same ids commits first, the whole batch is tried once more."""
        try:
            result, stored = await self._import_once(person, batch)
        except IntegrityError:
            result, stored = await self._import_once(person, batch)
        for start in range(0, len(stored), 64):
            await self._embed(stored[start : start + 64])
        return result

    async def _import_once(
        self, person: Person, batch: Sequence[tuple[str | None, NewTurn]]
    ) -> tuple[ImportResult, list[Turn]]:
        result = ImportResult(read=len(batch))
        async with self.engine.begin() as conn:
            known = await self._known_ids(conn, person, [t.external_id for _, t in batch])
            sessions: dict[str | None, Conversation] = {}
            stored: list[Turn] = []
            for label, turn in batch:
                if turn.external_id in known:
                    result.skipped_existing += 1
                    continue
                if turn.external_id is not None:
                    known.add(turn.external_id)
                conv = sessions.get(label) or await self._import_conversation(
                    conn, person, label, turn.time
                )
                sessions[label] = conv
                stored.append(await self._insert_turn(conn, conv, turn))
            await fulltext.index(conn, [(t.id, t.content) for t in stored])
        result.imported = len(stored)
        result.sessions = [s for s in sessions if s is not None]
        return result, stored

    async def _known_ids(
        self, conn: AsyncConnection, person: Person, ids: Sequence[str | None]
    ) -> set[str]:
        wanted = sorted({i for i in ids if i is not None})
        known: set[str] = set()
        for start in range(0, len(wanted), 500):
            rows = await conn.execute(
                select(turns.c.external_id).where(
                    turns.c.person_id == person.id,
                    turns.c.external_id.in_(wanted[start : start + 500]),
                )
            )
            known.update(r[0] for r in rows)
        return known

    async def _import_conversation(
        self, conn: AsyncConnection, person: Person, label: str | None, when: datetime
    ) -> Conversation:
        row = (
            await conn.execute(
                select(conversations).where(
                    conversations.c.person_id == person.id,
                    conversations.c.source == "import",
                    conversations.c.label == label
                    if label is not None
                    else conversations.c.label.is_(None),
                )
            )
        ).first()
        if row is not None:
            return _conversation(row)
        return await self._start_conversation(conn, person, "import", label, when)

    async def forget(self, person: Person, query: str | None) -> int:
        """Delete the person's turns that contain every word of ``query`` (all if None),
        the replies to them, their index rows, vectors and every fact drawn from them.
        Returns how many turns were deleted."""
        async with self.engine.begin() as conn:
            if query is None:
                ids = list(
                    (
                        await conn.execute(select(turns.c.id).where(turns.c.person_id == person.id))
                    ).scalars()
                )
            else:
                if not fulltext.keywords(query, keep_stopwords=True):
                    raise UserInputError("say what to forget: the query has no words in it")
                hits = await fulltext.search(conn, person.id, query, 1_000_000, match_all=True)
                ids = await self._with_replies(conn, [i for i, _ in hits])
            await self._delete_turns(conn, person, ids, everything=query is None)
        if ids:
            async with self.engine.begin() as conn:
                await fulltext.compact(conn)
        return len(ids)

    async def _delete_turns(
        self, conn: AsyncConnection, person: Person, ids: list[int], *, everything: bool
    ) -> None:
        for start in range(0, max(len(ids), 1), 500):
            chunk = ids[start : start + 500]
            await self._drop_derived(conn, chunk)
            await fulltext.unindex(conn, chunk)
            await conn.execute(delete(turns).where(turns.c.id.in_(chunk)))
        if everything:
            await conn.execute(delete(facts).where(facts.c.person_id == person.id))
            await conn.execute(delete(conversations).where(conversations.c.person_id == person.id))
            await conn.execute(
                update(people).where(people.c.id == person.id).values(interview_done=False)
            )

    async def _with_replies(self, conn: AsyncConnection, turn_ids: list[int]) -> list[int]:
        """``turn_ids`` and the reply that followed each user turn among them: a reply is drawn
        from what it answers, and may repeat it in other words."""
        found = set(turn_ids)
        rows = await conn.execute(
            select(turns.c.id, turns.c.conversation_id).where(
                turns.c.id.in_(turn_ids), turns.c.role == "user"
            )
        )
        for turn_id, conversation_id in rows.all():
            following = (
                await conn.execute(
                    select(turns.c.id, turns.c.role)
                    .where(turns.c.conversation_id == conversation_id, turns.c.id > turn_id)
                    .order_by(turns.c.id)
                    .limit(1)
                )
            ).first()
            if following is not None and following.role == "assistant":
                found.add(following.id)
        return sorted(found)

    async def _drop_derived(self, conn: AsyncConnection, turn_ids: Sequence[int]) -> None:
        """Delete the vectors of these turns and every fact drawn from them."""
        derived = select(fact_sources.c.fact_id).where(fact_sources.c.turn_id.in_(turn_ids))
        fact_ids = list((await conn.execute(derived)).scalars())
        await conn.execute(delete(fact_sources).where(fact_sources.c.fact_id.in_(fact_ids)))
        await conn.execute(delete(facts).where(facts.c.id.in_(fact_ids)))
        await conn.execute(delete(turn_vectors).where(turn_vectors.c.turn_id.in_(turn_ids)))

    async def export(self, person: Person) -> dict[str, Any]:
        from os1.memory.export import export_person

        async with self.engine.connect() as conn:
            return await export_person(conn, person, await self.relationship(person))


def _item(turn: Turn, score: float) -> RecallItem:
    return RecallItem(
        id=f"turn:{turn.id}",
        text=turn.content,
        time=turn.time,
        score=round(score, 6),
        source_ids=[turn.source_id],
        role=turn.role,
        speaker=turn.speaker,
    )
