"""The OpenAI-compatible endpoints: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Clients resend the whole history on every call. OS1 keeps its own: it stores only the newest
user message (once, even when a request is retried), and builds the prompt from its memory.
A request continues the conversation that began with the same first user message and the same
first reply; a request with only a first message starts a new conversation, unless the same
first message came within ten minutes and got no further (a retry). The header
``X-OS1-Conversation: <id>`` names a conversation outright. A request whose last message is
already stored is answered again, and the new answer replaces the earlier one.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from os1.errors import OS1Error, UserInputError
from os1.memory.models import Conversation, Person
from os1.mind.context import estimate_tokens
from os1.mind.conversation import Session
from os1.server.auth import CurrentPerson, State
from os1.server.errors import COMMON_RESPONSES, APIError, from_domain
from os1.server.native import SSE_RESPONSE, collect
from os1.server.replies import ReplyCancelled, open_reply
from os1.server.schemas import (
    CONVERSATION_ID,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ModelList,
    ModelOut,
    Usage,
)
from os1.server.state import ServerState

router = APIRouter(prefix="/v1", responses=COMMON_RESPONSES, tags=["openai"])
#: A first message sent again within this time is a retry, not a new chat.
FIRST_MESSAGE_RETRY_WINDOW = timedelta(minutes=10)
STARTED = int(time.time())


@router.get("/models", response_model=ModelList)
async def list_models(person: CurrentPerson, state: State) -> ModelList:
    """Each mind is a model: `samantha`, and every mind defined in `OS1_HOME/minds/`."""
    return ModelList(data=[ModelOut(id=name, created=STARTED) for name in state.model_names()])


def _last_user_text(messages: list[ChatMessage]) -> str:
    if messages[-1].role != "user":
        raise UserInputError("the last message must come from the user")
    return messages[-1].text()


def _fingerprint(model: str, messages: list[ChatMessage]) -> str:
    first = next(m.text() for m in messages if m.role == "user")
    return "openai:" + hashlib.sha256(f"{model}\0{first}".encode()).hexdigest()[:24]


async def _conversation(
    state: ServerState, person: Person, request: ChatCompletionRequest, named: int | None
) -> tuple[Conversation, bool]:
    """The conversation a request continues, and whether its last message is already stored
    (the client is retrying, or asking for the answer again)."""
    store = state.runtime.store
    users = sum(1 for m in request.messages if m.role == "user")
    if named is not None:
        conversation = await store.get_conversation(person, named)
        stored, _ = await store.turn_stats(conversation)
        return conversation, stored >= users
    label = _fingerprint(request.model, request.messages)
    first_reply = next((m.text() for m in request.messages if m.role == "assistant"), None)
    for candidate in await store.conversations_by_label(person, "openai", label):
        stored, stored_reply = await store.turn_stats(candidate)
        if first_reply is None and stored == 1 and _recent(candidate):
            return candidate, True  # the first message, sent again
        if first_reply is not None and _same(stored_reply, first_reply):
            return candidate, stored >= users
    return await store.start_conversation(person, "openai", label), False


def _recent(conversation: Conversation) -> bool:
    return datetime.now(UTC) - conversation.started_at < FIRST_MESSAGE_RETRY_WINDOW


def _same(stored: str | None, sent: str) -> bool:
    return stored is not None and stored.strip() == sent.strip()


@router.post("/chat/completions", response_model=ChatCompletion, responses=SSE_RESPONSE)
async def chat_completions(
    request: ChatCompletionRequest,
    person: CurrentPerson,
    state: State,
    x_os1_conversation: Annotated[
        str,
        Header(
            pattern=CONVERSATION_ID,
            description="Continue this conversation (an id from the native API).",
        ),
    ] = "",
) -> Any:
    settings = state.runtime.settings
    if len(request.messages) > settings.max_messages:
        raise APIError(
            400,
            f"too many messages ({len(request.messages)}; at most {settings.max_messages})",
            "too_many_messages",
        )
    mind = state.mind(request.model)
    text = _last_user_text(request.messages)
    named = int(x_os1_conversation) if x_os1_conversation else None
    conversation, retry = await _conversation(state, person, request, named)
    session = mind.resume(person, conversation)
    pieces = await open_reply(state, session, text, retry=retry)
    reply_id = f"chatcmpl-{uuid.uuid4().hex}"
    if request.stream:
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        chunks = _chunks(reply_id, request.model, session, pieces, include_usage)
        return StreamingResponse(
            chunks,
            media_type="text/event-stream",
            headers={"X-OS1-Conversation": str(conversation.id)},
        )
    reply = await collect(pieces)
    return ChatCompletion(
        id=reply_id,
        created=int(time.time()),
        model=request.model,
        choices=[Choice(message=AssistantMessage(content=reply))],
        usage=_usage(session, reply),
    )


def _usage(session: Session, reply: str) -> Usage:
    """Estimated tokens: the whole prompt the model was given (persona, memories, the
    conversation), not only the last message; none for a reply given without the model."""
    p, c = session.prompt_tokens, estimate_tokens(reply)
    return Usage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c)


def _chunk(reply_id: str, model: str, delta: dict[str, str], finish: str | None) -> str:
    body = {
        "id": reply_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def _chunks(
    reply_id: str, model: str, session: Session, pieces: AsyncIterator[str], include_usage: bool
) -> AsyncIterator[str]:
    yield _chunk(reply_id, model, {"role": "assistant", "content": ""}, None)
    parts: list[str] = []
    try:
        async for piece in pieces:
            parts.append(piece)
            yield _chunk(reply_id, model, {"content": piece}, None)
    except ReplyCancelled:
        yield _chunk(reply_id, model, {}, "stop")
        yield "data: [DONE]\n\n"
        return
    except OS1Error as exc:
        api = from_domain(exc)
        error = {"message": api.message, "type": api.kind, "code": api.code}
        yield f"data: {json.dumps({'error': error})}\n\n"
        return
    yield _chunk(reply_id, model, {}, "stop")
    if include_usage:
        usage = _usage(session, "".join(parts)).model_dump()
        body = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": usage,
        }
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
