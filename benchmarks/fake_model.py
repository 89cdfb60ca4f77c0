"""A fake OpenAI-compatible model server for load benchmarks: a separate process that streams
tokens at a set pace, as an inference server would, without any model.

    .venv/bin/python benchmarks/fake_model.py --port 8100 --ttft 0.3 --tokens-per-s 30

prints its base URL (``http://127.0.0.1:PORT/v1``) on one line once it is serving.

- ``POST /v1/chat/completions`` (streaming or not): waits for one of ``--concurrency`` slots
  (requests beyond it queue, as in vLLM or llama.cpp with a fixed number of sequences), then
  waits ``--ttft`` seconds, then sends ``--reply-tokens`` tokens at ``--tokens-per-s``.
  ``--error-rate`` of the requests get a 500 instead, before any token.
- The first token of every reply is a timing mark, ``⟦fm:RECEIVED:SENT⟧`` (``time.time()`` in
  microseconds when the request arrived and when the token left): a client on the same machine
  subtracts the model's own time to first token (queueing in the model server included) from
  what it observed, and what is left is the time added by what sits in between.
- ``GET /_stats``: requests served, failed and refused, the number and total size of prompts,
  in-flight and queued requests now, and the most in flight at once. Nothing of the prompts'
  content is kept.
- ``GET /v1/models`` lists the one model, ``fake``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MARK_PREFIX = "⟦fm:"
WORDS = [
    "I",
    "hear",
    "you",
    "and",
    "I",
    "am",
    "glad",
    "you",
    "told",
    "me",
    "about",
    "it",
    "because",
    "it",
    "matters",
    "to",
    "me",
    "how",
    "your",
    "day",
    "went",
    "and",
    "what",
    "you",
    "are",
    "thinking",
    "about",
    "now",
    "that",
    "the",
    "evening",
    "is",
    "quiet",
    "and",
    "we",
    "can",
    "talk",
]


@dataclass
class Pace:
    ttft_s: float = 0.3
    tokens_per_s: float = 30.0
    reply_tokens: int = 60
    error_rate: float = 0.0
    concurrency: int = 256
    #: A fixed reply, word by word, with no timing mark (for the voice benchmark, which
    #: speaks what it gets); empty: the usual marked stream of ``reply_tokens`` words.
    reply: str = ""


@dataclass
class Stats:
    requests: int = 0
    failed: int = 0
    prompt_messages: int = 0
    prompt_chars: int = 0
    in_flight: int = 0
    queued: int = 0
    max_in_flight: int = 0
    tokens_sent: int = 0


def mark(received_us: int, sent_us: int) -> str:
    return f"{MARK_PREFIX}{received_us}:{sent_us}⟧ "


def read_mark(text: str) -> tuple[int, int] | None:
    """(received, sent) in microseconds from a reply that starts with a timing mark."""
    if not text.startswith(MARK_PREFIX):
        return None
    inner = text[len(MARK_PREFIX) :].split("⟧", 1)[0]
    try:
        received, sent = inner.split(":")
        return int(received), int(sent)
    except ValueError:
        return None


class FakeModel:
    def __init__(self, pace: Pace, seed: int = 0) -> None:
        self.pace = pace
        self.stats = Stats()
        self.slots = asyncio.Semaphore(pace.concurrency)
        self.random = random.Random(seed)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.complete, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/_stats", self.stats_view, methods=["GET"]),
            ]
        )

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def stats_view(self, request: Request) -> Response:
        return JSONResponse(asdict(self.stats))

    async def complete(self, request: Request) -> Response:
        received_us = time.time_ns() // 1000
        try:
            body: Any = json.loads(await request.body())
            messages = body["messages"]
            assert isinstance(messages, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            return _error(400, "the body must be JSON with a list of messages")
        self.stats.requests += 1
        self.stats.prompt_messages += len(messages)
        self.stats.prompt_chars += sum(len(str(m.get("content", ""))) for m in messages)
        if self.random.random() < self.pace.error_rate:
            self.stats.failed += 1
            return _error(500, "injected failure", "server_error")
        stream = bool(body.get("stream"))
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        count = len(self.pace.reply.split()) or self.pace.reply_tokens
        if isinstance(limit, int) and limit > 0:
            count = min(count, limit)
        if stream:
            return StreamingResponse(
                self._stream(received_us, count), media_type="text/event-stream"
            )
        text = "".join([part async for part in self._tokens(received_us, count)])
        return JSONResponse(_completion(text))

    async def _tokens(self, received_us: int, count: int) -> AsyncIterator[str]:
        self.stats.queued += 1
        async with self.slots:
            self.stats.queued -= 1
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            try:
                await asyncio.sleep(self.pace.ttft_s)
                gap = 1.0 / self.pace.tokens_per_s
                started = time.monotonic()
                fixed = self.pace.reply.split()
                for i in range(max(count, 1)):
                    if fixed:
                        token = fixed[i] + " "
                        delay = started + i * gap - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    elif i == 0:
                        token = mark(received_us, time.time_ns() // 1000)
                    else:
                        token = WORDS[i % len(WORDS)] + " "
                        # Keep to the pace over the whole reply, not token by token, so that
                        # timer slack does not add up.
                        delay = started + i * gap - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    self.stats.tokens_sent += 1
                    yield token
            finally:
                self.stats.in_flight -= 1

    async def _stream(self, received_us: int, count: int) -> AsyncIterator[bytes]:
        async for token in self._tokens(received_us, count):
            yield _sse({"choices": [{"index": 0, "delta": {"content": token}}]})
        yield _sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        yield b"data: [DONE]\n\n"


def _chunk_base() -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": "fake"}


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps({**_chunk_base(), **payload})}\n\n".encode()


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
    }


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ttft", type=float, default=0.3, help="seconds to the first token")
    parser.add_argument("--tokens-per-s", type=float, default=30.0)
    parser.add_argument("--reply-tokens", type=int, default=60)
    parser.add_argument("--error-rate", type=float, default=0.0, help="0 to 1")
    parser.add_argument("--concurrency", type=int, default=256, help="requests served at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reply", default="", help="a fixed reply, sent with no timing mark")
    args = parser.parse_args(argv)
    if args.ttft < 0 or args.tokens_per_s <= 0 or args.reply_tokens < 1:
        parser.error("--ttft must be >= 0, --tokens-per-s > 0 and --reply-tokens >= 1")
    if not 0 <= args.error_rate <= 1 or args.concurrency < 1:
        parser.error("--error-rate must be within 0..1 and --concurrency at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    pace = Pace(
        args.ttft,
        args.tokens_per_s,
        args.reply_tokens,
        args.error_rate,
        args.concurrency,
        args.reply,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(4096)  # connections made before uvicorn starts wait in the backlog
    port = sock.getsockname()[1]

    async def serve() -> None:
        model = FakeModel(pace, args.seed)
        config = uvicorn.Config(
            model.app(), log_level="warning", access_log=False, backlog=4096, lifespan="off"
        )
        server = uvicorn.Server(config)
        print(f"http://{args.host}:{port}/v1", flush=True)
        await server.serve(sockets=[sock])

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
