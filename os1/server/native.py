"""OS1's own API: conversations, memories, relationship, status, export and deletion.

Every route answers only for the person whose token is used; another person's ids are 404.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from os1.errors import OS1Error
from os1.memory import presence
from os1.memory.models import Relationship
from os1.memory.validation import check_message
from os1.server.auth import CurrentPerson, State
from os1.server.errors import COMMON_RESPONSES, APIError, from_domain
from os1.server.replies import ReplyCancelled, open_reply
from os1.server.schemas import (
    Cancelled,
    ConversationCreate,
    ConversationDetail,
    ConversationOut,
    Deleted,
    MemoryEdit,
    MessageIn,
    RecallOut,
    ReplyOut,
    StatusOut,
    TurnOut,
)

router = APIRouter(prefix="/v1", responses=COMMON_RESPONSES)

#: Ids in paths are database row ids: positive 63-bit integers.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]

SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The reply as JSON, or as server-sent events when `stream` is true",
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
                }
            }
        },
    }
}


@router.post("/conversations", response_model=ConversationOut, tags=["conversations"])
async def create_conversation(
    person: CurrentPerson, state: State, body: ConversationCreate | None = None
) -> ConversationOut:
    """Start a conversation; the body, with its label, may be left out."""
    label = body.label if body is not None else None
    conversation = await state.runtime.store.start_conversation(person, "api", label)
    return ConversationOut.of(conversation)


@router.get("/conversations", response_model=list[ConversationOut], tags=["conversations"])
async def list_conversations(person: CurrentPerson, state: State) -> list[ConversationOut]:
    return [ConversationOut.of(c) for c in await state.runtime.store.list_conversations(person)]


@router.get(
    "/conversations/{conversation_id:int}",
    response_model=ConversationDetail,
    tags=["conversations"],
)
async def get_conversation(
    conversation_id: RowId,
    person: CurrentPerson,
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ConversationDetail:
    store = state.runtime.store
    conversation = await store.get_conversation(person, conversation_id)
    turns = await store.recent_turns(conversation, limit)
    return ConversationDetail(
        **ConversationOut.of(conversation).model_dump(), turns=[TurnOut.of(t) for t in turns]
    )


@router.post(
    "/conversations/{conversation_id:int}/messages",
    response_model=ReplyOut,
    responses=SSE_RESPONSE,
    tags=["conversations"],
)
async def send_message(
    conversation_id: RowId,
    body: MessageIn,
    person: CurrentPerson,
    state: State,
    stream: Annotated[bool, Query(description="Stream the reply as server-sent events")] = False,
) -> Any:
    """Send a message; the reply comes whole, or as server-sent events with `?stream=true`."""
    conversation = await state.runtime.store.get_conversation(person, conversation_id)
    session = state.default_mind.resume(person, conversation)
    pieces = await open_reply(state, session, body.content)
    if stream:
        return StreamingResponse(_sse(pieces), media_type="text/event-stream")
    return ReplyOut(conversation_id=conversation.id, reply=await collect(pieces))


async def collect(pieces: AsyncIterator[str]) -> str:
    """The whole reply; a reply cancelled midway is a 409."""
    try:
        return "".join([p async for p in pieces])
    except ReplyCancelled as exc:
        raise APIError(409, "the reply was cancelled", "cancelled") from exc


def sse_event(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _sse(pieces: AsyncIterator[str]) -> AsyncIterator[str]:
    try:
        async for piece in pieces:
            yield sse_event("delta", {"text": piece})
    except ReplyCancelled:
        yield sse_event("cancelled", {})
        return
    except OS1Error as exc:
        api = from_domain(exc)
        yield sse_event("error", {"message": api.message, "code": api.code})
        return
    yield sse_event("done", {})


@router.post(
    "/conversations/{conversation_id:int}/cancel", response_model=Cancelled, tags=["conversations"]
)
async def cancel_reply(conversation_id: RowId, person: CurrentPerson, state: State) -> Cancelled:
    """Stop the reply being generated in this conversation, if any; nothing of it is kept."""
    conversation = await state.runtime.store.get_conversation(person, conversation_id)
    return Cancelled(cancelled=await state.shared.cancel(conversation.id))


@router.get("/memories", response_model=list[TurnOut], tags=["memories"])
async def list_memories(
    person: CurrentPerson,
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[TurnOut]:
    """Everything the mind remembers of the person, newest first."""
    return [TurnOut.of(t) for t in await state.runtime.store.list_turns(person, limit, offset)]


@router.get("/memories/search", response_model=list[RecallOut], tags=["memories"])
async def search_memories(
    person: CurrentPerson,
    state: State,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    k: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> list[RecallOut]:
    """Recall, best first: the same JSON as `os1 recall --json`."""
    return [RecallOut.of(i) for i in await state.runtime.store.recall(person, q, k)]


@router.patch("/memories/{memory_id:int}", response_model=TurnOut, tags=["memories"])
async def edit_memory(
    memory_id: RowId, body: MemoryEdit, person: CurrentPerson, state: State
) -> TurnOut:
    """Correct what a remembered turn says; facts drawn from the old text are dropped."""
    content = check_message(body.content, state.runtime.settings.max_message_chars)
    return TurnOut.of(await state.runtime.store.edit_turn(person, memory_id, content))


@router.delete("/memories/{memory_id:int}", response_model=Deleted, tags=["memories"])
async def delete_memory(memory_id: RowId, person: CurrentPerson, state: State) -> Deleted:
    await state.runtime.store.delete_turn(person, memory_id)
    return Deleted()


@router.get("/relationship", response_model=Relationship, tags=["people"])
async def relationship(person: CurrentPerson, state: State) -> Relationship:
    """How well the mind knows the person, and how close they are (see docs/memory.md)."""
    return await state.runtime.store.relationship(person)


@router.get("/status", response_model=StatusOut, tags=["people"])
async def status(person: CurrentPerson, state: State) -> StatusOut:
    """How many conversations are in progress right now, and with how many people."""
    now = await presence.current(state.runtime.store.engine)
    llm = state.runtime.llm
    return StatusOut(
        conversations_in_progress=now.conversations,
        people_talking=now.people,
        replies_in_flight=state.inflight.count,
        mind=state.default_mind.spec.name,
        brain=f"{llm.describe().kind}:{llm.describe().model}" if llm else "offline",
    )


@router.get("/export", response_model=dict[str, Any], tags=["people"])
async def export(person: CurrentPerson, state: State) -> dict[str, Any]:
    """Everything stored about the person."""
    return await state.runtime.store.export(person)


@router.delete("/me", response_model=Deleted, tags=["people"])
async def delete_me(person: CurrentPerson, state: State) -> Deleted:
    """Delete the person and everything stored about them, tokens included."""
    await state.runtime.store.delete_person(person)
    return Deleted()
