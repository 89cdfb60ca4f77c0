"""The access log: a line per HTTP request, with the status sent and the time to the
response's end, and nothing in the way of a handler that asks whether its client has gone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from os1.server.access import AccessLog


async def teapot(request: Request) -> Response:
    return PlainTextResponse("short and stout", status_code=418)


async def slow_stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            await asyncio.sleep(0.1)
            yield b"."

    return StreamingResponse(chunks())


async def broken(request: Request) -> Response:
    raise RuntimeError("boom")


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "os1.server" and r.getMessage() == "request"]


def test_each_request_is_logged_with_its_status_and_its_whole_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    routes = [Route("/tea", teapot), Route("/stream", slow_stream), Route("/broken", broken)]
    app = AccessLog(Starlette(routes=routes))
    caplog.set_level(logging.INFO, logger="os1.server")
    with TestClient(app, raise_server_exceptions=False) as api:
        assert api.get("/tea").status_code == 418
        assert api.get("/stream").content == b"..."
        assert api.get("/broken").status_code == 500
    tea, stream, failed = logged(caplog)
    assert (tea.method, tea.path, tea.status) == ("GET", "/tea", 418)  # type: ignore[attr-defined]
    assert stream.ms >= 250  # type: ignore[attr-defined]  # to the stream's end, not its headers
    assert failed.status == 500  # type: ignore[attr-defined]
