"""A person's side of federation, over the native API: which peers there are, what the person
shares with each, and consulting a peer from inside a conversation (a three-way talk)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from os1.federation import consult as three
from os1.federation.errors import PeerError
from os1.federation.peers import (
    SHARE_KINDS,
    ShareKind,
    get_peer,
    list_peers,
    set_sharing,
    sharing_of,
)
from os1.memory.validation import check_message
from os1.server.auth import CurrentPerson, State
from os1.server.errors import COMMON_RESPONSES, APIError
from os1.server.schemas import MAX_TEXT, PEER_NAME, SAYS_SOMETHING, Strict, Text, TurnOut

router = APIRouter(prefix="/v1", responses=COMMON_RESPONSES, tags=["peers"])
PeerName = Annotated[str, Path(pattern=PEER_NAME)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class PeerOut(BaseModel):
    name: str
    url: str
    allowed: bool
    #: What the calling person shares with this peer.
    sharing: list[str]


class SharingIn(Strict):
    kinds: list[ShareKind] = Field(max_length=len(SHARE_KINDS))


class SharingOut(BaseModel):
    peer: str
    kinds: list[str]


class ConsultIn(Strict):
    message: Text = Field(min_length=1, max_length=MAX_TEXT, pattern=SAYS_SOMETHING)
    #: The peer to ask; when absent, the message names it ("ask athena ...").
    peer: str | None = Field(default=None, pattern=PEER_NAME)


class ConsultOut(BaseModel):
    conversation_id: int
    turns: list[TurnOut]
    reply: str


@router.get("/peers", response_model=list[PeerOut])
async def peers(person: CurrentPerson, state: State) -> list[PeerOut]:
    """The peers this instance knows, with what you share with each."""
    engine = state.runtime.store.engine
    return [
        PeerOut(
            name=p.name,
            url=p.url,
            allowed=p.allowed,
            sharing=sorted(await sharing_of(engine, person, p)),
        )
        for p in await list_peers(engine)
    ]


@router.put("/peers/{name}/sharing", response_model=SharingOut)
async def put_sharing(
    name: PeerName, body: SharingIn, person: CurrentPerson, state: State
) -> SharingOut:
    """Exactly what you allow the mind to share with this peer (``[]``: nothing)."""
    engine = state.runtime.store.engine
    peer = await get_peer(engine, name)
    kinds = await set_sharing(engine, person, peer, set(body.kinds))
    return SharingOut(peer=peer.name, kinds=sorted(kinds))


@router.post("/conversations/{conversation_id}/consult", response_model=ConsultOut)
async def consult(
    conversation_id: RowId, body: ConsultIn, person: CurrentPerson, state: State
) -> ConsultOut:
    """Ask the mind to consult a peer in this conversation: your words, the peer's answer and
    the mind's are stored in it, each attributed."""
    store, settings = state.runtime.store, state.runtime.settings
    text = check_message(body.message, settings.max_message_chars)
    conversation = await store.get_conversation(person, conversation_id)
    known = [p.name for p in await list_peers(store.engine)]
    request = (
        three.Request(body.peer.strip().lower(), text) if body.peer else three.parse(text, known)
    )
    if request is None:  # no peer this instance knows is named
        raise APIError(
            404,
            "the message names no known peer: say 'ask NAME ...' (see GET /v1/peers)",
            "peer_not_found",
        )
    peer = await get_peer(store.engine, request.peer)
    session = state.default_mind.resume(person, conversation)
    try:
        result = await three.consult(session, peer, text, request, wait=settings.a2a_timeout)
    except PeerError as exc:
        raise APIError(502, str(exc), "peer_unavailable", "peer_error") from exc
    turns = await store.recent_turns(conversation, 3)
    return ConsultOut(
        conversation_id=conversation.id,
        turns=[TurnOut.of(t) for t in turns if t.id >= result.asked.id],
        reply=result.reply,
    )
