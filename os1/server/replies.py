"""Streaming a reply to any transport, cancellable, with errors before the first piece raised
(so they become proper HTTP errors) and errors after it left to the transport to report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from os1.errors import OS1Error
from os1.mind.conversation import Session
from os1.server.errors import APIError
from os1.server.state import ServerState

log = logging.getLogger("os1.server")


class ReplyCancelled(Exception):
    """The reply was cancelled while it was being written; nothing of it was kept."""


#: What the producer puts in the queue after the last piece.
_END = object()


async def _cancellable(
    state: ServerState, session: Session, text: str, retry: bool
) -> AsyncGenerator[str, None]:
    """The reply's pieces; stops with ReplyCancelled when the conversation's reply is cancelled.

    One task per reply (the producer) runs the reply and hands its pieces over a queue, so a
    cancel can stop a model that is slow to produce the next piece: the producer is cancelled
    and the waiting consumer woken. However this generator ends (finished, cancelled, or closed
    because the client left), the producer is stopped, so the model's stream is closed and
    whatever it holds (a connection, the embedded model's lock) is released."""
    conversation_id = session.conversation.id
    with state.inflight.reply(conversation_id) as cancel:
        # Said first: if the shared state cannot take it (Redis out of reach), nothing of the
        # reply has started, and the caller's error is the whole story.
        await state.shared.replying(conversation_id, True)
        queue: asyncio.Queue[object] = asyncio.Queue()

        async def produce() -> None:
            try:
                async for piece in session.reply(text, retry=retry):
                    queue.put_nowait(piece)
            except Exception as exc:  # handed to the consumer, which raises it
                queue.put_nowait(_Failed(exc))
            else:
                queue.put_nowait(_END)

        producer = asyncio.ensure_future(produce())
        # A producer cancelled from elsewhere (shutdown) must not leave the consumer waiting.
        producer.add_done_callback(lambda t: queue.put_nowait(_END) if t.cancelled() else None)
        watcher = asyncio.ensure_future(cancel.wait())
        watcher.add_done_callback(lambda _: queue.put_nowait(_END))
        try:
            while True:
                item = await queue.get()
                if cancel.is_set():
                    raise ReplyCancelled
                if item is _END:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                assert isinstance(item, str)
                yield item
        finally:
            watcher.cancel()
            await _stop(producer)
            try:
                await state.shared.replying(conversation_id, False)
            except OS1Error as exc:  # the reply's own outcome stands
                log.warning("could not clear the reply-in-progress mark", extra={"error": str(exc)})


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error


async def _stop(task: asyncio.Future[None]) -> None:
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


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
