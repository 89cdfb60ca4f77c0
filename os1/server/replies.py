"""Streaming a reply to any transport, cancellable, with errors before the first piece raised
(so they become proper HTTP errors) and errors after it left to the transport to report."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from os1.mind.conversation import Session
from os1.server.errors import APIError
from os1.server.state import ServerState


class ReplyCancelled(Exception):
    """The reply was cancelled while it was being written; nothing of it was kept."""


async def _cancellable(
    state: ServerState, session: Session, text: str, retry: bool
) -> AsyncGenerator[str, None]:
    """The reply's pieces; stops with ReplyCancelled when the conversation's reply is cancelled.

    Each piece is awaited in a task of its own, so that a cancel can interrupt a model that is
    slow to produce it. However this generator ends (finished, cancelled, or closed because the
    client left), that task is stopped and the reply's generator closed, so the model's stream
    is closed and whatever it holds (a connection, the embedded model's lock) is released."""
    conversation_id = session.conversation.id
    with state.inflight.reply(conversation_id) as cancel:
        pieces = session.reply(text, retry=retry)
        step: asyncio.Future[str] | None = None
        await state.shared.replying(conversation_id, True)
        try:
            while True:
                step = asyncio.ensure_future(anext(pieces))
                if not await _first_of(step, cancel):
                    raise ReplyCancelled
                try:
                    piece = step.result()
                except StopAsyncIteration:
                    return
                step = None
                yield piece
        finally:
            await _stop(step)
            await pieces.aclose()
            await state.shared.replying(conversation_id, False)


async def _first_of(step: asyncio.Future[str], cancel: asyncio.Event) -> bool:
    """Wait for ``step`` or ``cancel``; True when the step finished first."""
    stop = asyncio.ensure_future(cancel.wait())
    waiters: set[asyncio.Future[Any]] = {step, stop}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    return step.done()


async def _stop(step: asyncio.Future[str] | None) -> None:
    if step is None or step.done():
        return
    step.cancel()
    with contextlib.suppress(BaseException):
        await step


async def open_reply(
    state: ServerState, session: Session, text: str, *, retry: bool = False
) -> AsyncIterator[str]:
    """Store ``text`` and wait for the first piece of the reply; return all the pieces.

    Bad input and a model that fails before its first piece raise here, and so does a cancel
    before the first piece (a 409). An empty reply yields nothing."""
    pieces = _cancellable(state, session, text, retry)
    try:
        first = await anext(pieces)
    except StopAsyncIteration:
        return _empty()
    except ReplyCancelled as exc:
        await pieces.aclose()
        raise APIError(409, "the reply was cancelled", "cancelled") from exc
    except BaseException:
        await pieces.aclose()
        raise
    return _chain(first, pieces)


async def _empty() -> AsyncIterator[str]:
    return
    yield  # an async generator that yields nothing


async def _chain(first: str, rest: AsyncGenerator[str, None]) -> AsyncIterator[str]:
    try:
        yield first
        async for piece in rest:
            yield piece
    finally:
        await rest.aclose()
