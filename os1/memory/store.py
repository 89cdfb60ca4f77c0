"""The memory store: people, conversations, turns, facts, recall and forgetting.

``MemoryStore`` is the protocol the rest of OS1 sees; ``SqlStore`` implements it over SQLAlchemy
(SQLite or PostgreSQL). Every write commits before the call returns, so a crash after
``add_turn`` never loses the turn. All reads and writes are scoped to one person id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Insert, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool

from os1.errors import NotFoundError, StorageError, UserInputError
from os1.memory import fulltext, recall
from os1.memory.cache import IndexCache
from os1.memory.db import autocommit, one_line
from os1.memory.embed import Embedder, Vectors, to_blob
from os1.memory.embedqueue import EmbedQueue, Parts, embed_turns, in_parts
from os1.memory.index import PersonIndex
from os1.memory.models import (
    Conversation,
    EndedReason,
    Fact,
    FactOp,
    ImportResult,
    NewTurn,
    Person,
    Profile,
    RecallItem,
    Relationship,
    Turn,
)
from os1.memory.neighbours import WordNeighbours, word_neighbours
from os1.memory.query import analyze, without_speakers
from os1.memory.relationship import relationship_from_stats
from os1.memory.tables import (
    conversations,
    fact_sources,
    facts,
    people,
    turn_vectors,
    turns,
)
from os1.memory.terms import words
from os1.memory.validation import (
    MAX_FACT_VALUE,
    MAX_PROFILE,
    check_fact_text,
    check_person_name,
)

#: Turns embedded together by an import.
IMPORT_EMBED_GROUP = 512

log = logging.getLogger("os1.memory")
#: Turns without a vector that one recall queues for embedding, at most.
HEAL_BATCH = 64

#: Row ids are 32-bit integers on PostgreSQL: a larger id names nothing.
MAX_ROW_ID = 2**31 - 1


#: The parts of a turn that has none.
_NO_PARTS = np.zeros((0, 1), dtype=np.float32)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _write_vector_rows(conn: AsyncConnection) -> Insert:
    """An insert of turn vectors that keeps a vector the current model already made (the first
    of two writes at once wins) and replaces one another model made (after an upgrade or a
    change of ``embedder``), or one made before turns were embedded in parts:
    ``ON CONFLICT ... DO UPDATE ... WHERE``, on both dialects."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(turn_vectors)
    new = statement.excluded
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[turn_vectors.c.turn_id],
        set_={"model": new.model, "vector": new.vector, "parts": new.parts},
        where=(turn_vectors.c.model != new.model) | turn_vectors.c.parts.is_(None),
    )
    return upsert


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
    async def get_fact(self, person: Person, fact_id: int) -> Fact: ...
    async def apply_fact_ops(
        self,
        person: Person,
        ops: Sequence[FactOp],
        *,
        profile: str | None = None,
        read_turns: Sequence[int] = (),
    ) -> list[Fact]: ...
    async def correct_fact(self, person: Person, fact_id: int, value: str) -> Fact: ...
    async def delete_fact(self, person: Person, fact_id: int) -> int: ...
    async def set_profile(self, person: Person, text: str | None) -> None: ...
    async def get_profile(self, person: Person) -> Profile | None: ...
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
    async def prompt_context(
        self, person: Person, conversation: Conversation, recent: int
    ) -> tuple[list[Turn], list[Fact], Profile | None]: ...
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
    def __init__(
        self,
        engine: AsyncEngine,
        embedder: Embedder | None,
        *,
        index_budget_bytes: int = 512 * 2**20,
        embed_share: float = 1.0,
    ) -> None:
        self.engine = engine
        #: The same pool without transactions, for reads and single-statement writes (see
        #: ``os1.memory.db.autocommit``).
        self.autocommit = autocommit(engine)
        #: A statement costs a round trip to a server: worth saving (see ``_write_vectors``).
        self._postgres = engine.dialect.name == "postgresql"
        self.embedder = embedder
        #: Embeddings of new turns, made in the background; questions go first. An in-memory
        #: SQLite database is one shared connection, which a background writer would share
        #: mid-transaction: there, turns are embedded as they are stored.
        self.embedding = (
            EmbedQueue(embedder, self._write_vectors, share=embed_share) if embedder else None
        )
        self._embed_inline = isinstance(engine.pool, StaticPool)
        self.indexes = IndexCache(
            embedder.dim if embedder else 0,
            embedder.name if embedder else None,
            index_budget_bytes,
        )

    # -- people and conversations -------------------------------------------------------
    async def get_person(self, name: str) -> Person:
        name = check_person_name(name)
        async with self.autocommit.connect() as conn:
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
        async with self.autocommit.connect() as conn:
            rows = await conn.execute(select(people).order_by(people.c.name))
            return [_person(r) for r in rows]

    async def start_conversation(
        self, person: Person, source: str = "chat", label: str | None = None
    ) -> Conversation:
        try:
            async with self.engine.begin() as conn:
                return await self._start_conversation(conn, person, source, label, utcnow())
        except IntegrityError as exc:  # the person was deleted meanwhile
            raise NotFoundError(f"no person named {person.name!r} (deleted)") from exc

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
        async with self.autocommit.connect() as conn:
            rows = await conn.execute(
                select(conversations)
                .where(conversations.c.person_id == person.id)
                .order_by(conversations.c.id)
            )
            return [_conversation(r) for r in rows]

    async def get_conversation(self, person: Person, conversation_id: int) -> Conversation:
        """``person``'s conversation; NotFoundError for anyone else's, as for a missing one."""
        async with self.autocommit.connect() as conn:
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
        async with self.autocommit.connect() as conn:
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
        async with self.autocommit.connect() as conn:
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
            # A turn stored since the forgetting goes too, with its index entry: the first
            # statement writes, so on SQLite no other turn can come in between.
            await fulltext.unindex_person(conn, person.id)
            await conn.execute(delete(people).where(people.c.id == person.id))

    # -- turns ----------------------------------------------------------------------------
    async def add_turn(self, conversation: Conversation, turn: NewTurn) -> Turn:
        """Store one turn and commit. Its embedding follows in the background (see
        ``os1.memory.embedqueue``): until then it is found by its words."""
        # PostgreSQL indexes the words by itself: there, storing a turn is one statement.
        try:
            async with (self.autocommit if self._postgres else self.engine).begin() as conn:
                stored = await self._insert_turn(conn, conversation, turn)
                await fulltext.index(conn, [(stored.id, stored.content)])
        except IntegrityError as exc:
            if not await self._conversation_exists(conversation.id):
                raise NotFoundError(
                    f"conversation {conversation.id} is gone (its person was deleted)"
                ) from exc
            raise StorageError(f"could not store the turn: {one_line(exc)}") from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"could not store the turn: {one_line(exc)}") from exc
        if self._embed_inline:
            await self._embed([stored])
        elif self.embedding is not None:
            self.embedding.submit([stored])
        return stored

    async def _conversation_exists(self, conversation_id: int) -> bool:
        async with self.autocommit.connect() as conn:
            found = select(conversations.c.id).where(conversations.c.id == conversation_id)
            return (await conn.execute(found)).first() is not None

    async def settle(self, grace: float | None = None) -> bool:
        """Wait until the turns stored so far have their embeddings (True), or ``grace`` s."""
        return await self.embedding.flush(grace) if self.embedding is not None else True

    async def close(self, grace: float | None = 30.0) -> None:
        """Finish the embeddings in hand within ``grace`` seconds; what is left is embedded by
        a later recall or by ``os1 reindex``."""
        if self.embedding is not None:
            await self.embedding.close(grace)

    async def _insert_turn(
        self, conn: AsyncConnection, conversation: Conversation, turn: NewTurn
    ) -> Turn:
        return (await self._insert_turns(conn, [(conversation, turn)]))[0]

    async def _insert_turns(
        self, conn: AsyncConnection, new: Sequence[tuple[Conversation, NewTurn]]
    ) -> list[Turn]:
        """Insert turns in a few statements (SQLAlchemy batches the rows), in order."""
        if not new:
            return []
        rows = [
            {
                "person_id": conversation.person_id,
                "conversation_id": conversation.id,
                "role": turn.role,
                "speaker": turn.speaker,
                "content": turn.content,
                "created_at": turn.time,
                "external_id": turn.external_id,
            }
            for conversation, turn in new
        ]
        result = await conn.execute(
            insert(turns).returning(turns, sort_by_parameter_order=True), rows
        )
        return [_turn(r) for r in result.all()]

    async def _embed(self, stored: Sequence[Turn]) -> None:
        """Embed turns now (imports, edits), rather than in the background."""
        if self.embedder is None or not stored:
            return
        await self._write_vectors(stored, *await embed_turns(self.embedder, stored))

    async def _write_vectors(
        self, stored: Sequence[Turn], vectors: Vectors, parts: Parts | None = None
    ) -> None:
        """Write turns' vectors and their parts' (``parts``: one array per turn; ``None`` when
        no turn has any)."""
        assert self.embedder is not None
        split = list(parts) if parts is not None else [_NO_PARTS] * len(stored)
        rows = [
            {
                "turn_id": t.id,
                "person_id": t.person_id,
                "model": self.embedder.name,
                "vector": to_blob(v),
                "parts": to_blob(p),
            }
            for t, v, p in zip(stored, vectors, split, strict=True)
        ]
        # A turn forgotten while it was being embedded must not get a vector back, and one
        # embedded twice (queued again by a recall while ``reembed`` runs, or by two workers)
        # keeps its first; a vector of another model is replaced, so recall's healing moves an
        # upgraded store to the current model a batch at a time. On PostgreSQL the foreign key
        # refuses a vector of a forgotten turn, and only then are the turns still there looked
        # up (one round trip a write instead of four, on the path of every turn). SQLite looks
        # first: it has no round trips to save, and a refused statement's rollback would undo
        # the work of others sharing an in-memory database's one connection.
        if self._postgres:
            try:
                async with self.autocommit.begin() as conn:
                    await conn.execute(_write_vector_rows(conn), rows)
            except IntegrityError:
                rows = await self._write_vectors_of_turns_still_there(rows)
        else:
            rows = await self._write_vectors_of_turns_still_there(rows)
        written = {r["turn_id"] for r in rows}
        by_person: dict[int, list[int]] = {}
        for at, turn in enumerate(stored):
            if turn.id in written:
                by_person.setdefault(turn.person_id, []).append(at)
        for person_id, ats in by_person.items():
            self.indexes.put_vectors(
                person_id, [stored[a].id for a in ats], vectors[ats], [split[a] for a in ats]
            )

    async def _write_vectors_of_turns_still_there(
        self, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Write the rows whose turns still exist, in one transaction; returns those rows.

        A turn deleted between the look and the write must not make the write fail: on SQLite
        the transaction holds the write lock from its start (``BEGIN IMMEDIATE``, see
        :mod:`os1.memory.db`), and on PostgreSQL the look locks the turns against deletion
        (``FOR KEY SHARE``, which SQLite's dialect leaves out) until the write is done."""
        ids = [r["turn_id"] for r in rows]
        still_there = select(turns.c.id).where(turns.c.id.in_(ids))
        still_there = still_there.with_for_update(read=True, key_share=True)
        async with self.engine.begin() as conn:
            alive = set((await conn.execute(still_there)).scalars())
            rows = [r for r in rows if r["turn_id"] in alive]
            if rows:
                await conn.execute(_write_vector_rows(conn), rows)
        return rows

    async def reembed(self, person: Person, *, batch: int = IMPORT_EMBED_GROUP) -> int:
        """Give every turn of ``person`` a vector from the current embedder, replacing vectors
        another model made (after the ``embedder`` setting changed), and those of long turns
        made before turns were embedded in parts. Returns how many turns were embedded; 0 when
        all were current or there is no embedder."""
        if self.embedder is None:
            return 0
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(turn_vectors).where(
                    turn_vectors.c.person_id == person.id,
                    turn_vectors.c.model != self.embedder.name,
                )
            )
            have = select(turn_vectors.c.turn_id).where(
                turn_vectors.c.person_id == person.id, turn_vectors.c.parts.is_not(None)
            )
            rows = (
                await conn.execute(
                    select(turns)
                    .where(turns.c.person_id == person.id, turns.c.id.not_in(have))
                    .order_by(turns.c.id)
                )
            ).all()
            # A vector made before parts, of a turn too short to be in parts, is the one it
            # would get now: it only needs its (empty) parts noted, not a second embedding.
            before_parts = set(
                (
                    await conn.execute(
                        select(turn_vectors.c.turn_id).where(
                            turn_vectors.c.person_id == person.id, turn_vectors.c.parts.is_(None)
                        )
                    )
                ).scalars()
            )
            whole = [r.id for r in rows if r.id in before_parts and not in_parts(r.content)]
            for start in range(0, len(whole), 500):
                await conn.execute(
                    turn_vectors.update()
                    .where(turn_vectors.c.turn_id.in_(whole[start : start + 500]))
                    .values(parts=b"")
                )
        done = set(whole)
        todo = [_turn(r) for r in rows if r.id not in done]
        for start in range(0, len(todo), batch):
            await self._embed(todo[start : start + batch])
        if todo or whole:
            async with self.engine.begin() as conn:
                await self._changed(conn, person)
        return len(todo)

    async def recent_turns(self, conversation: Conversation, limit: int) -> list[Turn]:
        async with self.autocommit.connect() as conn:
            return await self._recent(conn, conversation, limit)

    @staticmethod
    async def _recent(conn: AsyncConnection, conversation: Conversation, limit: int) -> list[Turn]:
        rows = await conn.execute(
            select(turns)
            .where(turns.c.conversation_id == conversation.id)
            .order_by(turns.c.id.desc())
            .limit(limit)
        )
        return [_turn(r) for r in reversed(rows.all())]

    async def prompt_context(
        self, person: Person, conversation: Conversation, recent: int
    ) -> tuple[list[Turn], list[Fact], Profile | None]:
        """What every prompt needs, read over one connection: the conversation's ``recent``
        last turns (oldest first), all the person's facts with their history, and the profile."""
        async with self.autocommit.connect() as conn:
            last = await self._recent(conn, conversation, recent)
            known = await self._read_facts(
                conn, select(facts).where(facts.c.person_id == person.id).order_by(facts.c.id)
            )
            profile = await self._profile(conn, person)
        return last, known, profile

    async def list_turns(self, person: Person, limit: int, offset: int = 0) -> list[Turn]:
        """The person's turns, newest first by when they were said (an imported history keeps
        its own dates, so it sorts among the rest by them, not by when it was imported)."""
        async with self.autocommit.connect() as conn:
            rows = await conn.execute(
                select(turns)
                .where(turns.c.person_id == person.id)
                .order_by(turns.c.created_at.desc(), turns.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_turn(r) for r in rows]

    async def get_turn(self, person: Person, turn_id: int) -> Turn:
        async with self.autocommit.connect() as conn:
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
            # The update first: it takes the write lock, and finds nothing to change when the
            # turn was deleted since it was read, and then nothing else is written.
            changed = await conn.execute(
                update(turns)
                .where(turns.c.id == old.id, turns.c.person_id == person.id)
                .values(content=content)
            )
            if changed.rowcount != 1:
                raise NotFoundError(f"no memory {turn_id}")
            await self._changed(conn, person)
            await self._drop_derived(conn, [old.id])
            await fulltext.unindex(conn, [old.id])
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
        """The ``k`` turns of ``person`` that best answer ``query``, best first. Only the
        person's own index is read: nothing of anyone else's can score, rank or be returned."""
        if k <= 0 or not query.strip():
            return []
        # The question is embedded (in a worker thread) while the index is brought up to date.
        vector = (
            asyncio.ensure_future(self.embedding.query(query))
            if self.embedding is not None
            else None
        )
        try:
            neighbours = await self.word_neighbours()
            async with self.autocommit.connect() as conn:
                coming = self.embedding.queued if self.embedding is not None else None
                index = await self.indexes.get(conn, person.id, coming)
                await self._heal(conn, index)
                question = await vector if vector is not None else None
                question = await self._without_names(query, index, question)
                final, base = recall.score(index, analyze(query, index, neighbours), question)
                near = self.embedder.near_duplicate if self.embedder is not None else None
                ranked = recall.top(index, final, base, k, set(exclude), near)
                if not ranked:
                    return []
                rows = await conn.execute(
                    select(turns).where(
                        turns.c.person_id == person.id, turns.c.id.in_([i for i, _ in ranked])
                    )
                )
                by_id = {r.id: _turn(r) for r in rows}
        finally:
            if vector is not None and not vector.done():
                vector.cancel()
        return [_item(by_id[i], score) for i, score in ranked if i in by_id]

    async def word_neighbours(self) -> WordNeighbours | None:
        """The embedder's word neighbours for query expansion (``os1.memory.neighbours``):
        made on a machine's first use (a few seconds), then read from the cache once per
        process and shared by every store using the same embedder."""
        return await word_neighbours(self.embedder) if self.embedder is not None else None

    async def _without_names(
        self, query: str, index: PersonIndex, question: Vectors | None
    ) -> Vectors | None:
        """The question's vector averaged with that of its words without the speakers' names
        (see ``os1.memory.query``); ``question`` itself when it names nobody, or when the
        embedder is too busy for the second vector."""
        if question is None or self.embedding is None:
            return question
        plain = without_speakers(query, index)
        if plain == query or not plain.strip():
            return question
        other = await self.embedding.query(plain)
        if other is None:
            return question
        mean = question + other
        norm = float(np.linalg.norm(mean))
        return (mean / norm).astype(np.float32) if norm else question

    async def _heal(self, conn: AsyncConnection, index: PersonIndex) -> None:
        """Queue the newest turns that have no vector (their embedding was shed under load, or
        the process stopped first), when the embedder has nothing else to do."""
        if self.embedding is None or self.embedding.pending:
            return
        missing = index.missing_vectors(HEAL_BATCH)
        if missing:
            rows = await conn.execute(select(turns).where(turns.c.id.in_(missing)))
            self.embedding.submit([_turn(r) for r in rows])

    # -- facts ----------------------------------------------------------------------------
    async def add_fact(
        self, person: Person, kind: str, key: str, value: str, sources: Sequence[int]
    ) -> Fact:
        """Add a fact; an older current fact with the same kind and key is superseded."""
        now = utcnow()
        async with self.engine.begin() as conn:
            fact = await self._insert_fact(conn, person, kind, key, value, sources, now)
            await conn.execute(
                update(facts)
                .where(
                    facts.c.person_id == person.id,
                    facts.c.kind == kind,
                    facts.c.key == key,
                    facts.c.superseded_at.is_(None),
                    facts.c.id != fact.id,
                )
                .values(superseded_at=now, ended_reason="superseded", replaced_by=fact.id)
            )
        return fact

    async def list_facts(self, person: Person, *, current: bool = True) -> list[Fact]:
        """The person's facts, oldest first: the current ones, or all with their history."""
        query = select(facts).where(facts.c.person_id == person.id).order_by(facts.c.id)
        if current:
            query = query.where(facts.c.superseded_at.is_(None))
        async with self.autocommit.connect() as conn:
            return await self._read_facts(conn, query)

    async def get_fact(self, person: Person, fact_id: int) -> Fact:
        """``person``'s fact; NotFoundError for anyone else's, as for a missing one."""
        async with self.autocommit.connect() as conn:
            return await self._fact_of(conn, person, fact_id)

    async def apply_fact_ops(
        self,
        person: Person,
        ops: Sequence[FactOp],
        *,
        profile: str | None = None,
        read_turns: Sequence[int] = (),
    ) -> list[Fact]:
        """Apply one distillation in one transaction: the ops in order, then the new profile
        (None keeps the current one, "" clears it). Returns the facts made, in order.

        Every ``fact_id`` must be a current fact of the person and every source one of the
        person's turns; ``read_turns``, the turns the distillation read, must all still be
        there (none forgotten while the model was thinking). Otherwise nothing is applied:
        NotFoundError or UserInputError."""
        now = utcnow()
        made: list[Fact] = []
        async with self.engine.begin() as conn:
            await self._check_turns(conn, person, read_turns, lock=True)
            for op in ops:
                made.extend(await self._apply_op(conn, person, op, now))
            if profile is not None and not profile.strip():
                await self._write_profile(conn, [person.id], None, None)
            elif profile is not None:
                text = check_fact_text(" ".join(profile.split()), MAX_PROFILE, "the profile")
                await self._write_profile(conn, [person.id], text, now)
        return made

    async def correct_fact(self, person: Person, fact_id: int, value: str) -> Fact:
        """The person's own correction of a current fact: a new version with ``value``; the old
        one ends as "corrected". The profile is cleared, to be written again."""
        value = check_fact_text(value, MAX_FACT_VALUE, "the fact's value")
        now = utcnow()
        async with self.engine.begin() as conn:
            old = await self._current_fact(conn, person, fact_id)
            if old.value == value:
                return old
            new = await self._insert_fact(
                conn, person, old.kind, old.key, value, old.source_turn_ids, now
            )
            await self._end_fact(conn, old.id, now, "corrected", new.id)
            await self._write_profile(conn, [person.id], None, None)
        return new

    async def delete_fact(self, person: Person, fact_id: int) -> int:
        """Delete a fact for good, with every version before and after it, and clear the
        profile. Returns how many rows (versions) were deleted."""
        async with self.engine.begin() as conn:
            await self._fact_of(conn, person, fact_id)
            chain = await self._chain(conn, person, fact_id)
            await conn.execute(delete(fact_sources).where(fact_sources.c.fact_id.in_(chain)))
            await conn.execute(
                delete(facts).where(facts.c.person_id == person.id, facts.c.id.in_(chain))
            )
            await self._write_profile(conn, [person.id], None, None)
        return len(chain)

    async def set_profile(self, person: Person, text: str | None) -> None:
        """Replace the person's profile (None clears it)."""
        if text is not None:
            text = check_fact_text(" ".join(text.split()), MAX_PROFILE, "the profile")
        async with self.engine.begin() as conn:
            await self._write_profile(conn, [person.id], text, utcnow() if text else None)

    async def get_profile(self, person: Person) -> Profile | None:
        async with self.autocommit.connect() as conn:
            return await self._profile(conn, person)

    async def _profile(self, conn: AsyncConnection, person: Person) -> Profile | None:
        row = (
            await conn.execute(
                select(people.c.profile, people.c.profile_updated_at).where(
                    people.c.id == person.id
                )
            )
        ).first()
        if row is None or row.profile is None or row.profile_updated_at is None:
            return None
        return Profile(row.profile, row.profile_updated_at)

    async def _read_facts(self, conn: AsyncConnection, query: Any) -> list[Fact]:
        rows = (await conn.execute(query)).all()
        if not rows:
            return []
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
                r.ended_reason,
                r.replaced_by,
            )
            for r in rows
        ]

    async def _fact_of(self, conn: AsyncConnection, person: Person, fact_id: int) -> Fact:
        found = (
            await self._read_facts(
                conn, select(facts).where(facts.c.id == fact_id, facts.c.person_id == person.id)
            )
            if 0 < fact_id <= MAX_ROW_ID
            else []
        )
        if not found:
            raise NotFoundError(f"no fact {fact_id}")
        return found[0]

    async def _current_fact(self, conn: AsyncConnection, person: Person, fact_id: int) -> Fact:
        fact = await self._fact_of(conn, person, fact_id)
        if not fact.current:
            newer = f"; its newer version is {fact.replaced_by}" if fact.replaced_by else ""
            raise UserInputError(
                f"fact {fact_id} is no longer current (it was {fact.ended_reason}){newer}"
            )
        return fact

    async def _insert_fact(
        self,
        conn: AsyncConnection,
        person: Person,
        kind: str,
        key: str,
        value: str,
        sources: Sequence[int],
        now: datetime,
    ) -> Fact:
        row = (
            await conn.execute(
                insert(facts)
                .values(person_id=person.id, kind=kind, key=key, value=value, created_at=now)
                .returning(facts.c.id)
            )
        ).one()
        linked = sorted(set(sources))
        if linked:
            await conn.execute(
                insert(fact_sources), [{"fact_id": row.id, "turn_id": t} for t in linked]
            )
        return Fact(row.id, person.id, kind, key, value, tuple(linked), now)

    async def _end_fact(
        self,
        conn: AsyncConnection,
        fact_id: int,
        now: datetime,
        reason: EndedReason,
        replaced_by: int | None,
    ) -> None:
        await conn.execute(
            update(facts)
            .where(facts.c.id == fact_id)
            .values(superseded_at=now, ended_reason=reason, replaced_by=replaced_by)
        )

    async def _apply_op(
        self, conn: AsyncConnection, person: Person, op: FactOp, now: datetime
    ) -> list[Fact]:
        await self._check_turns(conn, person, op.source_ids)
        if op.op == "ADD":
            same = await self._read_facts(
                conn,
                select(facts).where(
                    facts.c.person_id == person.id,
                    facts.c.kind == op.kind,
                    facts.c.key == op.key,
                    facts.c.superseded_at.is_(None),
                ),
            )
            if any(words(f.value) == words(op.value) for f in same):
                return []  # already known, perhaps in another case or punctuation
            return [
                await self._insert_fact(conn, person, op.kind, op.key, op.value, op.source_ids, now)
            ]
        if op.fact_id is None:
            raise UserInputError(f"{op.op} needs the id of the fact it changes")
        old = await self._current_fact(conn, person, op.fact_id)
        if op.op == "DELETE":
            await self._end_fact(conn, old.id, now, "retracted", None)
            return []
        # A refinement still rests on what the old version came from; a new state of the
        # world rests on the turns that tell it.
        sources = (*op.source_ids, *old.source_turn_ids) if op.op == "UPDATE" else op.source_ids
        new = await self._insert_fact(conn, person, old.kind, old.key, op.value, sources, now)
        reason: EndedReason = "updated" if op.op == "UPDATE" else "superseded"
        await self._end_fact(conn, old.id, now, reason, new.id)
        return [new]

    async def _check_turns(
        self, conn: AsyncConnection, person: Person, turn_ids: Sequence[int], *, lock: bool = False
    ) -> None:
        """NotFoundError unless every one of ``turn_ids`` is a turn of ``person``; ``lock``
        keeps them from being deleted until the transaction ends (PostgreSQL; SQLite has one
        writer at a time anyway)."""
        wanted = sorted(set(turn_ids))
        if not wanted:
            return
        query = select(turns.c.id).where(
            turns.c.person_id == person.id,
            turns.c.id.in_([t for t in wanted if 0 < t <= MAX_ROW_ID]),
        )
        if lock:
            query = query.with_for_update(key_share=True)
        found = set((await conn.execute(query)).scalars())
        missing = [t for t in wanted if t not in found]
        if missing:
            raise NotFoundError(f"no memory {missing[0]} (forgotten, or never there)")

    async def _chain(self, conn: AsyncConnection, person: Person, fact_id: int) -> set[int]:
        """The fact and every version before and after it."""
        chain = {fact_id}
        while True:
            rows = (
                await conn.execute(
                    select(facts.c.id, facts.c.replaced_by).where(
                        facts.c.person_id == person.id,
                        or_(facts.c.id.in_(chain), facts.c.replaced_by.in_(chain)),
                    )
                )
            ).all()
            found = {r.id for r in rows} | {r.replaced_by for r in rows if r.replaced_by}
            if found <= chain:
                return chain
            chain |= found

    async def _write_profile(
        self,
        conn: AsyncConnection,
        person_ids: Sequence[int],
        text: str | None,
        when: datetime | None,
    ) -> None:
        await conn.execute(
            update(people)
            .where(people.c.id.in_(person_ids))
            .values(profile=text, profile_updated_at=when)
        )

    async def _forget_facts(self, conn: AsyncConnection, fact_ids: Sequence[int]) -> None:
        """Delete these facts (drawn from forgotten turns) and clear their people's profiles.
        A version that one of them replaced now points past it to the next surviving version,
        or is current again if there is none: as if the forgotten turns were never said."""
        doomed = set(fact_ids)
        if not doomed:
            return
        rows = (
            await conn.execute(
                select(facts.c.id, facts.c.person_id, facts.c.replaced_by).where(
                    facts.c.id.in_(doomed)
                )
            )
        ).all()
        after = {r.id: r.replaced_by for r in rows}
        earlier = (
            await conn.execute(
                select(facts.c.id, facts.c.replaced_by).where(
                    facts.c.replaced_by.in_(doomed), facts.c.id.not_in(doomed)
                )
            )
        ).all()
        for fact in earlier:
            survivor, seen = fact.replaced_by, set()
            while survivor in doomed and survivor not in seen:
                seen.add(survivor)
                survivor = after.get(survivor)
            values: dict[str, Any] = (
                {"replaced_by": survivor}
                if survivor is not None and survivor not in doomed
                else {"superseded_at": None, "ended_reason": None, "replaced_by": None}
            )
            await conn.execute(update(facts).where(facts.c.id == fact.id).values(**values))
        await conn.execute(delete(fact_sources).where(fact_sources.c.fact_id.in_(doomed)))
        await conn.execute(delete(facts).where(facts.c.id.in_(doomed)))
        await self._write_profile(conn, sorted({r.person_id for r in rows}), None, None)

    async def _forget_profiles_of(self, conn: AsyncConnection, turn_ids: Sequence[int]) -> None:
        """Clear the profile of whoever said any of these turns: it may repeat them."""
        said = select(turns.c.person_id).where(turns.c.id.in_(turn_ids), turns.c.role == "user")
        await conn.execute(
            update(people)
            .where(people.c.id.in_(said), people.c.profile.is_not(None))
            .values(profile=None, profile_updated_at=None)
        )

    # -- relationship ---------------------------------------------------------------------
    async def relationship(self, person: Person) -> Relationship:
        async with self.autocommit.connect() as conn:
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
        # Large groups: the embedder sorts each group by length, so the larger the group the
        # less of each model call is padding (64 turns at a time embed about 0.7 times as fast).
        for start in range(0, len(stored), IMPORT_EMBED_GROUP):
            await self._embed(stored[start : start + IMPORT_EMBED_GROUP])
        return result

    async def _import_once(
        self, person: Person, batch: Sequence[tuple[str | None, NewTurn]]
    ) -> tuple[ImportResult, list[Turn]]:
        result = ImportResult(read=len(batch))
        async with self.engine.begin() as conn:
            known = await self._known_ids(conn, person, [t.external_id for _, t in batch])
            sessions: dict[str | None, Conversation] = {}
            fresh: list[tuple[Conversation, NewTurn]] = []
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
                fresh.append((conv, turn))
            stored = await self._insert_turns(conn, fresh)
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
        if ids or everything:
            await self._changed(conn, person)
        for start in range(0, max(len(ids), 1), 500):
            chunk = ids[start : start + 500]
            await self._drop_derived(conn, chunk)
            await fulltext.unindex(conn, chunk)
            await conn.execute(delete(turns).where(turns.c.id.in_(chunk)))
        if everything:
            await conn.execute(delete(facts).where(facts.c.person_id == person.id))
            await conn.execute(delete(conversations).where(conversations.c.person_id == person.id))
            await conn.execute(
                update(people)
                .where(people.c.id == person.id)
                .values(interview_done=False, profile=None, profile_updated_at=None)
            )

    async def _changed(self, conn: AsyncConnection, person: Person) -> None:
        """Say that turns of the person were edited or deleted: every process's recall index
        for the person is rebuilt before its next use."""
        await conn.execute(
            update(people)
            .where(people.c.id == person.id)
            .values(memory_epoch=people.c.memory_epoch + 1)
        )
        self.indexes.drop(person.id)

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
        """Delete the vectors of these turns and every fact drawn from them, and clear the
        profile of whoever said them (it is written again at the next distillation)."""
        derived = select(fact_sources.c.fact_id).where(fact_sources.c.turn_id.in_(turn_ids))
        fact_ids = list((await conn.execute(derived)).scalars())
        await self._forget_facts(conn, fact_ids)
        await self._forget_profiles_of(conn, turn_ids)
        await conn.execute(delete(turn_vectors).where(turn_vectors.c.turn_id.in_(turn_ids)))

    async def export(self, person: Person) -> dict[str, Any]:
        from os1.memory.export import export_person

        async with self.engine.connect() as conn:  # one snapshot on SQLite
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
