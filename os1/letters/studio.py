"""The letters studio as a service: letters in versions, drafted by the writer or the mind,
compared, approved and sent; upcoming occasions; letters handed to paper.

A letter's versions are kept, numbered from 1. The writer's own text (typed or dictated) and a
mind draft go through the same path and differ only in their ``source``; a mind draft also keeps
the notes it was written from and what it drew on. Approving picks one version; a letter is sent
once approved, and a sent letter's text no longer changes. Every method takes the writer and
reads nothing of anyone else's studio.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from os1.errors import LLMError, NotFoundError, UserInputError
from os1.letters import checks
from os1.letters import draft as drafting
from os1.letters import mentions as mentions_in
from os1.letters.models import (
    SOURCES,
    DrewOn,
    Letter,
    LetterDoc,
    Mention,
    Source,
    Status,
    Upcoming,
    Version,
)
from os1.letters.occasions import next_date, years_since
from os1.letters.records import Records, client_of, name_order, occasion_of, utcnow
from os1.letters.tables import clients, correspondences, letters, occasions, versions
from os1.memory.models import Person
from os1.mind.llm import LLM

STATUSES: tuple[Status, ...] = ("draft", "approved", "sent")


def addressed(name: str, address: Sequence[str]) -> tuple[str, ...]:
    """The lines of an envelope's address: the name, then the address, unless the address's
    first line names the person already ("Loretta Day" for Loretta)."""
    first = address[0].casefold().split() if address else []
    if first[: len(name.split())] == name.casefold().split():
        return tuple(address)
    return (name, *address)


def letter_of(row: Any) -> Letter:
    return Letter(
        id=row.id,
        correspondence_id=row.correspondence_id,
        title=row.title,
        status=cast(Status, row.status),
        approved_version=row.approved_version,
        sent_on=row.sent_on,
        created_at=row.created_at,
    )


def version_of(row: Any) -> Version:
    used = row.drew_on or {}
    return Version(
        letter_id=row.letter_id,
        number=row.number,
        text=row.text,
        source=cast(Source, row.source),
        notes=row.notes,
        drew_on=DrewOn(
            letters=tuple(used.get("letters", ())),
            mentions=tuple(used.get("mentions", ())),
            occasions=tuple(used.get("occasions", ())),
        ),
        created_at=row.created_at,
    )


def _sendable(row: Any) -> Any:
    """The letter's row, if it is approved and not sent yet."""
    if row.status == "draft":
        raise UserInputError(f"letter {row.id} is not approved yet: approve a version")
    if row.status == "sent":
        raise UserInputError(f"letter {row.id} was already sent on {row.sent_on}")
    return row


def _drew_on_json(used: DrewOn) -> dict[str, list[int]]:
    return {
        "letters": list(used.letters),
        "mentions": list(used.mentions),
        "occasions": list(used.occasions),
    }


class Studio(Records):
    """The writer's studio over the store's engine (``SqlStore.engine``)."""

    # -- letters ----------------------------------------------------------------------------
    async def new_letter(
        self,
        writer: Person,
        correspondence_id: int,
        title: str,
        text: str,
        source: str = "writer",
    ) -> tuple[Letter, Version]:
        """A letter with its first version, the writer's own text (typed or dictated)."""
        title = checks.line(title, "the title")
        source = self._own_source(source)
        text = checks.text(text)
        async with self.engine.begin() as conn:
            await self._correspondence(conn, writer, correspondence_id)
            letter = await self._insert_letter(conn, writer, correspondence_id, title)
            first = await self._insert_version(conn, writer, letter.id, text, source)
        return letter, first

    async def draft_letter(
        self, writer: Person, correspondence_id: int, title: str, notes: str, llm: LLM | None
    ) -> tuple[Letter, Version]:
        """A letter whose first version the mind drafts from ``notes``. Nothing is saved if
        there is no model or it fails."""
        title = checks.line(title, "the title")
        notes = checks.text(notes, "the notes", checks.MAX_NOTES)
        brief = await self._brief(writer, correspondence_id, notes, exclude=None)
        text = await self._write(brief, llm)
        async with self.engine.begin() as conn:
            await self._correspondence(conn, writer, correspondence_id)
            letter = await self._insert_letter(conn, writer, correspondence_id, title)
            first = await self._insert_version(
                conn, writer, letter.id, text, "mind", notes, brief.drew_on
            )
        return letter, first

    async def get_letter(self, writer: Person, letter_id: int) -> Letter:
        async with self.engine.connect() as conn:
            return letter_of(await self._letter_row(conn, writer, letter_id))

    async def list_letters(
        self,
        writer: Person,
        *,
        client: str | None = None,
        correspondence_id: int | None = None,
        status: str | None = None,
    ) -> list[Letter]:
        """The writer's letters, oldest first; only one client's, one correspondence's, or
        those with one status when asked."""
        query = (
            select(letters)
            .join(correspondences, correspondences.c.id == letters.c.correspondence_id)
            .where(letters.c.writer_id == writer.id)
        )
        if status is not None:
            query = query.where(letters.c.status == checks.choice(status, STATUSES, "status"))
        if correspondence_id is not None:
            checks.row_id(correspondence_id, "correspondence")
            query = query.where(letters.c.correspondence_id == correspondence_id)
        async with self.engine.connect() as conn:
            if client is not None:
                owner = await self._client_row(conn, writer, client)
                query = query.where(correspondences.c.client_id == owner.id)
            rows = await conn.execute(query.order_by(letters.c.id))
            return [letter_of(r) for r in rows]

    async def remove_letter(self, writer: Person, letter_id: int) -> None:
        async with self.engine.begin() as conn:
            row = await self._letter_row(conn, writer, letter_id)
            await conn.execute(letters.delete().where(letters.c.id == row.id))

    # -- versions ---------------------------------------------------------------------------
    async def add_version(
        self, writer: Person, letter_id: int, text: str, source: str = "writer"
    ) -> Version:
        """A new version in the writer's own words. An approved letter goes back to draft:
        what was approved was an earlier text."""
        source = self._own_source(source)
        text = checks.text(text)
        async with self.engine.begin() as conn:
            row = await self._open_letter(conn, writer, letter_id)
            return await self._insert_version(conn, writer, row.id, text, source)

    async def draft(self, writer: Person, letter_id: int, notes: str, llm: LLM | None) -> Version:
        """A new version drafted by the mind from ``notes``, in the client's voice, from the
        correspondence's history; it records what it drew on. Nothing is saved if there is no
        model or it fails."""
        notes = checks.text(notes, "the notes", checks.MAX_NOTES)
        letter = await self.open_letter(writer, letter_id)
        brief = await self._brief(writer, letter.correspondence_id, notes, exclude=letter.id)
        text = await self._write(brief, llm)
        async with self.engine.begin() as conn:
            row = await self._open_letter(conn, writer, letter_id)
            return await self._insert_version(
                conn, writer, row.id, text, "mind", notes, brief.drew_on
            )

    async def open_letter(self, writer: Person, letter_id: int) -> Letter:
        """The letter, if it may take a new version (it exists, is the writer's, and was not
        sent): checked before a model drafts or a recording is heard."""
        letter = await self.get_letter(writer, letter_id)
        if letter.status == "sent":
            raise UserInputError(f"letter {letter_id} was sent; its text no longer changes")
        return letter

    async def versions(self, writer: Person, letter_id: int) -> list[Version]:
        async with self.engine.connect() as conn:
            row = await self._letter_row(conn, writer, letter_id)
            found = await conn.execute(
                select(versions)
                .where(versions.c.letter_id == row.id, versions.c.writer_id == writer.id)
                .order_by(versions.c.number)
            )
            return [version_of(v) for v in found]

    async def version(self, writer: Person, letter_id: int, number: int | None = None) -> Version:
        """One version of the letter; the newest when ``number`` is None."""
        async with self.engine.connect() as conn:
            row = await self._letter_row(conn, writer, letter_id)
            return await self._version(conn, writer, row, number)

    @staticmethod
    async def _version(
        conn: AsyncConnection, writer: Person, letter: Any, number: int | None
    ) -> Version:
        """``letter``'s version ``number`` (the newest when None), read by itself: a letter's
        versions may be many and long."""
        mine = (versions.c.letter_id == letter.id, versions.c.writer_id == writer.id)
        query = select(versions).where(*mine)
        if number is None:
            query = query.order_by(versions.c.number.desc()).limit(1)
        else:
            query = query.where(versions.c.number == checks.row_id(number, "version"))
        found = (await conn.execute(query)).first()
        if found is not None:
            return version_of(found)
        count = (
            await conn.execute(select(func.count()).select_from(versions).where(*mine))
        ).scalar_one()
        if count == 0:
            raise NotFoundError(f"letter {letter.id} has no versions")
        raise NotFoundError(f"letter {letter.id} has no version {number} (1-{count})")

    async def diff(self, writer: Person, letter_id: int, a: int, b: int) -> str:
        """A unified diff from version ``a`` to version ``b``, line by line."""
        old, new = (
            await self.version(writer, letter_id, a),
            await self.version(writer, letter_id, b),
        )
        lines = difflib.unified_diff(
            old.text.splitlines(keepends=True),
            new.text.splitlines(keepends=True),
            fromfile=f"letter {letter_id} version {a}",
            tofile=f"letter {letter_id} version {b}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    # -- approval and sending ---------------------------------------------------------------
    async def approve(self, writer: Person, letter_id: int, number: int | None = None) -> Letter:
        """Approve a version (the newest when ``number`` is None) as the letter to send."""
        async with self.engine.begin() as conn:
            row = await self._open_letter(conn, writer, letter_id)  # locked: no version slips in
            chosen = await self._version(conn, writer, row, number)
            await conn.execute(
                update(letters)
                .where(letters.c.id == row.id)
                .values(status="approved", approved_version=chosen.number)
            )
            return letter_of(await self._letter_row(conn, writer, letter_id))

    async def mark_sent(
        self, writer: Person, letter_id: int, on: date | None = None, llm: LLM | None = None
    ) -> Letter:
        """Record that the approved letter went out (today unless ``on`` says otherwise), and
        remember the names and places it mentions (see :meth:`send`)."""
        letter, _ = await self.send(writer, letter_id, on, llm)
        return letter

    async def sendable(self, writer: Person, letter_id: int) -> Letter:
        """The letter, if it may be sent now (it exists, is the writer's, is approved and was
        not sent): checked before a model is loaded or waited for."""
        async with self.engine.connect() as conn:
            return letter_of(_sendable(await self._letter_row(conn, writer, letter_id)))

    async def send(
        self, writer: Person, letter_id: int, on: date | None = None, llm: LLM | None = None
    ) -> tuple[Letter, list[Mention]]:
        """Record that the approved letter went out, and add the names and places its text
        mentions to the correspondence's mentions (by rule, or by ``llm`` when given; see
        :mod:`os1.letters.mentions`), leaving out what it already remembers. Sending is the
        moment: the text no longer changes, and it is what the correspondent read. Returns the
        letter and the mentions added. Of two sends at once, one succeeds and the other is
        told the letter was already sent."""
        async with self.engine.connect() as conn:
            row = _sendable(await self._letter_row(conn, writer, letter_id))
            chosen = await self._version(conn, writer, row, row.approved_version)
            to = await self._correspondence(conn, writer, row.correspondence_id)
        found = await mentions_in.extract(chosen.text, (to.client, to.name), llm)
        async with self.engine.begin() as conn:
            # The write itself checks that the letter is still approved as it was read: SQLite
            # has no FOR UPDATE, so a check before it could pass twice.
            done = await conn.execute(
                update(letters)
                .where(
                    letters.c.id == row.id,
                    letters.c.writer_id == writer.id,
                    letters.c.status == "approved",
                    letters.c.approved_version == chosen.number,
                )
                .values(status="sent", sent_on=on or date.today())
            )
            if done.rowcount != 1:
                _sendable(await self._letter_row(conn, writer, letter_id))
                raise UserInputError(f"letter {letter_id} changed while it was sent: try again")
            known = [m.text for m in await self._mentions(conn, writer, to.id)]
            added = [
                await self._insert_mention(conn, writer, to.id, item.kind, item.text, row.id)
                for item in mentions_in.new_only(found, known)
            ]
            return letter_of(await self._letter_row(conn, writer, letter_id)), added

    # -- occasions and paper ----------------------------------------------------------------
    async def upcoming(
        self, writer: Person, days: int = 30, today: date | None = None
    ) -> list[Upcoming]:
        """The writer's occasions in the next ``days`` days (today included), soonest first."""
        if not 0 <= days <= 366:
            raise UserInputError("look ahead between 0 and 366 days")
        today = today or date.today()
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    occasions,
                    correspondences.c.name.label("correspondent"),
                    clients.c.name.label("client"),
                )
                .join(correspondences, correspondences.c.id == occasions.c.correspondence_id)
                .join(clients, clients.c.id == correspondences.c.client_id)
                .where(occasions.c.writer_id == writer.id)
            )
            found = []
            for row in rows:
                occasion = occasion_of(row)
                on = next_date(occasion, today)
                if on <= today + timedelta(days=days):
                    found.append(
                        Upcoming(
                            occasion,
                            on,
                            (on - today).days,
                            years_since(occasion, on),
                            row.client,
                            row.correspondent,
                        )
                    )
        return sorted(
            found,
            key=lambda u: (u.on, name_order(u.client), name_order(u.correspondent), u.occasion.id),
        )

    async def book_docs(
        self, writer: Person, ids: Sequence[int] = (), client: str | None = None
    ) -> list[LetterDoc]:
        """The letters for a book: ``ids`` in that order (each must be approved), else every
        approved or sent letter of the writer, or of ``client``, oldest first."""
        if ids:
            return [await self.letter_doc(writer, i) for i in ids]
        chosen = await self.list_letters(writer, client=client)
        return [
            await self.letter_doc(writer, lt.id) for lt in chosen if lt.approved_version is not None
        ]

    async def letter_doc(self, writer: Person, letter_id: int) -> LetterDoc:
        """The approved (or sent) letter as paper and the book take it."""
        letter = await self.get_letter(writer, letter_id)
        if letter.approved_version is None:
            raise UserInputError(f"letter {letter_id} is not approved yet: approve a version")
        chosen = await self.version(writer, letter_id, letter.approved_version)
        async with self.engine.connect() as conn:
            to = await self._correspondence(conn, writer, letter.correspondence_id)
            client = client_of(
                (await conn.execute(select(clients).where(clients.c.id == to.client_id))).one()
            )
        return LetterDoc(
            title=letter.title,
            text=chosen.text,
            client=client.name,
            correspondent=to.name,
            date=letter.sent_on or chosen.created_at.date(),
            hand=client.hand or client.stock_hand,
            sender=addressed(client.name, client.address),
            recipient=addressed(to.name, to.address),
        )

    # -- inside -----------------------------------------------------------------------------
    @staticmethod
    def _own_source(source: str) -> str:
        own = tuple(s for s in SOURCES if s != "mind")
        return checks.choice(source, own, "the writer's own text's source")

    async def _brief(
        self, writer: Person, correspondence_id: int, notes: str, exclude: int | None
    ) -> drafting.Brief:
        async with self.engine.connect() as conn:
            to = await self._correspondence(conn, writer, correspondence_id)
            client = client_of(
                (await conn.execute(select(clients).where(clients.c.id == to.client_id))).one()
            )
            past = await self._past_letters(conn, writer, to.id, exclude)
            said = await self._mentions(conn, writer, to.id)
            dates = await self._occasions(conn, writer, to.id)
        return drafting.Brief(
            client=client,
            correspondence=to,
            notes=notes,
            letters=drafting.choose_letters(past, notes),
            mentions=drafting.choose_mentions(said, notes),
            occasions=tuple(dates),
            today=date.today(),
        )

    async def _past_letters(
        self, conn: AsyncConnection, writer: Person, correspondence_id: int, exclude: int | None
    ) -> list[drafting.PastLetter]:
        """The correspondence's approved and sent letters, with their approved text."""
        rows = await conn.execute(
            select(letters.c.id, letters.c.title, letters.c.sent_on, versions.c.text)
            .join(
                versions,
                (versions.c.letter_id == letters.c.id)
                & (versions.c.number == letters.c.approved_version),
            )
            .add_columns(versions.c.created_at)
            .where(
                letters.c.writer_id == writer.id,
                letters.c.correspondence_id == correspondence_id,
                letters.c.approved_version.is_not(None),
                letters.c.id != (exclude or 0),
            )
        )
        return [
            drafting.PastLetter(r.id, r.title, r.text, r.sent_on or r.created_at.date())
            for r in rows
        ]

    @staticmethod
    async def _write(brief: drafting.Brief, llm: LLM | None) -> str:
        text = await drafting.write(brief, llm)
        if len(text) > checks.MAX_TEXT:
            raise LLMError("the language model's draft is longer than a letter may be")
        try:
            return checks.text(text, "the draft")
        except UserInputError as exc:
            raise LLMError(f"the language model's draft was refused: {exc}") from exc

    async def _insert_letter(
        self, conn: AsyncConnection, writer: Person, correspondence_id: int, title: str
    ) -> Letter:
        row = (
            await conn.execute(
                insert(letters)
                .values(
                    writer_id=writer.id,
                    correspondence_id=correspondence_id,
                    title=title,
                    status="draft",
                    created_at=utcnow(),
                )
                .returning(letters)
            )
        ).one()
        return letter_of(row)

    async def _insert_version(
        self,
        conn: AsyncConnection,
        writer: Person,
        letter_id: int,
        text: str,
        source: str,
        notes: str | None = None,
        drew_on: DrewOn | None = None,
    ) -> Version:
        # Numbered in the insert itself, so that versions made at once (the letter's row is
        # locked on PostgreSQL; SQLite writes one at a time) follow one another.
        number = (
            select(func.coalesce(func.max(versions.c.number), 0) + 1)
            .where(versions.c.letter_id == letter_id)
            .scalar_subquery()
        )
        row = (
            await conn.execute(
                insert(versions)
                .values(
                    writer_id=writer.id,
                    letter_id=letter_id,
                    number=number,
                    text=text,
                    source=source,
                    notes=notes,
                    drew_on=_drew_on_json(drew_on) if drew_on is not None else None,
                    created_at=utcnow(),
                )
                .returning(versions)
            )
        ).one()
        # A new text needs a new approval.
        await conn.execute(
            update(letters)
            .where(letters.c.id == letter_id)
            .values(status="draft", approved_version=None)
        )
        return version_of(row)

    async def _letter_row(
        self, conn: AsyncConnection, writer: Person, letter_id: int, *, lock: bool = False
    ) -> Any:
        """The writer's letter; with ``lock``, held until the transaction ends (PostgreSQL's
        ``FOR UPDATE``; SQLite lets one writer at a time anyway), so that two new versions of
        one letter at once are numbered one after the other."""
        checks.row_id(letter_id, "letter")
        query = select(letters).where(letters.c.id == letter_id, letters.c.writer_id == writer.id)
        row = (await conn.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise NotFoundError(f"no letter {letter_id}")
        return row

    async def _open_letter(self, conn: AsyncConnection, writer: Person, letter_id: int) -> Any:
        """The letter, locked, if it may still change (not sent)."""
        row = await self._letter_row(conn, writer, letter_id, lock=True)
        if row.status == "sent":
            raise UserInputError(f"letter {letter_id} was sent; its text no longer changes")
        return row
