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
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

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
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=RENDERS_PER_PROCESS,
                )
            pool = self._pool
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, render, *args)
            except BrokenProcessPool as exc:
                if self._pool is pool:
                    self._pool = None
                pool.shutdown(wait=False)
                raise APIError(
                    503,
                    "the render stopped before it was done; try again",
                    "render_failed",
                    "server_error",
                ) from exc

    def close(self) -> None:
        """Stop the render process, and the render in it, if any."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # The executor has no public way to stop a running task before Python 3.14
        # (terminate_workers); a server shutting down should not wait out a long letter.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
