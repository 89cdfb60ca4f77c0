"""Letters rendered in a process of their own, one at a time per worker.

Writing a page in a hand takes seconds of CPU, much of it in Python. Run in a thread of the
server's process, it would share the interpreter lock with the event loop that serves every
conversation: with the loop busy, the render crawls (the lock goes back to the loop at each of
the render's many short calls into numpy and OpenCV), and with the render busy, the loop waits
its turn. A separate process has a lock of its own and can run on another core.

:class:`Renders` starts that process at the first render (``spawn``: a fresh interpreter, not a
copy of one that holds threads and sockets) and keeps it for the next ones. Renders wait their
turn, one at a time, as several at once would take the cores the conversations need. A process
that dies mid-render (killed for memory, say) is replaced at the next render, and the request
that was in it gets a 503.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from os1.server.children import die_with_parent
from os1.server.errors import APIError

T = TypeVar("T")
#: A render process is replaced after this many renders, so that what a long run gathers
#: (caches, fragmented memory) is given back now and then.
RENDERS_PER_PROCESS = 100


class Renders:
    """Runs render functions (module-level, with picklable arguments) in a process of their
    own, one at a time."""

    def __init__(self) -> None:
        self._turn = asyncio.Semaphore(1)
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, render: Callable[..., T], *args: object) -> T:
        async with self._turn:
            pool = self._ready()
            try:
                future = pool.submit(render, *args)
            except BrokenProcessPool:  # the process died while idle: a new one serves this
                self._drop(pool)
                pool = self._ready()
                future = pool.submit(render, *args)
            try:
                return await asyncio.wrap_future(future)
            except (BrokenProcessPool, KeyboardInterrupt, SystemExit) as exc:
                self._drop(pool)
                raise APIError(
                    503,
                    "the render stopped before it was done; try again",
                    "render_failed",
                    "server_error",
                ) from exc

    def _ready(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_starting,
                initargs=(os.getpid(),),
                max_tasks_per_child=RENDERS_PER_PROCESS,
            )
        return self._pool

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        _stop(pool)

    def close(self) -> None:
        """Stop the render process, and the render in it, if any."""
        pool, self._pool = self._pool, None
        if pool is not None:
            _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    # The executor has no public way to stop a running task before Python 3.14
    # (terminate_workers); a server shutting down should not wait out a long letter.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _starting(server: int) -> None:
    """Run in the render process as it starts. Ctrl-C in the terminal reaches the whole
    process group: stopping is the server's to decide, which stops this process in turn. And
    should the server die outright, this process goes with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(server, signal.SIGKILL)
