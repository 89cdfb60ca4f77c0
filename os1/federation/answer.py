"""A mind answers a peer: in the peer's own conversation (one per A2A context), from the peer's
own memory, with only what people allowed to be shared (see :mod:`os1.federation.privacy`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from os1.federation import privacy
from os1.federation.peers import Peer
from os1.memory.models import Conversation, Person
from os1.mind.conversation import Mind, Session

SOURCE = "a2a"


async def conversation_for(mind: Mind, peer: Peer, exchange: str) -> tuple[Person, Conversation]:
    """The peer's person row and its conversation for ``exchange``, made on first use."""
    store = mind.store
    person = await store.get_person(peer.person_name)
    label = exchange[:200]
    found = await store.conversations_by_label(person, SOURCE, label)
    if found:
        return person, found[0]
    return person, await store.start_conversation(person, SOURCE, label)


async def peer_session(mind: Mind, peer: Peer, exchange: str) -> Session:
    """A session of ``mind`` with ``peer``, its prompt told what it may share."""
    person, conversation = await conversation_for(mind, peer, exchange)
    session = mind.resume(person, conversation)
    shared = privacy.notes(await privacy.gather(mind.store, peer), peer.name)
    session.notes = [privacy.BASE_NOTE, *shared]
    return session


async def answer(mind: Mind, peer: Peer, exchange: str, text: str) -> AsyncIterator[str]:
    """Store the peer's message and stream the mind's reply (stored once complete)."""
    session = await peer_session(mind, peer, exchange)
    async for piece in session.reply(text):
        yield piece
