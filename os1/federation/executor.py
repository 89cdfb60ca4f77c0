"""The A2A SDK's executor over :func:`os1.federation.answer.answer`: a peer's message becomes a
task; the reply streams as one artifact, ``reply``, in chunks, and the task completes. Failures
reach the peer as a failed task with a short message of OS1's own, never an exception's text."""

from __future__ import annotations

import logging
from collections.abc import Callable

from a2a.helpers import new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater

from os1.errors import BusyError, LLMError, OS1Error
from os1.federation.answer import answer
from os1.federation.guards import Guard
from os1.federation.peers import Peer
from os1.mind.conversation import Mind

log = logging.getLogger("os1.federation")
#: Characters gathered before a chunk of the reply is sent.
CHUNK = 200
PEER_KEY = "os1.peer"


def public_message(exc: Exception) -> str:
    """What a peer is told when the mind cannot answer: no internals."""
    if isinstance(exc, BusyError):
        return f"busy; retry in {exc.retry_after} s"
    if isinstance(exc, LLMError):
        return "the mind's language model is unavailable"
    return "the mind could not answer"


class MindExecutor(AgentExecutor):
    def __init__(self, mind: Callable[[], Mind], guard: Guard) -> None:
        #: The mind that answers, looked up when a message comes (minds load lazily).
        self.mind = mind
        self.guard = guard

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        peer: Peer = context.call_context.state[PEER_KEY]
        assert context.message is not None and context.task_id and context.context_id
        if context.current_task is None:
            await event_queue.enqueue_event(new_task_from_user_message(context.message))
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.start_work()
        try:
            reply = await self._stream(peer, context, updater)
        except OS1Error as exc:
            log.warning("could not answer a peer: %s", exc, extra={"peer": peer.name})
            await updater.failed(updater.new_agent_message([new_text_part(public_message(exc))]))
            return
        except Exception:  # a bug must not leak its text to a peer
            log.exception("answering a peer failed", extra={"peer": peer.name})
            await updater.failed(updater.new_agent_message([new_text_part(public_message(_BUG))]))
            return
        self.guard.spend(peer.id, context.context_id, reply)
        await updater.complete()

    async def _stream(self, peer: Peer, context: RequestContext, updater: TaskUpdater) -> str:
        assert context.context_id is not None
        said: list[str] = []
        buffer = ""
        sent = 0
        async for piece in answer(self.mind(), peer, context.context_id, context.get_user_input()):
            said.append(piece)
            buffer += piece
            if len(buffer) >= CHUNK:
                await self._chunk(updater, buffer, sent, last=False)
                buffer, sent = "", sent + 1
        await self._chunk(updater, buffer, sent, last=True)
        return "".join(said)

    @staticmethod
    async def _chunk(updater: TaskUpdater, text: str, index: int, *, last: bool) -> None:
        await updater.add_artifact(
            [new_text_part(text)],
            artifact_id="reply",
            name="reply",
            append=index > 0,
            last_chunk=last,
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id and context.context_id
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.cancel(updater.new_agent_message([new_text_part("cancelled")]))


_BUG = RuntimeError()
