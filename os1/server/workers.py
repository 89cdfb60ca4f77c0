"""Several server processes on one port: ``os1 up --workers N`` (``OS1_WORKERS``).

One worker is one event loop, so it uses one core. With ``--workers N`` this process starts N
``os1 up`` workers that each listen on the same address with ``SO_REUSEPORT``, and the kernel
spreads new connections among them. They keep nothing of their own that matters: PostgreSQL
holds what lasts and who is talking, Redis the rate limits and cancels (docs/scaling.md), so a
person may continue a conversation on any of them.

The supervisor passes Ctrl-C and SIGTERM on once, so every worker lets its replies finish
(``OS1_SHUTDOWN_GRACE``); a worker that dies is started again, unless workers keep dying
within seconds of starting (a setting that is wrong for all of them), when everything stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

import httpx

from os1.errors import ConfigError
from os1.server.children import die_with_parent
from os1.server.serve import banner
from os1.settings import Settings

log = logging.getLogger("os1.server")

#: A worker that ends sooner than this after its start counts as failing to start.
EARLY_S = 10.0
#: After this many early ends in a row, the supervisor gives up.
MAX_EARLY = 3
#: Seconds to wait before starting a worker that died again.
RESTART_PAUSE_S = 1.0
#: Seconds past ``OS1_SHUTDOWN_GRACE`` a stopping worker gets before it is killed.
STOP_MARGIN_S = 15.0


def check(settings: Settings) -> None:
    """Refuse, with the reason, settings under which several workers would disagree."""
    if settings.workers <= 1:
        return
    if not settings.resolved_database_url.startswith("postgresql"):
        raise ConfigError(
            "several workers need PostgreSQL (OS1_DATABASE_URL=postgresql+asyncpg://...): "
            "SQLite takes one writer at a time"
        )
    if settings.redis_url is None:
        raise ConfigError(
            "several workers share rate limits and cancels through Redis: set OS1_REDIS_URL "
            "(e.g. redis://127.0.0.1:6379/0)"
        )
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError("several workers need SO_REUSEPORT, which this system lacks")


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


def supervise(settings: Settings) -> int:
    """Run ``settings.workers`` workers until a signal; the exit status."""
    check(settings)
    # Hold the port (bound, never listening, so no connection waits on it): a port of 0 is
    # chosen here once for all the workers, and a port taken by another program is found
    # before any worker starts.
    holder = _hold_port(settings.host, settings.port)
    port = holder.getsockname()[1]
    settings = settings.model_copy(update={"port": port})
    stopping: list[int] = []
    workers: list[Worker] = []
    gave_up = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)
        if len(stopping) > 1:  # asked twice: stop now, as a single server does
            for w in workers:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        workers += [_start(settings, i) for i in range(settings.workers)]
        if _wait_listening(settings, workers, stopping):
            sys.stderr.write(
                banner(settings)
                + f"\n{settings.workers} workers (process ids "
                + ", ".join(str(w.proc.pid) for w in workers)
                + ")\n"
            )
        early = 0
        while not stopping and not gave_up:
            time.sleep(0.2)
            for n, w in enumerate(workers):
                code = w.proc.poll()
                if code is None or stopping:
                    continue
                early = early + 1 if time.monotonic() - w.started < EARLY_S else 0
                log.warning(
                    "worker ended; starting it again",
                    extra={"worker": w.index, "pid": w.proc.pid, "exit_code": code},
                )
                if early >= MAX_EARLY:
                    log.error("workers keep ending as they start; stopping")
                    gave_up = True
                    break
                time.sleep(RESTART_PAUSE_S)
                if not stopping:
                    workers[n] = _start(settings, w.index)
    finally:
        codes = _stop(workers, settings.shutdown_grace + STOP_MARGIN_S)
        holder.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if gave_up:
        return 1
    return 0 if all(c in (0, -signal.SIGTERM) for c in codes) else 1


def _hold_port(host: str, port: int) -> socket.socket:
    """Check that nothing else has ``host:port`` (another ``os1 up`` included), then hold it
    for the workers: bound with ``SO_REUSEPORT`` only, never listening, so no connection waits
    on it and no program but the workers can take the port meanwhile."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        holder = socket.socket(family, socket.SOCK_STREAM)
        try:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            holder.bind((host, port))
        except BaseException:
            holder.close()
            raise
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from exc
    return holder


def _start(settings: Settings, index: int) -> Worker:
    env = dict(os.environ, OS1_WORKERS="1")
    command = [sys.executable, "-m", "os1", "up", "--worker"]
    command += ["--host", settings.host, "--port", str(settings.port)]
    # Each worker in a session of its own: Ctrl-C in a terminal reaches the supervisor only,
    # which passes one SIGTERM on (a second signal would make a worker drop its replies).
    supervisor = os.getpid()
    proc = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: _die_with_supervisor(supervisor),
    )
    return Worker(index, proc)


def _wait_listening(settings: Settings, workers: list[Worker], stopping: list[int]) -> bool:
    """Wait until a worker answers ``/healthz``; False if stopped or all ended first."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(settings.host, settings.host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/healthz"
    while not stopping:
        if all(w.proc.poll() is not None for w in workers):
            return False
        with contextlib.suppress(httpx.HTTPError, httpx.InvalidURL):
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return True
        time.sleep(0.2)
    return False


def _stop(workers: list[Worker], grace: float) -> list[int]:
    """SIGTERM each worker once and wait for all; one still running after ``grace`` seconds
    is killed. Their exit codes."""
    for w in workers:
        if w.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    codes = []
    for w in workers:
        try:
            codes.append(w.proc.wait(max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            log.error("worker did not stop in time; killing it", extra={"pid": w.proc.pid})
            w.proc.kill()
            codes.append(w.proc.wait())
    return codes


def _die_with_supervisor(supervisor: int) -> None:
    """Run in the worker before it starts: on Linux, it gets SIGTERM should the supervisor
    die, even killed outright, so no worker is left holding the port."""
    die_with_parent(supervisor, signal.SIGTERM)
