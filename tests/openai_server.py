"""A real OpenAI-compatible HTTP server for tests, run by uvicorn on 127.0.0.1.

In tests, use the ``openai_server`` fixture. From a shell (for tests that start a separate
``os1`` process)::

    python tests/openai_server.py --port 0 [--ollama] [--reply TEXT] [--require-key KEY]

prints its base URL (``http://127.0.0.1:PORT/v1``) on one line and serves until interrupted.
``GET /_requests`` returns the recorded request bodies and ``POST /_settings`` changes the
behaviour (``{"mode": "slow", "delay": 2}``) for such out-of-process tests.

Modes: ``ok``; ``error500``; ``die_midstream`` (two chunks, then the connection drops);
``truncated`` (two chunks, then a clean end with no ``[DONE]`` and no finish reason); ``slow``
(waits ``delay`` seconds before the first chunk); ``garbage`` (a data line that is not JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

MODES = ("ok", "error500", "die_midstream", "truncated", "slow", "garbage", "json", "huge")
CREATED = 1_700_000_000


def heard(messages: list[dict[str, Any]]) -> str:
    """The default reply: derived from the last user message, so tests can predict it."""
    last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    return f"Server heard: {str(last)[:60]}"


def words(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


def openai_error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


class OpenAIServer:
    """The server and its settable behaviour; attributes may be changed while it runs."""

    def __init__(self) -> None:
        self.reply: str | None = None
        self.mode = "ok"
        self.delay = 1.0
        self.require_key: str | None = None
        self.models = ["test-model"]
        self.ollama = False
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self.base_url = ""
        self.root_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.app = Starlette(routes=self._routes())

    def reset(self) -> None:
        """Back to the defaults, with the recorded requests forgotten."""
        self.reply, self.mode, self.delay, self.require_key = None, "ok", 1.0, None
        self.models, self.ollama = ["test-model"], False
        self.requests.clear()
        self.auth_headers.clear()

    @property
    def messages(self) -> list[list[dict[str, Any]]]:
        """The ``messages`` of every chat request so far."""
        return [body.get("messages", []) for body in self.requests]

    def _routes(self) -> list[Route]:
        return [
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/api/tags", self.ollama_tags, methods=["GET"]),
            Route("/_requests", self.recorded, methods=["GET"]),
            Route("/_settings", self.change, methods=["POST"]),
        ]

    # -- handlers ------------------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        data = [
            {"id": m, "object": "model", "created": CREATED, "owned_by": "tests"}
            for m in self.models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def ollama_tags(self, request: Request) -> Response:
        if not self.ollama:
            return Response("404 page not found", status_code=404, media_type="text/plain")
        return JSONResponse({"models": [{"name": m, "model": m, "size": 1} for m in self.models]})

    async def recorded(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def change(self, request: Request) -> Response:
        for key, value in (await request.json()).items():
            if key in ("reply", "mode", "delay", "require_key", "models", "ollama"):
                setattr(self, key, value)
        return JSONResponse({"mode": self.mode})

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.auth_headers.append(request.headers.get("authorization"))
        refused = self._refuse(request) or self._unknown_model(body)
        if refused is not None:
            return refused
        if self.mode == "error500":
            return openai_error(500, "the model crashed while thinking", "server_error")
        reply = self.reply if self.reply is not None else heard(body.get("messages", []))
        if not body.get("stream") or self.mode == "json":
            return JSONResponse(self._completion(body, reply))
        return SSEResponse(self._events(body, reply), drop=self.mode == "die_midstream")

    def _refuse(self, request: Request) -> Response | None:
        if self.require_key is None:
            return None
        if request.headers.get("authorization") == f"Bearer {self.require_key}":
            return None
        return openai_error(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )

    def _unknown_model(self, body: dict[str, Any]) -> Response | None:
        model = body.get("model")
        if model in self.models or (self.ollama and model):
            return None
        return openai_error(
            404, f"The model `{model}` does not exist.", "invalid_request_error", "model_not_found"
        )

    # -- response shapes -----------------------------------------------------------------------

    def _completion(self, body: dict[str, Any], reply: str) -> dict[str, Any]:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": reply},
            "finish_reason": "stop",
        }
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": CREATED,
            "model": body.get("model"),
            "choices": [choice],
            "usage": usage,
        }

    def _chunk(self, body: dict[str, Any], delta: dict[str, str], finish: str | None) -> bytes:
        chunk = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": body.get("model"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk)}\n\n".encode()

    async def _events(self, body: dict[str, Any], reply: str) -> AsyncIterator[bytes]:
        mode = self.mode
        if mode == "slow":
            await self._pause(self.delay)
        yield self._chunk(body, {"role": "assistant", "content": ""}, None)
        if mode == "huge":  # one event far longer than any real one, with no line end
            yield b"data: " + b"x" * (9 * 2**20)
            return
        pieces = words(reply)
        if mode in ("die_midstream", "truncated"):
            pieces = pieces[:2]
        for piece in pieces:
            yield self._chunk(body, {"content": piece}, None)
            if mode == "garbage":
                yield b"data: {this is not json\n\n"
        if mode in ("die_midstream", "truncated"):
            return
        yield self._chunk(body, {}, "stop")
        yield b"data: [DONE]\n\n"

    async def _pause(self, seconds: float) -> None:
        # Polls a threading.Event: stop() runs in the test's thread, not the server's loop.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    # -- running -------------------------------------------------------------------------------

    def start(self, port: int = 0) -> OpenAIServer:
        """Serve in a background thread; returns once the server accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        port = sock.getsockname()[1]
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root_url}/v1"
        config = uvicorn.Config(
            self.app,
            log_level="critical",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        self._wait_until_up(sock)
        return self

    def _wait_until_up(self, sock: socket.socket) -> None:
        deadline = time.monotonic() + 10
        while self._server is not None and not self._server.started:
            if time.monotonic() > deadline or not (self._thread and self._thread.is_alive()):
                sock.close()
                raise RuntimeError("the test OpenAI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server, self._thread = None, None


class SSEResponse(StreamingResponse):
    """Server-sent events; with ``drop`` the response is left unfinished and the socket closed."""

    def __init__(self, events: AsyncIterator[bytes], drop: bool = False) -> None:
        super().__init__(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
        self.events = events
        self.drop = drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        async for event in self.events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        if not self.drop:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ollama", action="store_true", help="also answer /api/tags")
    parser.add_argument("--reply", default=None)
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--require-key", default=None)
    parser.add_argument("--model", action="append", dest="models")
    args = parser.parse_args(argv)
    server = OpenAIServer()
    server.ollama, server.reply, server.mode = args.ollama, args.reply, args.mode
    server.delay, server.require_key = args.delay, args.require_key
    server.models = args.models or server.models
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    server.start(args.port)
    print(server.base_url, flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
