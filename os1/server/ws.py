"""Conversations over WebSocket: ``/v1/conversations/{id}/ws``.

Authenticate with ``Authorization: Bearer <token>`` or, for browsers, ``?token=<token>``.
The client sends ``{"type": "message", "content": "..."}`` or ``{"type": "cancel"}``; the
server answers ``{"type": "delta", "text": ...}``... then ``{"type": "done"}``, or
``{"type": "cancelled"}``, or ``{"type": "error", "code": ..., "message": ...}``. A bad frame
gets an error and the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from os1.errors import BusyError, OS1Error
from os1.mind.conversation import Session
from os1.server.auth import token_person
from os1.server.errors import APIError, from_domain, plain
from os1.server.native import RowId
from os1.server.replies import ReplyCancelled, open_reply
from os1.server.schemas import MessageIn
from os1.server.state import ServerState

router = APIRouter()
POLICY_VIOLATION = 1008
GOING_AWAY = 1001
TRY_AGAIN_LATER = 1013


def ws_token(ws: WebSocket) -> str | None:
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return ws.query_params.get("token")


async def accept_session(ws: WebSocket, conversation_id: int) -> Session | None:
    """Accept the socket; a session on the caller's conversation, or None when the caller is
    not its person (the socket is then closed with 1008 and the reason)."""
    state: ServerState = ws.app.state.os1
    try:
        person = await token_person(state, ws_token(ws))
        conversation = await state.runtime.store.get_conversation(person, conversation_id)
    except (APIError, OS1Error) as exc:
        # Accept, then close with a reason: a refused handshake tells a browser nothing.
        # OS1 failing to open it (storage or Redis unavailable, a 5xx) is "try again later".
        failing = isinstance(exc, OS1Error) and from_domain(exc).status >= 500
        await ws.accept()
        await ws.close(code=TRY_AGAIN_LATER if failing else POLICY_VIOLATION, reason=str(exc)[:120])
        return None
    await ws.accept()
    return state.default_mind.resume(person, conversation)


@router.websocket("/v1/conversations/{conversation_id}/ws")
async def conversation_ws(ws: WebSocket, conversation_id: RowId) -> None:
    session = await accept_session(ws, conversation_id)
    if session is not None:
        await _serve(ws, ws.app.state.os1, session)


async def _serve(ws: WebSocket, state: ServerState, session: Session) -> None:
    replying: asyncio.Task[None] | None = None
    try:
        while not state.stopping.is_set():
            received = await ws.receive()
            if received["type"] == "websocket.disconnect":
                break
            message = _parse(received.get("text"))
            try:
                replying = await _handle(ws, state, session, message, replying)
            except OS1Error as exc:  # the shared state (Redis) out of reach: say so, go on
                api = from_domain(exc)
                await _send(ws, {"type": "error", "code": api.code, "message": api.message})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if replying is not None and not replying.done():
            replying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replying
    if state.stopping.is_set():
        with contextlib.suppress(RuntimeError):
            await ws.close(code=GOING_AWAY)


async def _handle(
    ws: WebSocket,
    state: ServerState,
    session: Session,
    message: str | MessageIn | ValidationError | None,
    replying: asyncio.Task[None] | None,
) -> asyncio.Task[None] | None:
    """Answer one frame; the reply task now being written, if any."""
    if message == "cancel":
        await state.shared.cancel(session.conversation.id)
    elif isinstance(message, ValidationError):
        text = f"content: {plain(message.errors()[0])}"
        await _send(ws, {"type": "error", "code": "invalid_message", "message": text})
    elif not isinstance(message, MessageIn):
        await _send(
            ws,
            {
                "type": "error",
                "code": "bad_frame",
                "message": 'send {"type": "message", "content": "..."}',
            },
        )
    elif state.stopping.is_set():
        await _send(
            ws,
            {"type": "error", "code": "stopping", "message": "the server is stopping"},
        )
    elif replying is not None and not replying.done():
        await _send(
            ws,
            {
                "type": "error",
                "code": "busy",
                "message": "a reply is still being written; cancel it first",
            },
        )
    elif (wait := await state.shared.check(f"person:{session.person.id}")) is not None:
        await _send(
            ws,
            {
                "type": "error",
                "code": "rate_limited",
                "message": f"too many messages; retry in {wait} s",
                "retry_after": wait,
            },
        )
    else:
        return asyncio.create_task(_reply(ws, state, session, message))
    return replying


def frame_json(frame: str | None) -> Any:
    """A text frame's JSON; None for a binary frame, or one that is not JSON (nested too
    deeply for the parser included)."""
    if frame is None:
        return None
    try:
        return json.loads(frame)
    except (ValueError, RecursionError):
        return None


def _parse(frame: str | None) -> str | MessageIn | ValidationError | None:
    data = frame_json(frame)
    if not isinstance(data, dict):
        return None
    if data.get("type") == "cancel":
        return "cancel"
    if data.get("type") != "message":
        return None
    try:
        return MessageIn.model_validate({"content": data.get("content")})
    except ValidationError as exc:
        return exc


async def _send(ws: WebSocket, data: dict[str, Any]) -> None:
    await ws.send_text(json.dumps(data, ensure_ascii=False))


async def _reply(ws: WebSocket, state: ServerState, session: Session, message: MessageIn) -> None:
    try:
        async for piece in await open_reply(state, session, message.content):
            await _send(ws, {"type": "delta", "text": piece})
    except ReplyCancelled:
        await _send(ws, {"type": "cancelled"})
    except APIError as exc:  # a cancel before the first piece, as the HTTP routes see it
        if exc.code == "cancelled":
            await _send(ws, {"type": "cancelled"})
        else:
            await _send(ws, {"type": "error", "code": exc.code, "message": exc.message})
    except OS1Error as exc:
        api = from_domain(exc)
        error: dict[str, Any] = {"type": "error", "code": api.code, "message": api.message}
        if isinstance(exc, BusyError):
            error["retry_after"] = exc.retry_after
        await _send(ws, error)
    else:
        await _send(ws, {"type": "done"})
