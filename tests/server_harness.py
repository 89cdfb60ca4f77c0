"""Running OS1's server for tests: in process (Starlette's TestClient) or on a real port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from os1.memory.accounts import create_token
from os1.runtime import open_store
from os1.server.app import create_app
from os1.server.serve import GracefulServer, WebSocketProtocol
from os1.settings import Settings


def server_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home,
        "brain": "fake",
        "interview": False,
        "rate_limit_per_minute": 6000,
        "rate_limit_burst": 1000,
    }
    values.update(overrides)
    return Settings(**values)


def make_token(settings: Settings, name: str, expires_in: timedelta | None = None) -> str:
    async def go() -> str:
        async with open_store(settings) as store:
            person = await store.ensure_person(name)
            return await create_token(store.engine, person, expires_in=expires_in)

    return asyncio.run(go())


@contextmanager
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(settings: Settings) -> Iterator[tuple[str, uvicorn.Server]]:
    """The server on a real port on 127.0.0.1, in a thread; yields its base URL and the
    uvicorn server (set ``should_exit`` to stop it as a signal would)."""
    port = free_port()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws=WebSocketProtocol,
        timeout_graceful_shutdown=int(settings.shutdown_grace),
    )
    server = GracefulServer(config, app, settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def auth(token: str) -> dict[str, str]:
    """The header that carries a person's bearer token."""
    return {"Authorization": f"Bearer {token}"}
