"""The mind talks with a peer, turn by turn: it sends a message, answers the peer's reply in the
peer's own conversation, and so on. The talk ends by itself: after ``turns`` rounds, when the
exchange's token budget is spent, or when the peer refuses (its own budgets)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from os1.federation import client
from os1.federation.answer import peer_session
from os1.federation.envelope import Envelope
from os1.federation.errors import PeerError
from os1.federation.peers import Peer
from os1.memory.models import NewTurn
from os1.mind.context import estimate_tokens
from os1.mind.conversation import Mind


@dataclass(frozen=True, slots=True)
class Said:
    speaker: str
    text: str
    #: Why the talk ended, on the last line only.
    stopped: str | None = None


async def talk(
    mind: Mind,
    peer: Peer,
    text: str,
    *,
    turns: int = 1,
    max_tokens: int = 8000,
    wait: float = 120.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Said]:
    session = await peer_session(mind, peer, f"talk:{uuid.uuid4()}")
    store, me = mind.store, mind.spec.name
    await store.add_turn(session.conversation, NewTurn("assistant", text, datetime.now(UTC)))
    yield Said(me, text)
    spent, context_id, outgoing = estimate_tokens(text), None, text
    for round_ in range(1, turns + 1):
        try:
            got = await client.send(
                peer,
                outgoing,
                context_id=context_id,
                envelope=Envelope(mind=me),
                wait=wait,
                transport=transport,
            )
        except PeerError as exc:  # refused (its budgets, rate, auth) or unreachable
            yield Said(peer.name, "", stopped=str(exc))
            return
        context_id = got.context_id
        spent += estimate_tokens(got.text)
        last = round_ == turns or spent >= max_tokens or not got.text.strip()
        if last:
            if got.text.strip():
                now = datetime.now(UTC)
                await store.add_turn(session.conversation, NewTurn("user", got.text, now))
            why = f"{turns} turn(s)" if round_ == turns else "the exchange's token budget"
            yield Said(peer.name, got.text, stopped=f"stopped after {why}")
            return
        yield Said(peer.name, got.text)
        outgoing = "".join([piece async for piece in session.reply(got.text)]).strip()
        spent += estimate_tokens(outgoing)
        if not outgoing:
            yield Said(me, "", stopped="the mind had nothing to say")
            return
        yield Said(me, outgoing)
