"""The allow-list of peers, the tokens peers present, and what people share with them.

A peer is remembered like a person: it has its own row in ``people`` (named ``NAME (peer)``),
so its conversations, memories and relationship are kept as a person's are, and a conversation
with it counts among those in progress. Tokens issued to peers live in the ``tokens`` table with
their own prefix, ``os1peer_``, so a peer's token never opens a person's API and a person's
token never opens A2A.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from os1.errors import NotFoundError, UserInputError
from os1.memory.accounts import live_token, new_token
from os1.memory.models import Person
from os1.memory.store import SqlStore
from os1.memory.tables import peer_sharing, peers, people, tokens

PREFIX = "os1peer_"
ShareKind = Literal["name", "profile", "facts"]
SHARE_KINDS: tuple[str, ...] = get_args(ShareKind)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


@dataclass(frozen=True, slots=True)
class Peer:
    id: int
    person_id: int
    name: str
    url: str
    allowed: bool
    created_at: datetime
    card: str | None = None
    #: The token the peer gave us, presented when we talk to it.
    token: str | None = None

    @property
    def person_name(self) -> str:
        return person_name(self.name)


def person_name(peer: str) -> str:
    """The name of a peer's row in ``people``."""
    return f"{peer} (peer)"


def check_peer_name(name: str) -> str:
    name = name.strip().lower()
    if not _NAME.match(name):
        raise UserInputError(
            "a peer's name is 1-40 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        )
    return name


def check_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) > 500:
        raise UserInputError("a peer's URL is an http:// or https:// base URL")
    return url


def _peer(row: Any) -> Peer:
    return Peer(
        id=row.id,
        person_id=row.person_id,
        name=row.name,
        url=row.url,
        allowed=row.allowed,
        created_at=row.created_at,
        card=row.card,
        token=row.token,
    )


async def add_peer(
    store: SqlStore, name: str, url: str, card: str | None, token: str | None
) -> Peer:
    """Add (or update) a peer, allow-listed; its row in ``people`` is made if needed."""
    name, url = check_peer_name(name), check_url(url)
    person = await store.ensure_person(person_name(name))
    values: dict[str, object] = {"url": url, "card": card, "allowed": True}
    if token is not None:
        values["token"] = token
    async with store.engine.begin() as conn:
        found = (await conn.execute(select(peers.c.id).where(peers.c.name == name))).first()
        if found is None:
            await conn.execute(
                insert(peers).values(
                    name=name, person_id=person.id, created_at=datetime.now(UTC), **values
                )
            )
        else:
            await conn.execute(update(peers).where(peers.c.id == found.id).values(**values))
    return await get_peer(store.engine, name)


async def get_peer(engine: AsyncEngine, name: str) -> Peer:
    name = check_peer_name(name)
    async with engine.connect() as conn:
        row = (await conn.execute(select(peers).where(peers.c.name == name))).first()
    if row is None:
        raise NotFoundError(f"no peer named {name!r} (see `os1 peer list`)")
    return _peer(row)


async def list_peers(engine: AsyncEngine) -> list[Peer]:
    async with engine.connect() as conn:
        return [_peer(r) for r in await conn.execute(select(peers).order_by(peers.c.name))]


async def remove_peer(store: SqlStore, name: str) -> None:
    """Remove the peer, its tokens and everything remembered of it."""
    peer = await get_peer(store.engine, name)
    await store.delete_person(await store.get_person(peer.person_name))


async def set_allowed(engine: AsyncEngine, name: str, allowed: bool) -> Peer:
    peer = await get_peer(engine, name)
    async with engine.begin() as conn:
        await conn.execute(update(peers).where(peers.c.id == peer.id).values(allowed=allowed))
    return await get_peer(engine, name)


async def issue_token(engine: AsyncEngine, peer: Peer) -> str:
    """A new token for ``peer`` to present to us; shown once, stored as a digest."""
    return await new_token(engine, peer.person_id, "peer", prefix=PREFIX)


async def peer_for_token(engine: AsyncEngine, token: str) -> Peer | None:
    """The peer an active peer token belongs to (allowed or not), else None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    now = datetime.now(UTC)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(peers)
                .join(tokens, tokens.c.person_id == peers.c.person_id)
                .where(live_token(token, now))
            )
        ).first()
    return _peer(row) if row is not None else None


async def set_sharing(engine: AsyncEngine, person: Person, peer: Peer, kinds: set[str]) -> set[str]:
    """What ``person`` allows the mind to share with ``peer``: exactly ``kinds``."""
    unknown = kinds - set(SHARE_KINDS)
    if unknown:
        raise UserInputError(f"unknown kind of sharing {sorted(unknown)}; use {SHARE_KINDS}")
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            delete(peer_sharing).where(
                peer_sharing.c.person_id == person.id, peer_sharing.c.peer_id == peer.id
            )
        )
        for kind in sorted(kinds):
            await conn.execute(
                insert(peer_sharing).values(
                    person_id=person.id, peer_id=peer.id, kind=kind, created_at=now
                )
            )
    return kinds


async def sharing_of(engine: AsyncEngine, person: Person, peer: Peer) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(peer_sharing.c.kind).where(
                peer_sharing.c.person_id == person.id, peer_sharing.c.peer_id == peer.id
            )
        )
        return {r.kind for r in rows}


async def grants_to(engine: AsyncEngine, peer: Peer) -> list[tuple[Person, set[str]]]:
    """Everyone who allowed some sharing with ``peer``, with what they allowed."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(people, peer_sharing.c.kind)
            .join(peer_sharing, peer_sharing.c.person_id == people.c.id)
            .where(peer_sharing.c.peer_id == peer.id)
            .order_by(people.c.name)
        )
        found: dict[int, tuple[Person, set[str]]] = {}
        for r in rows:
            person = Person(r.id, r.name, r.created_at, r.interview_done)
            found.setdefault(r.id, (person, set()))[1].add(r.kind)
    return list(found.values())
