"""A writer's clients, their correspondences, and each correspondence's occasions and mentions:
add, list, edit, remove. :class:`os1.letters.studio.Studio` builds letters on top.

Every query names the writer: another writer's rows answer :class:`NotFoundError`, as missing
ones do. Every change is one transaction, checked before it is written.

Lists by name are sorted here, not by the database: SQLite compares bytes and PostgreSQL follows
its locale, and a writer sees the same order on both (:func:`name_order`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from os1.errors import NotFoundError, UserInputError
from os1.letters import checks
from os1.letters.models import (
    KINDS,
    MENTION_KINDS,
    Client,
    ClientEdit,
    Correspondence,
    CorrespondenceEdit,
    Kind,
    Mention,
    MentionKind,
    Occasion,
)
from os1.letters.tables import clients, correspondences, letters, mentions, occasions
from os1.memory.models import Person


def utcnow() -> datetime:
    return datetime.now(UTC)


def name_order(name: str) -> tuple[str, str, str]:
    """Where ``name`` sorts among names, the same on every database: by its letters without
    case or accents ("Émile" beside "Emma", "anna" beside "Anna"), then with accents, then as
    written."""
    folded = name.casefold()
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch)
    )
    return plain, folded, name


def client_of(row: Any) -> Client:
    return Client(
        id=row.id,
        name=row.name,
        hand=row.hand,
        stock_hand=row.stock_hand,
        address=tuple(row.address),
        phrases=tuple(row.phrases),
        never_say=tuple(row.never_say),
        notes=row.notes,
        created_at=row.created_at,
    )


def correspondence_of(row: Any, client: str) -> Correspondence:
    return Correspondence(
        id=row.id,
        client_id=row.client_id,
        client=client,
        name=row.name,
        address=tuple(row.address),
        relation=row.relation,
        notes=row.notes,
        since=row.since,
    )


def occasion_of(row: Any) -> Occasion:
    return Occasion(
        id=row.id,
        correspondence_id=row.correspondence_id,
        kind=cast(Kind, row.kind),
        label=row.label,
        month=row.month,
        day=row.day,
        year=row.year,
    )


def mention_of(row: Any) -> Mention:
    return Mention(
        id=row.id,
        correspondence_id=row.correspondence_id,
        kind=cast(MentionKind, row.kind),
        text=row.text,
        letter_id=row.letter_id,
    )


_CORRESPONDENCE = select(correspondences, clients.c.name.label("client_name")).join(
    clients, clients.c.id == correspondences.c.client_id
)


class Records:
    """Clients, correspondences, occasions and mentions, over the store's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- clients ----------------------------------------------------------------------------
    async def add_client(
        self,
        writer: Person,
        name: str,
        *,
        hand: str | None = None,
        stock_hand: str | None = None,
        address: Sequence[str] = (),
        phrases: Sequence[str] = (),
        never_say: Sequence[str] = (),
        notes: str = "",
    ) -> Client:
        values = {
            "writer_id": writer.id,
            "name": checks.name(name, "a client's name"),
            "hand": checks.hand(hand),
            "stock_hand": checks.hand(stock_hand),
            "address": list(checks.lines(address, "an address line")),
            "phrases": list(checks.lines(phrases, "a phrase", checks.MAX_PHRASES)),
            "never_say": list(checks.lines(never_say, "what they never say", checks.MAX_PHRASES)),
            "notes": checks.notes(notes),
            "created_at": utcnow(),
        }
        with unique(f"{writer.name} already has a client named {values['name']!r}"):
            async with self.engine.begin() as conn:
                row = (await conn.execute(insert(clients).values(values).returning(clients))).one()
        return client_of(row)

    async def list_clients(self, writer: Person) -> list[Client]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(clients).where(clients.c.writer_id == writer.id))
            found = [client_of(r) for r in rows]
        return sorted(found, key=lambda c: (name_order(c.name), c.id))

    async def get_client(self, writer: Person, name: str) -> Client:
        async with self.engine.connect() as conn:
            return client_of(await self._client_row(conn, writer, name))

    async def edit_client(self, writer: Person, name: str, edit: ClientEdit) -> Client:
        values: dict[str, Any] = {}
        if edit.name is not None:
            values["name"] = checks.name(edit.name, "a client's name")
        if edit.hand is not None:
            values["hand"] = checks.hand(edit.hand)
        if edit.stock_hand is not None:
            values["stock_hand"] = checks.hand(edit.stock_hand)
        if edit.address is not None:
            values["address"] = list(checks.lines(edit.address, "an address line"))
        if edit.phrases is not None:
            values["phrases"] = list(checks.lines(edit.phrases, "a phrase", checks.MAX_PHRASES))
        if edit.never_say is not None:
            values["never_say"] = list(
                checks.lines(edit.never_say, "what they never say", checks.MAX_PHRASES)
            )
        if edit.notes is not None:
            values["notes"] = checks.notes(edit.notes)
        with unique(f"{writer.name} already has a client named {edit.name!r}"):
            async with self.engine.begin() as conn:
                row = await self._client_row(conn, writer, name)
                if values:
                    await conn.execute(update(clients).where(clients.c.id == row.id).values(values))
                fresh = (await conn.execute(select(clients).where(clients.c.id == row.id))).one()
        return client_of(fresh)

    async def remove_client(self, writer: Person, name: str) -> None:
        """Remove the client with all their correspondences, letters and versions."""
        async with self.engine.begin() as conn:
            row = await self._client_row(conn, writer, name)
            await conn.execute(delete(clients).where(clients.c.id == row.id))

    async def _client_row(self, conn: AsyncConnection, writer: Person, name: str) -> Any:
        name = checks.name(name, "a client's name")
        row = (
            await conn.execute(
                select(clients).where(clients.c.writer_id == writer.id, clients.c.name == name)
            )
        ).first()
        if row is None:
            raise NotFoundError(f"no client named {name!r} (see `os1 letters client list`)")
        return row

    # -- correspondences --------------------------------------------------------------------
    async def add_correspondence(
        self,
        writer: Person,
        client: str,
        name: str,
        *,
        address: Sequence[str] = (),
        relation: str = "",
        notes: str = "",
        since: date | None = None,
    ) -> Correspondence:
        """A correspondent of the client's: the letters between the two go here."""
        values = {
            "writer_id": writer.id,
            "name": checks.name(name, "a correspondent's name"),
            "address": list(checks.lines(address, "an address line")),
            "relation": checks.line(relation, "the relation") if relation.strip() else "",
            "notes": checks.notes(notes),
            "since": since,
            "created_at": utcnow(),
        }
        with unique(f"{client} already writes to {values['name']!r}"):
            async with self.engine.begin() as conn:
                owner = await self._client_row(conn, writer, client)
                values["client_id"] = owner.id
                result = await conn.execute(
                    insert(correspondences).values(values).returning(correspondences)
                )
                return correspondence_of(result.one(), owner.name)

    async def list_correspondences(
        self, writer: Person, client: str | None = None
    ) -> list[Correspondence]:
        """The writer's correspondences, or one client's, by client then correspondent."""
        async with self.engine.connect() as conn:
            query = _CORRESPONDENCE.where(correspondences.c.writer_id == writer.id)
            if client is not None:
                query = query.where(
                    correspondences.c.client_id == (await self._client_row(conn, writer, client)).id
                )
            rows = await conn.execute(query)
            found = [correspondence_of(r, r.client_name) for r in rows]
        return sorted(found, key=lambda c: (name_order(c.client), name_order(c.name), c.id))

    async def find_correspondence(self, writer: Person, client: str, name: str) -> Correspondence:
        """The client's correspondence with ``name``."""
        name = checks.name(name, "a correspondent's name")
        async with self.engine.connect() as conn:
            owner = await self._client_row(conn, writer, client)
            row = (
                await conn.execute(
                    _CORRESPONDENCE.where(
                        correspondences.c.client_id == owner.id, correspondences.c.name == name
                    )
                )
            ).first()
        if row is None:
            raise NotFoundError(f"{owner.name} has no correspondent named {name!r}")
        return correspondence_of(row, row.client_name)

    async def get_correspondence(self, writer: Person, correspondence_id: int) -> Correspondence:
        async with self.engine.connect() as conn:
            return await self._correspondence(conn, writer, correspondence_id)

    async def edit_correspondence(
        self, writer: Person, correspondence_id: int, edit: CorrespondenceEdit
    ) -> Correspondence:
        values: dict[str, Any] = {}
        if edit.name is not None:
            values["name"] = checks.name(edit.name, "a correspondent's name")
        if edit.address is not None:
            values["address"] = list(checks.lines(edit.address, "an address line"))
        if edit.relation is not None:
            relation = edit.relation
            values["relation"] = checks.line(relation, "the relation") if relation.strip() else ""
        if edit.notes is not None:
            values["notes"] = checks.notes(edit.notes)
        if edit.since is not None:
            values["since"] = edit.since
        with unique(f"the client already writes to {edit.name!r}"):
            async with self.engine.begin() as conn:
                found = await self._correspondence(conn, writer, correspondence_id)
                if values:
                    await conn.execute(
                        update(correspondences)
                        .where(correspondences.c.id == found.id)
                        .values(values)
                    )
                return await self._correspondence(conn, writer, found.id)

    async def remove_correspondence(self, writer: Person, correspondence_id: int) -> None:
        """Remove the correspondence with its occasions, mentions, letters and versions."""
        async with self.engine.begin() as conn:
            found = await self._correspondence(conn, writer, correspondence_id)
            await conn.execute(delete(correspondences).where(correspondences.c.id == found.id))

    async def _correspondence(
        self, conn: AsyncConnection, writer: Person, correspondence_id: int
    ) -> Correspondence:
        checks.row_id(correspondence_id, "correspondence")
        row = (
            await conn.execute(
                _CORRESPONDENCE.where(
                    correspondences.c.id == correspondence_id,
                    correspondences.c.writer_id == writer.id,
                )
            )
        ).first()
        if row is None:
            raise NotFoundError(f"no correspondence {correspondence_id}")
        return correspondence_of(row, row.client_name)

    # -- occasions --------------------------------------------------------------------------
    async def add_occasion(
        self,
        writer: Person,
        correspondence_id: int,
        kind: str,
        label: str,
        month: int,
        day: int,
        year: int | None = None,
    ) -> Occasion:
        """A date that recurs each year in the correspondence (an anniversary, a birthday)."""
        month, day, year = checks.month_day(month, day, year)
        values = {
            "writer_id": writer.id,
            "kind": checks.choice(kind, KINDS, "an occasion's kind"),
            "label": checks.line(label, "an occasion's label"),
            "month": month,
            "day": day,
            "year": year,
        }
        async with self.engine.begin() as conn:
            found = await self._correspondence(conn, writer, correspondence_id)
            values["correspondence_id"] = found.id
            row = (await conn.execute(insert(occasions).values(values).returning(occasions))).one()
        return occasion_of(row)

    async def list_occasions(self, writer: Person, correspondence_id: int) -> list[Occasion]:
        async with self.engine.connect() as conn:
            found = await self._correspondence(conn, writer, correspondence_id)
            return await self._occasions(conn, writer, found.id)

    async def _occasions(
        self, conn: AsyncConnection, writer: Person, correspondence_id: int
    ) -> list[Occasion]:
        rows = await conn.execute(
            select(occasions)
            .where(
                occasions.c.writer_id == writer.id,
                occasions.c.correspondence_id == correspondence_id,
            )
            .order_by(occasions.c.month, occasions.c.day, occasions.c.id)
        )
        return [occasion_of(r) for r in rows]

    async def remove_occasion(self, writer: Person, occasion_id: int) -> None:
        checks.row_id(occasion_id, "occasion")
        async with self.engine.begin() as conn:
            done = await conn.execute(
                delete(occasions).where(
                    occasions.c.id == occasion_id, occasions.c.writer_id == writer.id
                )
            )
            if not done.rowcount:
                raise NotFoundError(f"no occasion {occasion_id}")

    # -- mentions ---------------------------------------------------------------------------
    async def add_mention(
        self,
        writer: Person,
        correspondence_id: int,
        kind: str,
        text: str,
        letter_id: int | None = None,
    ) -> Mention:
        """A name, place or piece of shared history to remember, optionally from a letter of
        the same correspondence."""
        kind = checks.choice(kind, MENTION_KINDS, "a mention's kind")
        text = checks.line(text, "a mention", checks.MAX_MENTION)
        async with self.engine.begin() as conn:
            found = await self._correspondence(conn, writer, correspondence_id)
            if letter_id is not None:
                await self._letter_in(conn, writer, found.id, letter_id)
            return await self._insert_mention(conn, writer, found.id, kind, text, letter_id)

    async def _insert_mention(
        self,
        conn: AsyncConnection,
        writer: Person,
        correspondence_id: int,
        kind: str,
        text: str,
        letter_id: int | None,
    ) -> Mention:
        """Insert a checked mention into a correspondence already found."""
        values = {
            "writer_id": writer.id,
            "correspondence_id": correspondence_id,
            "kind": checks.choice(kind, MENTION_KINDS, "a mention's kind"),
            "text": checks.line(text, "a mention", checks.MAX_MENTION),
            "letter_id": letter_id,
            "created_at": utcnow(),
        }
        row = (await conn.execute(insert(mentions).values(values).returning(mentions))).one()
        return mention_of(row)

    async def list_mentions(self, writer: Person, correspondence_id: int) -> list[Mention]:
        async with self.engine.connect() as conn:
            found = await self._correspondence(conn, writer, correspondence_id)
            return await self._mentions(conn, writer, found.id)

    async def _mentions(
        self, conn: AsyncConnection, writer: Person, correspondence_id: int
    ) -> list[Mention]:
        rows = await conn.execute(
            select(mentions)
            .where(
                mentions.c.writer_id == writer.id,
                mentions.c.correspondence_id == correspondence_id,
            )
            .order_by(mentions.c.id)
        )
        return [mention_of(r) for r in rows]

    async def edit_mention(
        self, writer: Person, mention_id: int, text: str | None = None, kind: str | None = None
    ) -> Mention:
        """Change a mention's text or kind (one drawn from a letter as any other)."""
        checks.row_id(mention_id, "mention")
        values: dict[str, str] = {}
        if text is not None:
            values["text"] = checks.line(text, "a mention", checks.MAX_MENTION)
        if kind is not None:
            values["kind"] = checks.choice(kind, MENTION_KINDS, "a mention's kind")
        if not values:
            raise UserInputError("give the mention's new text or kind")
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(mentions)
                    .where(mentions.c.id == mention_id, mentions.c.writer_id == writer.id)
                    .values(values)
                    .returning(mentions)
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no mention {mention_id}")
        return mention_of(row)

    async def remove_mention(self, writer: Person, mention_id: int) -> None:
        checks.row_id(mention_id, "mention")
        async with self.engine.begin() as conn:
            done = await conn.execute(
                delete(mentions).where(
                    mentions.c.id == mention_id, mentions.c.writer_id == writer.id
                )
            )
            if not done.rowcount:
                raise NotFoundError(f"no mention {mention_id}")

    async def _letter_in(
        self, conn: AsyncConnection, writer: Person, correspondence_id: int, letter_id: int
    ) -> None:
        checks.row_id(letter_id, "letter")
        found = (
            await conn.execute(
                select(letters.c.id).where(
                    letters.c.id == letter_id,
                    letters.c.writer_id == writer.id,
                    letters.c.correspondence_id == correspondence_id,
                )
            )
        ).first()
        if found is None:
            raise NotFoundError(f"no letter {letter_id} in this correspondence")


@contextmanager
def unique(message: str) -> Iterator[None]:
    """Turn a clash with a unique name into one clear line for the person."""
    try:
        yield
    except IntegrityError as exc:
        raise UserInputError(message) from exc
