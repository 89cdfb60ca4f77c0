"""A three-way conversation: a person asks their mind to consult (or be introduced to) a peer.

In the person's conversation, three turns are stored, each attributed: the person's request
(speaker: the person), the peer's answer (speaker: the peer's name) and the mind's words on it.
The peer stores the question once on its side, in its conversation with this mind. What goes to
the peer is the question alone, and the person's name only if they allowed ``name`` sharing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from os1.federation import client
from os1.federation.envelope import Envelope
from os1.federation.peers import Peer, sharing_of
from os1.memory.models import NewTurn, Turn
from os1.mind.conversation import Session

_ASK = re.compile(
    r"^\s*/?(?:ask|consult)\s+@?(?P<peer>[a-z0-9][a-z0-9_.-]*)\s*[:,]?\s+(?P<question>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_INTRODUCE = re.compile(
    r"^\s*/?introduce\s+(?:me\s+to\s+)?@?(?P<peer>[a-z0-9][a-z0-9_.-]*)\W*$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Request:
    peer: str
    question: str
    introduce: bool = False


@dataclass(frozen=True, slots=True)
class ThreeWay:
    asked: Turn
    answer: Turn
    #: What the mind said after the peer's answer ("" without a model).
    reply: str


def parse(text: str, peers: Sequence[str]) -> Request | None:
    """``ask NAME ...``, ``consult NAME ...`` or ``introduce me to NAME``, for a known peer."""
    known = {p.lower() for p in peers}
    found = _ASK.match(text)
    if found and found["peer"].lower() in known:
        return Request(found["peer"].lower(), found["question"].strip())
    found = _INTRODUCE.match(text)
    if found and found["peer"].lower() in known:
        return Request(found["peer"].lower(), "", introduce=True)
    return None


def question_for(request: Request, mind: str, name: str | None) -> str:
    if not request.introduce:
        return request.question
    who = name or "someone I talk with"
    return f"Hello, I am {mind}. {who} would like to meet you. Would you say hello?"


async def consult(
    session: Session,
    peer: Peer,
    text: str,
    request: Request,
    *,
    wait: float = 120.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ThreeWay:
    """Store the person's ``text``, ask ``peer``, store its answer, and let the mind speak."""
    store, person = session.mind.store, session.person
    now = datetime.now(UTC)
    asked = await store.add_turn(
        session.conversation, NewTurn("user", text, now, speaker=person.name)
    )
    name = person.name if "name" in await sharing_of(store.engine, person, peer) else None
    mind = session.mind.spec.name
    envelope = Envelope(hop=1, mind=mind, on_behalf_of=name)
    got = await client.send(
        peer,
        question_for(request, mind, name),
        envelope=envelope,
        wait=wait,
        transport=transport,
    )
    answer = await store.add_turn(
        session.conversation,
        NewTurn("assistant", got.text, datetime.now(UTC), speaker=peer.name),
    )
    prompt = (
        f"{peer.name}, another mind you asked on {person.name}'s behalf, answered: {got.text}\n"
        f"Tell {person.name} briefly what {peer.name} said and what you make of it."
    )
    reply = "".join([piece async for piece in session.respond_to(answer, prompt)])
    return ThreeWay(asked, answer, reply.strip())
