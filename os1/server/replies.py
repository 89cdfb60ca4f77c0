"""Streaming a reply to any transport, cancellable, with errors before the first piece raised
(so they become proper HTTP errors) and errors after it left to the transport to report."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

from os1.mind.conversation import Session
from os1.server.state import ServerState


class ReplyCancelled(Exception):
    """The reply was cancelled while it was being written; nothing of it was kept."""


async def _cancellable(
    state: ServerState, session: Session, text: str, retry: bool
) -> AsyncGenerator[str, None]:
    with state.inflight.reply(session.conversation.id) as cancel:
        pieces = session.reply(text, retry=retry)
        try:
            while True:
                step = asyncio.ensure_future(anext(pieces))
                stop = asyncio.ensure_future(cancel.wait())
                try:
                    await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop.cancel()
                if not step.done():
                    step.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await step
                    raise ReplyCancelled
                try:
                    yield step.result()
                except StopAsyncIteration:
                    return
        finally:
            await pieces.aclose()


async def open_reply(
    state: ServerState, session: Session, text: str, *, retry: bool = False
) -> AsyncIterator[str]:
    """Store ``text`` and wait for the first piece of the reply; return all the pieces.

    Bad input and a model that fails before its first piece raise here. An empty reply yields
    nothing."""
    pieces = _cancellable(state, session, text, retry)
    try:
        first = await anext(pieces)
    except StopAsyncIteration:
        return _empty()
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
