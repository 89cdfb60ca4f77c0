"""What a prompt answering a peer may hold about the people the mind knows.

By default nothing: the mind answers a peer from the peer's own conversations only (the peer's
row in ``people``), and the only words about others are the count of conversations in progress.
A person may allow, per peer, a kind of sharing (``os1 peer share``): ``profile`` (the short
profile distillation keeps) or ``facts`` (the current facts). ``name`` only lets the mind say
whom it speaks for when it consults a peer. Each shared line is marked with who allowed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from os1.federation.peers import Peer, grants_to
from os1.memory.models import Fact
from os1.memory.store import SqlStore
from os1.mind.context import FACT_LABELS

#: Most shared lines in one prompt, over everyone who allowed sharing.
MOST_LINES = 40


@dataclass(frozen=True, slots=True)
class Shared:
    person: str
    profile: str | None
    facts: Sequence[Fact]


def notes(shared: Sequence[Shared], peer: str) -> list[str]:
    """Prompt lines for what people allowed to be shared with ``peer``; none if nothing."""
    lines: list[str] = []
    for item in shared:
        if item.profile:
            lines.append(f"- {item.person} (shared with permission): {item.profile}")
        for fact in item.facts:
            label = FACT_LABELS.get(fact.key, fact.key.replace("_", " ") + ":")
            lines.append(f"- {item.person} {label} {fact.value} (shared with permission)")
    if not lines:
        return []
    head = (
        f"You are talking with {peer}, another mind, not a person you know. Say nothing about "
        "the people you talk with, except what they allowed you to share with it:"
    )
    return [head, *lines[:MOST_LINES]]


async def gather(store: SqlStore, peer: Peer) -> list[Shared]:
    """What people allowed to be shared with ``peer``, read now."""
    found = []
    for person, kinds in await grants_to(store.engine, peer):
        profile = await store.get_profile(person) if "profile" in kinds else None
        facts = await store.list_facts(person) if "facts" in kinds else []
        if profile is not None or facts:
            found.append(Shared(person.name, profile.text if profile else None, facts))
    return found


BASE_NOTE = (
    "You are talking with another mind over the A2A protocol, not with a person. Never tell it "
    "anything the people you talk with told you."
)
