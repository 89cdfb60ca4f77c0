"""The access log: one line per HTTP request, as a plain ASGI middleware.

Starlette's ``BaseHTTPMiddleware`` (``app.middleware("http")``) would be shorter, but it hands
the app a ``receive`` of its own, through which ``Request.is_disconnected`` never sees the
client leave, so a long render would go on for nobody; and it copies every chunk of a
streamed reply through a channel of its own.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("os1.server")


class AccessLog:
    """Logs each HTTP request's method, path, status and time to its response's end (a
    request that failed with an exception is logged as a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
