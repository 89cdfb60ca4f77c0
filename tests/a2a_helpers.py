"""Helpers for the A2A tests: OS1 instances wired as peers, raw JSON-RPC bodies, and a minimal
agent built directly on the a2a-sdk (not OS1 code) to talk to."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from a2a.helpers import new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
)
from a2a.utils.constants import TransportProtocol
from server_harness import free_port, live_server, server_settings
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from os1.federation import client
from os1.federation.peers import add_peer, get_peer, issue_token
from os1.mind.fake import FakeLLM
from os1.runtime import open_store
from os1.server.serve import GracefulServer
from os1.settings import Settings

VERSION = {"A2A-Version": "1.0"}


def rpc(text: str, method: str = "SendMessage", **message: Any) -> dict[str, Any]:
    msg = {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [{"text": text}]}
    msg.update(message)
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"message": msg}}


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **VERSION}


async def _add(settings: Settings, name: str, url: str, token: str | None) -> None:
    card = await client.fetch_card(url, 10)
    async with open_store(settings) as store:
        await add_peer(store, name, url, client.card_json(card), token)


async def _issue(settings: Settings, name: str) -> str:
    async with open_store(settings) as store:
        return await issue_token(store.engine, await get_peer(store.engine, name))


def register(settings: Settings, name: str, url: str, token: str | None = None) -> None:
    """Add (or update) peer ``name`` at ``url`` on the instance of ``settings``."""
    asyncio.run(_add(settings, name, url, token))


def issue(settings: Settings, name: str) -> str:
    return asyncio.run(_issue(settings, name))


@dataclass
class Instance:
    name: str
    settings: Settings
    url: str
    server: GracefulServer

    @property
    def llm(self) -> FakeLLM:
        llm = self.server.app.state.os1.runtime.llm
        assert isinstance(llm, FakeLLM)
        return llm

    def prompts(self) -> list[str]:
        return ["\n".join(m.content for m in call) for call in self.llm.calls]


@contextmanager
def instance(home: Path, name: str, **overrides: Any) -> Iterator[Instance]:
    settings = server_settings(home, **overrides)
    with live_server(settings) as (url, server):
        assert isinstance(server, GracefulServer)
        yield Instance(name, settings, url, server)


def pair(a: Instance, b: Instance) -> None:
    """Make ``a`` and ``b`` peers of each other, each holding a token the other issued."""
    register(a.settings, b.name, b.url)
    register(b.settings, a.name, a.url)
    register(a.settings, b.name, b.url, issue(b.settings, a.name))
    register(b.settings, a.name, a.url, issue(a.settings, b.name))


# -- a minimal agent on the SDK alone -------------------------------------------------------
AGENT_TOKEN = "agent-secret"


class Echo(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None and context.task_id and context.context_id
        await event_queue.enqueue_event(new_task_from_user_message(context.message))
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.start_work()
        text = context.get_user_input()
        await updater.add_artifact([new_text_part(f"echo: {text}")], artifact_id="a", name="a")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id and context.context_id
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


class Bearer:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/rpc":
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            if auth != f"Bearer {AGENT_TOKEN}":
                response: Response = JSONResponse({"error": "unauthenticated"}, 401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def echo_agent_app(base: str) -> Starlette:
    card = AgentCard(
        name="Echo",
        description="An echo agent built on the a2a-sdk alone",
        version="1.0",
        supported_interfaces=[
            AgentInterface(
                url=f"{base}/rpc",
                protocol_binding=TransportProtocol.JSONRPC,
                protocol_version="1.0",
            )
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="echo", name="Echo", description="echoes", tags=["echo"])],
    )
    handler = DefaultRequestHandler(
        agent_executor=Echo(), task_store=InMemoryTaskStore(), agent_card=card
    )
    app = Starlette(
        routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/rpc")]
    )
    app.add_middleware(Bearer)
    return app


@contextmanager
def echo_agent() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        echo_agent_app(base), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the echo agent did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
