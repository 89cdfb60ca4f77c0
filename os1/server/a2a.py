"""The A2A server, mounted in OS1's app: an Agent Card per mind, JSON-RPC and REST bindings
from the official ``a2a-sdk``, a gate that answers only allow-listed peers, and the one place
where OS1's refusals become A2A errors.

    GET  /.well-known/agent-card.json                 the default mind's card (public)
    GET  /a2a/{mind}/.well-known/agent-card.json      any mind's card (public)
    POST /a2a/{mind}/jsonrpc                          JSON-RPC binding (peer token)
         /a2a/{mind}/rest/...                         REST binding (peer token)
"""

from __future__ import annotations

import json
import logging
import unicodedata
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from a2a.auth.user import User
from a2a.helpers import get_message_text
from a2a.server.context import ServerCallContext
from a2a.server.events import Event
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import (
    DefaultServerCallContextBuilder,
    create_jsonrpc_routes,
    create_rest_routes,
)
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import Message as A2AMessage
from a2a.types import Role, SendMessageRequest, Task
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from a2a.utils.errors import A2AError, InvalidParamsError, InvalidRequestError
from fastapi import FastAPI
from google.protobuf.json_format import MessageToDict
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from os1.errors import OS1Error
from os1.federation import envelope
from os1.federation.card import JSONRPC_PATH, REST_PATH, agent_card
from os1.federation.errors import Refusal
from os1.federation.executor import PEER_KEY, MindExecutor
from os1.federation.guards import Guard, Limits
from os1.federation.peers import Peer, peer_for_token
from os1.mind.conversation import Mind
from os1.mind.persona import all_minds, load_mind
from os1.server.state import ServerState
from os1.settings import Settings

log = logging.getLogger("os1.server")
PREFIX = "/a2a/"
#: Most parts in one message from a peer.
MAX_PARTS = 32


# -- errors: OS1's refusals as A2A errors, in this one place -------------------------------
def a2a_error(exc: Refusal) -> A2AError:
    data: dict[str, Any] = {"reason": exc.kind}
    if exc.retry_after is not None:
        data["retryAfter"] = exc.retry_after
    if exc.kind in ("invalid", "too_long", "hops"):
        return InvalidParamsError(str(exc), data=data)
    return InvalidRequestError(str(exc), data=data)


def gate_error(
    status: int, message: str, headers: dict[str, str] | None = None, code: int = -32600
) -> Response:
    """A refusal before the SDK runs, as a JSON-RPC error object with an HTTP status."""
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


# -- who is calling --------------------------------------------------------------------
class A2AGate:
    """For ``/a2a/*`` (the cards excepted): bodies within ``max_bytes`` (413), a known peer
    token (401) of an allow-listed peer (403). The peer travels in the ASGI scope."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith(PREFIX)
            or path.endswith(AGENT_CARD_WELL_KNOWN_PATH)
        ):
            await self.app(scope, receive, send)
            return
        refusal = await self._check(scope)
        body = b""
        if refusal is None and scope.get("method") == "POST":
            body, refusal = await self._body(receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope.get("method") == "POST":
            receive = _replaying(body, receive)
        await self.app(scope, receive, send)

    async def _body(self, receive: Receive) -> tuple[bytes, Response | None]:
        """The whole body, within ``max_bytes`` (chunked ones too) and valid UTF-8."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", gate_error(400, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return b"", gate_error(413, f"the request body is over {self.max_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return b"", gate_error(400, "the request body is not UTF-8 JSON", code=-32700)
        fault = _json_fault(body)
        if fault is not None:
            return b"", gate_error(400, f"the request body is not JSON: {fault}", code=-32700)
        return body, None

    async def _check(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            return gate_error(413, f"the request body is over {self.max_bytes} bytes")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        state: ServerState = scope["app"].state.os1
        peer = None
        if scheme.lower() == "bearer" and token:
            peer = await peer_for_token(state.runtime.store.engine, token.strip())
        if peer is None:
            return gate_error(
                401,
                "send a peer token this instance issued: Authorization: Bearer os1peer_...",
                {"WWW-Authenticate": "Bearer"},
            )
        if not peer.allowed:
            return gate_error(403, f"{peer.name} is not on this instance's allow-list")
        scope[PEER_KEY] = peer
        return None


class _Constant(Exception):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def _json_fault(body: bytes) -> str | None:
    """What in ``body`` the SDK's JSON parser would take, or fail on, as an internal error:
    NaN or Infinity (not JSON), or nesting past the parser's depth. Other faults are the SDK's
    to report."""
    try:
        json.loads(body, parse_constant=_refuse_constant)
    except _Constant:
        return "NaN and Infinity are not JSON numbers"
    except RecursionError:
        return "nested too deeply"
    except ValueError:
        return None
    return None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then waits on the client."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class PeerUser(User):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def user_name(self) -> str:
        return self._name


class PeerContext(DefaultServerCallContextBuilder):
    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        context.state[PEER_KEY] = request.scope.get(PEER_KEY)
        return context

    def build_user(self, request: Request) -> User:
        peer: Peer | None = request.scope.get(PEER_KEY)
        return PeerUser(f"peer:{peer.id}" if peer else "nobody")


def task_owner(context: ServerCallContext) -> str:
    """Tasks are kept per peer: a peer reads and cancels its own tasks only."""
    peer: Peer | None = context.state.get(PEER_KEY)
    return f"peer:{peer.id}" if peer is not None else "nobody"


# -- the guards, before the SDK makes a task -------------------------------------------
class GuardedHandler(DefaultRequestHandler):
    """The SDK's handler, with OS1's loop and cost guards in front of every message."""

    def __init__(self, guard: Guard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = guard

    async def on_message_send(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> A2AMessage | Task:
        self._admit(params, context)
        result: A2AMessage | Task = await super().on_message_send(params, context)
        return result

    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event, None]:
        self._admit(params, context)
        async for event in super().on_message_send_stream(params, context):
            yield event

    def _admit(self, params: SendMessageRequest, context: ServerCallContext) -> None:
        peer: Peer | None = context.state.get(PEER_KEY)
        message = params.message
        if peer is None:
            raise InvalidRequestError("unauthenticated peer")
        if not message.message_id:
            raise InvalidParamsError("message.messageId is required")
        if message.role != Role.ROLE_USER:  # the SDK would fail the call as an internal error
            raise InvalidParamsError("a peer's message has the role ROLE_USER")
        if len(message.parts) > MAX_PARTS:
            raise InvalidParamsError(f"a message has at most {MAX_PARTS} parts")
        if _has_control(message.message_id) or _has_control(message.context_id):
            raise InvalidParamsError("messageId and contextId cannot hold control characters")
        if not message.context_id:
            message.context_id = str(uuid.uuid4())  # the exchange its budget is kept for
        try:
            env = envelope.parse(MessageToDict(message.metadata))
            self.guard.admit(
                peer.id,
                message.message_id,
                message.context_id,
                get_message_text(message),
                env.hop,
            )
        except Refusal as exc:
            log.info("refused a peer's message: %s", exc, extra={"peer": peer.name})
            raise a2a_error(exc) from exc


def _has_control(text: str) -> bool:
    """Whether ``text`` holds a NUL or other control character (an exchange's id names its
    conversation, and PostgreSQL refuses NUL bytes)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


# -- mounting --------------------------------------------------------------------------
def limits(settings: Settings) -> Limits:
    return Limits(
        max_turns=settings.a2a_max_turns,
        max_tokens=settings.a2a_max_tokens,
        max_hops=settings.a2a_max_hops,
        max_chars=settings.a2a_max_message_chars,
        per_minute=settings.a2a_rate_limit_per_minute,
    )


def _card_route(path: str, name: str, settings: Settings) -> Route:
    async def card(request: Request) -> Response:
        state: ServerState = request.app.state.os1
        base = settings.public_url or str(request.base_url)
        body = MessageToDict(agent_card(state.mind(name).spec, base, name))
        return Response(json.dumps(body), media_type="application/json")

    return Route(path, card, methods=["GET"], name=f"a2a-card-{name}")


def _mind_routes(app: FastAPI, name: str, settings: Settings, guard: Guard) -> list[BaseRoute]:
    def mind() -> Mind:
        state: ServerState = app.state.os1
        return state.mind(name)

    spec = load_mind(name, settings.minds_dir)
    handler = GuardedHandler(
        guard,
        agent_executor=MindExecutor(mind, guard),
        task_store=InMemoryTaskStore(owner_resolver=task_owner),
        agent_card=agent_card(spec, "http://localhost", name),
    )
    context = PeerContext()
    rest = create_rest_routes(
        handler, context_builder=context, path_prefix=REST_PATH.format(mind=name)
    )
    return [
        _card_route(f"/a2a/{name}{AGENT_CARD_WELL_KNOWN_PATH}", name, settings),
        *create_jsonrpc_routes(
            handler, rpc_url=JSONRPC_PATH.format(mind=name), context_builder=context
        ),
        # create_rest_routes adds a root Mount('/{tenant}') that would shadow every later
        # route of the app: OS1 has no tenants, so it is left out.
        *[r for r in rest if not isinstance(r, Mount)],
    ]


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the A2A routes and gate to ``app`` (when ``OS1_A2A`` is on)."""
    if not settings.a2a:
        return
    # The SDK logs every malformed request with a traceback; the peer already gets the error.
    logging.getLogger("a2a.server.routes.jsonrpc_dispatcher").setLevel(logging.CRITICAL)
    logging.getLogger("a2a.server.routes.rest_dispatcher").setLevel(logging.CRITICAL)
    guard = Guard(limits(settings))
    routes: list[BaseRoute] = [_card_route(AGENT_CARD_WELL_KNOWN_PATH, settings.mind, settings)]
    for name in all_minds(settings.minds_dir):
        try:
            routes.extend(_mind_routes(app, name, settings, guard))
        except OS1Error as exc:  # a broken mind file: that mind is not served, the rest are
            log.warning("mind %s is not served over A2A: %s", name, exc)
    app.router.routes.extend(routes)
    max_bytes = settings.a2a_max_message_chars * 4 + 65_536
    app.add_middleware(A2AGate, max_bytes=min(max_bytes, settings.max_body_bytes))
