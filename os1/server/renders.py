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

A render whose client has gone (asked with ``gone``) is dropped: from its place in the queue,
or, begun, by stopping its process, so that nobody's letter takes the cores from the
conversations. When the server stops (:meth:`Renders.stop`), renders still waiting are refused
at once (503 ``stopping``), and the one running is given the rest of the shutdown grace, then
stopped with a 503 of its own, before the server cuts its connection.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from os1.server.children import die_with_parent
from os1.server.errors import APIError

T = TypeVar("T")
log = logging.getLogger("os1.server")
#: At most this many renders wait their turn in a worker; one more is refused at once with a
#: 503 and ``Retry-After``, never left hanging for many minutes.
MOST_WAITING = 8
#: What a render is taken to cost before one has been timed, s.
FIRST_GUESS = 10.0
#: A render process is replaced after this many renders, so that what a long run gathers
#: (caches, fragmented memory) is given back now and then.
RENDERS_PER_PROCESS = 100
#: How often a render asks whether its client is still there, s.
GONE_POLL_S = 0.5
#: What a client is told to wait before asking a stopping server again (or another worker).
STOPPING_RETRY_S = 5


class Renders:
    """Runs render functions (module-level, with picklable arguments) in a process of their
    own, one at a time."""

    def __init__(self, most_waiting: int = MOST_WAITING) -> None:
        self._turn = asyncio.Semaphore(1)
        self._stopping = asyncio.Event()
        self._pool: ProcessPoolExecutor | None = None
        self.most_waiting = most_waiting
        #: The renders not yet given their turn.
        self._queued: set[asyncio.Future[Any]] = set()
        #: A render's time, s: a moving mean of the last few, for the ``Retry-After`` hint.
        self.typical = FIRST_GUESS

    @property
    def waiting(self) -> int:
        """How many renders wait their turn: those queued, less one if the turn is free (the
        first of them is about to take it)."""
        queued = len(self._queued)
        return queued if self._turn.locked() else max(0, queued - 1)

    async def run(
        self,
        render: Callable[..., T],
        *args: object,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> T:
        """``render(*args)`` in the render process, in turn. ``gone``, if given, says whether
        the client has left; then the render is dropped, and this raises a 499."""
        self._admit()
        job = asyncio.ensure_future(self._in_turn(render, *args))
        self._queued.add(job)
        job.add_done_callback(self._queued.discard)
        if gone is None:
            return await job
        watch = asyncio.ensure_future(_left(gone))
        try:
            await asyncio.wait({job, watch}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            job.cancel()
            raise
        finally:
            watch.cancel()
        if job.done():
            return job.result()
        failed = None if watch.cancelled() else watch.exception()
        if failed is not None:  # asking failed, which is not the client leaving
            log.warning("cannot tell whether a render's client is there", exc_info=failed)
            return await job
        job.cancel()
        await asyncio.wait({job})  # its end, without taking a cancel meant for this task
        raise APIError(499, "the client left before its render was done", "client_gone")

    def stop(self, within: float) -> None:
        """The server is stopping: refuse the renders waiting and any new one; stop the one
        running, if any, in ``within`` seconds."""
        self._stopping.set()
        if self._pool is not None:
            asyncio.get_running_loop().call_later(max(0.0, within), self.close)

    def _admit(self) -> None:
        if self._stopping.is_set():
            raise _stopping_error()
        if self.waiting >= self.most_waiting:
            wait = min(3600, math.ceil(self.typical * (self.waiting + 1)))
            raise APIError(
                503,
                f"busy: {self.waiting} letters are waiting to be rendered; retry in {wait} s",
                "busy",
                "server_error",
                {"Retry-After": str(wait)},
            )

    async def _in_turn(self, render: Callable[..., T], *args: object) -> T:
        try:
            await self._take_turn()
        finally:
            self._queued.discard(asyncio.current_task())
        try:
            began = time.monotonic()
            done = await self._render(render, *args)
            self.typical = 0.7 * self.typical + 0.3 * (time.monotonic() - began)
            return done
        finally:
            self._turn.release()

    async def _take_turn(self) -> None:
        """Wait for the render process to be free; refused if the server starts to stop
        first."""
        take = asyncio.ensure_future(self._turn.acquire())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({take, stopping}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self._let_go(take)
            raise
        finally:
            stopping.cancel()
        if self._stopping.is_set():
            self._let_go(take)
            raise _stopping_error()

    def _let_go(self, take: asyncio.Future[Any]) -> None:
        """Give back a turn taken, or stop waiting for one."""
        if take.done() and not take.cancelled():
            self._turn.release()
        else:
            take.cancel()

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
        except asyncio.CancelledError:
            if not future.cancel():  # begun: only stopping its process stops it
                self._drop(pool)
            raise
        except (BrokenProcessPool, KeyboardInterrupt, SystemExit) as exc:
            self._drop(pool)
            if self._stopping.is_set():
                raise _stopping_error() from exc
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


async def _left(gone: Callable[[], Awaitable[bool]]) -> None:
    while not await gone():  # noqa: ASYNC110 (Starlette offers no event; only asking)
        await asyncio.sleep(GONE_POLL_S)


def _stopping_error() -> APIError:
    return APIError(
        503,
        "the server is stopping; try again in a moment",
        "stopping",
        "server_error",
        {"Retry-After": str(STOPPING_RETRY_S)},
    )


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
