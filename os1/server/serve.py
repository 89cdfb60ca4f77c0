"""Running the server with uvicorn, with a graceful stop.

On Ctrl-C or SIGTERM the server stops taking connections, lets the replies being written finish
for up to ``OS1_SHUTDOWN_GRACE`` seconds, cancels the ones still running (their clients get a
clean "cancelled" end, never half a reply stored), and only then closes connections. A letter
being rendered has the same grace, less :data:`RENDER_MARGIN_S`, then a 503 of its own
(:meth:`os1.server.renders.Renders.stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import resource
import shlex
import shutil
import socket
import sys
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from os1.server.app import create_app
from os1.server.state import ServerState
from os1.settings import Settings

log = logging.getLogger("os1.server")
#: A render still running at shutdown is stopped this long before the grace ends, s.
RENDER_MARGIN_S = 0.5
EXAMPLE = '{"model": "samantha", "messages": [{"role": "user", "content": "hi"}]}'


def own_command() -> str:
    """How to run this same ``os1`` again from a shell: ``python -m os1`` when started that
    way, else the script's path when it is not the one ``os1`` on the PATH finds."""
    started = Path(sys.argv[0])
    if started.name == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m os1"
    found = shutil.which("os1")
    if found and Path(found).resolve() == started.resolve():
        return "os1"
    return shlex.quote(str(started))


def banner(settings: Settings) -> str:
    base = f"http://{settings.host}:{settings.port}"
    command = own_command()
    return (
        f"OS1 is listening on {base} (API docs: {base}/docs).\n"
        f"Make a token:  {command} person add NAME\n"
        f"Then talk:     any OpenAI client with base URL {base}/v1, the token as API key, "
        "and model samantha;\n"
        f"               or  curl {base}/v1/chat/completions -H 'Authorization: Bearer TOKEN' "
        "-H 'Content-Type: application/json' "
        f"-d '{EXAMPLE}'\n"
        "Stop with Ctrl-C: replies in flight get time to finish."
    )


class GracefulServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        app: FastAPI,
        settings: Settings,
        *,
        quiet: bool = False,
        own_process: bool = False,
    ) -> None:
        """``own_process``: the server is all the process runs (``os1 up``), so it may tune
        the process's garbage collector."""
        super().__init__(config)
        self.app, self.settings, self.quiet = app, settings, quiet
        self.own_process = own_process

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.own_process:
            _freeze_startup_objects()
        if self.started and not self.quiet:
            sys.stderr.write(banner(self.settings) + "\n")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # take no new connections while replies finish
        state: ServerState | None = getattr(self.app.state, "os1", None)
        if state is not None:
            state.stopping.set()
            grace = self.settings.shutdown_grace
            # A render is stopped with a 503 of its own before uvicorn cuts its connection.
            state.renders.stop(within=grace - RENDER_MARGIN_S)
            left = await _let_replies_finish(state, grace)
            self.config.timeout_graceful_shutdown = max(1, math.ceil(left))
        await super().shutdown(sockets)


async def _let_replies_finish(state: ServerState, grace: float) -> float:
    """Wait up to ``grace`` seconds for replies in flight; cancel the rest. Returns the time
    left of the grace."""
    deadline = time.monotonic() + grace
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.inflight.idle.wait(), grace)
    if state.inflight.count:
        log.warning("cancelling replies at shutdown", extra={"replies": state.inflight.count})
        state.inflight.cancel_all()
        await asyncio.sleep(0.2)
    return max(deadline - time.monotonic(), 0.0)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, but a socket the app has already closed (OS1
    closes its conversations with 1001 when it stops) is not sent a second close frame at
    shutdown: uvicorn 0.54 does, the websockets library refuses, and the exception ended the
    server's shutdown halfway (the app's own shutdown skipped)."""

    def shutdown(self) -> None:
        if self.handshake_complete and self.conn.state is not State.OPEN:
            self.transport.close()
            return
        super().shutdown()


def _freeze_startup_objects() -> None:
    """Leave what startup made (models, schemas, routes: most of the heap) out of the garbage
    collector's full passes, which otherwise walk all of it and stop the event loop for
    hundreds of milliseconds, a few times a minute under load."""
    gc.collect()
    gc.freeze()
    # Collect the young generation after 20,000 new objects rather than 700: a server makes
    # many short-lived ones per turn, and each pass costs a pause.
    gc.set_threshold(20_000, *gc.get_threshold()[1:])


def _more_open_files() -> None:
    """Each connection is a file: raise the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def shared_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other processes may bind too
    (``SO_REUSEPORT``): the kernel spreads new connections among those that listen. It is
    left to uvicorn to listen once the app has started, so a worker starting (again) takes no
    connection before it can answer it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def serve(settings: Settings, *, worker: bool = False) -> int:
    """Run the server until Ctrl-C or SIGTERM. A ``worker`` (one of ``os1 up --workers N``)
    shares its port with the others and leaves the banner to its supervisor."""
    _more_open_files()
    sockets = None
    if worker:
        try:
            sockets = [shared_port_socket(settings.host, settings.port)]
        except OSError as exc:
            log.error("cannot listen", extra={"port": settings.port, "error": str(exc)})
            return 1
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace),
        limit_concurrency=settings.max_connections,
        ws=WebSocketProtocol,
        lifespan="on",
    )
    server = GracefulServer(config, app, settings, quiet=worker, own_process=True)
    try:
        await server.serve(sockets)
    except SystemExit:  # uvicorn exits when it cannot bind; it has logged why
        return 1
    return 0 if server.started else 1
