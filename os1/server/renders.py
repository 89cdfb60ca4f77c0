"""Letters rendered in a process of their own, one at a time per worker.

Writing a page in a hand takes seconds of CPU, much of it in Python. Run in a thread of the
server's process, it would share the interpreter lock with the event loop that serves every
conversation: with the loop busy, the render crawls (the lock goes back to the loop at each of
the render's many short calls into numpy and OpenCV), and with the render busy, the loop waits
its turn. A separate process has a lock of its own and can run on another core.

:class:`Renders` starts that process at the first render (``spawn``: a fresh interpreter, not a
copy of one that holds threads and sockets) and keeps it for the next ones. Renders wait their
turn, one at a time, as several at once would take the cores the conversations need; past
:data:`MOST_WAITING` waiting, one more is refused at once (503, with a ``Retry-After`` from the
recent renders' times). A process that dies mid-render (killed for memory, say) is replaced at
the next render, and the request that was in it gets a 503; one that died idle is replaced
unseen. The process ignores the terminal's Ctrl-C, which the server handles, and dies with the
server, even one killed outright.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from os1.server.children import die_with_parent
from os1.server.errors import APIError

T = TypeVar("T")
#: At most this many renders wait their turn in a worker; one more is refused at once with a
#: 503 and ``Retry-After``, never left hanging for many minutes.
MOST_WAITING = 8
#: What a render is taken to cost before one has been timed, s.
FIRST_GUESS = 10.0
#: A render process is replaced after this many renders, so that what a long run gathers
#: (caches, fragmented memory) is given back now and then.
RENDERS_PER_PROCESS = 100


class Renders:
    """Runs render functions (module-level, with picklable arguments) in a process of their
    own, one at a time."""

    def __init__(self, most_waiting: int = MOST_WAITING) -> None:
        self._turn = asyncio.Semaphore(1)
        self._pool: ProcessPoolExecutor | None = None
        self.most_waiting = most_waiting
        self.waiting = 0
        #: A render's time, s: a moving mean of the last few, for the ``Retry-After`` hint.
        self.typical = FIRST_GUESS

    async def run(self, render: Callable[..., T], *args: object) -> T:
        if self.waiting >= self.most_waiting:
            wait = min(3600, math.ceil(self.typical * (self.waiting + 1)))
            raise APIError(
                503,
                f"busy: {self.waiting} letters are waiting to be rendered; retry in {wait} s",
                "busy",
                "server_error",
                {"Retry-After": str(wait)},
            )
        self.waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self.waiting -= 1
        try:
            began = time.monotonic()
            done = await self._render(render, *args)
            self.typical = 0.7 * self.typical + 0.3 * (time.monotonic() - began)
            return done
        finally:
            self._turn.release()

    async def _render(self, render: Callable[..., T], *args: object) -> T:
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
