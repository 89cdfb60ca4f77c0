"""Request limits: body size and body time (an ASGI middleware), and per-token rates."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from os1.server.errors import ErrorBody, ErrorDetail

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyLimit:
    """Reads a request's whole body before the app sees it: over ``max_bytes`` is a 413, and a
    body that takes longer than ``timeout`` seconds to arrive (a slow-loris client) is a 408."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, 413, "request_too_large", self._too_large())
            return
        try:
            body = await asyncio.wait_for(self._read(receive), self.timeout)
        except _TooLarge:
            await _refuse(send, 413, "request_too_large", self._too_large())
            return
        except _Gone:
            return  # the client left before sending its body: nothing to do
        except TimeoutError:
            await _refuse(send, 408, "request_timeout", "the request body did not arrive in time")
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes:,} bytes"

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    detail = ErrorDetail(message=message, type="invalid_request_error", code=code)
    body = ErrorBody(error=detail).model_dump_json().encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status in (408, 413):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``per_minute``."""

    per_minute: float
    burst: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def check(self, key: str, now: float | None = None) -> int | None:
        """None if the request may go ahead, else the seconds to wait (for Retry-After)."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(key) or _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        self._buckets[key] = bucket
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / rate))
