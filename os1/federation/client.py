"""OS1's A2A client, over the SDK: fetch a peer's Agent Card, send it a message, read the reply.

Transport failures become :class:`PeerUnreachable`, A2A errors from the peer
:class:`PeerRefused`, each with one line fit to show a person (``raise ... from exc``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from a2a.client import A2ACardResolver, A2AClientError, ClientConfig, ClientFactory
from a2a.types import (
    AgentCard,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.constants import PROTOCOL_VERSION_1_0, VERSION_HEADER, TransportProtocol
from a2a.utils.errors import A2AError
from google.protobuf.json_format import MessageToJson, Parse, ParseError
from google.protobuf.struct_pb2 import Struct

from os1.federation.envelope import Envelope
from os1.federation.errors import PeerError, PeerRefused, PeerUnreachable
from os1.federation.peers import Peer

FAILED = {TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_REJECTED, TaskState.TASK_STATE_CANCELED}


@dataclass(frozen=True, slots=True)
class PeerReply:
    text: str
    #: The A2A context: send it back to go on with the same exchange.
    context_id: str
    task_id: str


def card_json(card: AgentCard) -> str:
    text: str = MessageToJson(card)
    return text


def card_from_json(text: str) -> AgentCard:
    try:
        card: AgentCard = Parse(text, AgentCard(), ignore_unknown_fields=True)
    except ParseError as exc:
        raise PeerUnreachable(f"the stored Agent Card is not valid: {exc}") from exc
    return card


@asynccontextmanager
async def _http(
    wait: float, token: str | None, transport: httpx.AsyncBaseTransport | None
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {VERSION_HEADER: PROTOCOL_VERSION_1_0}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(
        timeout=wait, headers=headers, transport=transport, follow_redirects=False
    ) as http:
        yield http


async def fetch_card(
    url: str, wait: float = 30.0, transport: httpx.AsyncBaseTransport | None = None
) -> AgentCard:
    """The Agent Card at ``url`` (a base URL; the well-known path is added)."""
    async with _http(wait, None, transport) as http:
        try:
            return await A2ACardResolver(http, url.rstrip("/")).get_agent_card()
        except (A2AClientError, httpx.HTTPError, ValueError) as exc:
            raise PeerUnreachable(f"no Agent Card at {url}: {_line(exc)}") from exc


def _message(text: str, context_id: str | None, envelope: Envelope) -> Message:
    metadata = Struct()
    metadata.update(envelope.to_metadata())
    return Message(
        role=Role.ROLE_USER,
        message_id=str(uuid.uuid4()),
        context_id=context_id or "",
        parts=[Part(text=text)],
        metadata=metadata,
    )


def _task_text(task: Task) -> str:
    """The task's artifacts' text, else its status message's."""
    return "".join(_parts(a.parts) for a in task.artifacts) or _parts(task.status.message.parts)


async def send(
    peer: Peer,
    text: str,
    *,
    context_id: str | None = None,
    envelope: Envelope | None = None,
    streaming: bool = True,
    wait: float = 120.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> PeerReply:
    """Send ``text`` to ``peer`` and wait for its whole reply."""
    if not peer.card:
        raise PeerUnreachable(f"peer {peer.name!r} has no Agent Card; run `os1 peer add` again")
    card = card_from_json(peer.card)
    request = SendMessageRequest(message=_message(text, context_id, envelope or Envelope()))
    async with _http(wait, peer.token, transport) as http:
        config = ClientConfig(
            httpx_client=http,
            streaming=streaming,
            supported_protocol_bindings=[TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON],
        )
        client = ClientFactory(config).create(card)
        try:
            return _reply(peer, [event async for event in client.send_message(request)])
        except PeerError:
            raise
        except (A2AClientError, httpx.HTTPError) as exc:  # A2AClientError first: an A2AError
            raise PeerUnreachable(f"could not reach {peer.name}: {_line(exc)}") from exc
        except A2AError as exc:
            raise PeerRefused(f"{peer.name} refused the message: {_line(exc)}") from exc
        finally:
            await client.close()


def _reply(peer: Peer, events: list[StreamResponse]) -> PeerReply:
    """The reply in a stream of events: artifact chunks, or a final task or message."""
    chunks: list[str] = []
    said = ""
    context_id = task_id = ""
    state = TaskState.TASK_STATE_UNSPECIFIED
    for event in events:
        kind = event.WhichOneof("payload")
        if kind == "message":
            msg = event.message
            return PeerReply(_parts(msg.parts), msg.context_id, msg.task_id)
        if kind == "task":
            task = event.task
            context_id, task_id, state = task.context_id, task.id, task.status.state
            said = _task_text(task) or said
        elif kind == "artifact_update":
            update = event.artifact_update
            context_id, task_id = update.context_id, update.task_id
            chunks.append(_parts(update.artifact.parts))
        elif kind == "status_update":
            status = event.status_update
            context_id, task_id, state = status.context_id, status.task_id, status.status.state
            said = _parts(status.status.message.parts) or said
    text = "".join(chunks) if chunks else said
    if state in FAILED:
        raise PeerRefused(f"{peer.name} could not answer: {said or TaskState.Name(state)}")
    return PeerReply(text, context_id, task_id)


def _parts(parts: object) -> str:
    return "".join(p.text for p in parts if p.WhichOneof("content") == "text")  # type: ignore[attr-defined]


def _line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
