"""The render process: one at a time, replaced when it dies, stopped with the server, deaf to
the terminal's Ctrl-C, and never left running without its server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from os1.server.errors import APIError
from os1.server.renders import Renders


def pid_after(seconds: float) -> int:
    """A render that takes ``seconds`` and answers with the id of the process it ran in."""
    time.sleep(seconds)
    return os.getpid()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has died: only its parent's wait is due
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_closing_stops_a_render_in_progress() -> None:
    async def scenario() -> float:
        renders = Renders()
        assert await renders.run(pow, 2, 10) == 1024  # started, and warm
        long = asyncio.ensure_future(renders.run(time.sleep, 60))
        await asyncio.sleep(0.5)
        began = time.monotonic()
        renders.close()
        with pytest.raises(APIError, match="stopped before it was done"):
            await asyncio.wait_for(long, 20)
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 10


def test_a_process_that_died_idle_is_replaced_for_the_next_render() -> None:
    async def scenario() -> None:
        renders = Renders()
        first = await renders.run(pid_after, 0)
        os.kill(first, signal.SIGKILL)
        await asyncio.sleep(1)
        second = await renders.run(pid_after, 0)  # served, by a new process
        assert second != first
        # One that dies mid-render is that request's 503, and the next one is served.
        dying = asyncio.ensure_future(renders.run(pid_after, 30))
        await asyncio.sleep(1)
        os.kill(second, signal.SIGKILL)
        with pytest.raises(APIError, match="stopped before it was done"):
            await asyncio.wait_for(dying, 20)
        assert await renders.run(pid_after, 0) not in (first, second)
        renders.close()

    asyncio.run(scenario())


def test_ctrl_c_in_the_terminal_is_the_servers_to_handle() -> None:
    """Ctrl-C goes to the whole process group; the render goes on, and the server decides."""

    async def scenario() -> None:
        renders = Renders()
        pid = await renders.run(pid_after, 0)
        running = asyncio.ensure_future(renders.run(pid_after, 1.5))
        await asyncio.sleep(0.5)
        os.kill(pid, signal.SIGINT)
        assert await asyncio.wait_for(running, 20) == pid
        renders.close()

    asyncio.run(scenario())


def test_the_render_process_dies_with_its_server() -> None:
    server = textwrap.dedent(
        """
        import asyncio, sys
        sys.path.insert(0, sys.argv[1])
        from os1.server.renders import Renders
        from test_renders import pid_after

        async def main():
            renders = Renders()
            print(await renders.run(pid_after, 0), flush=True)
            await renders.run(pid_after, 60)

        asyncio.run(main())
        """
    )
    here = os.path.dirname(__file__)
    command = [sys.executable, "-c", server, here]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        render = int(proc.stdout.readline())
        time.sleep(0.5)
        proc.kill()  # no goodbye: as the supervisor kills a worker past its grace
    deadline = time.monotonic() + 10
    while alive(render) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(render)


def test_past_the_most_waiting_a_render_is_refused_at_once_with_a_retry_hint() -> None:
    async def scenario() -> None:
        renders = Renders(most_waiting=2)
        await renders.run(pid_after, 0)
        queued = [asyncio.ensure_future(renders.run(pid_after, 0.8)) for _ in range(3)]
        await asyncio.sleep(0.3)  # one rendering, two waiting
        began = time.monotonic()
        with pytest.raises(APIError, match="busy: 2 letters are waiting") as refused:
            await renders.run(pid_after, 0)
        assert time.monotonic() - began < 0.5
        assert refused.value.status == 503 and refused.value.headers is not None
        assert int(refused.value.headers["Retry-After"]) >= 1
        await asyncio.gather(*queued)  # the queued ones are served
        assert renders.waiting == 0
        # A waiter that gives up leaves its place.
        first = asyncio.ensure_future(renders.run(pid_after, 0.8))
        await asyncio.sleep(0.2)
        gone = asyncio.ensure_future(renders.run(pid_after, 0))
        await asyncio.sleep(0.1)
        assert renders.waiting == 1
        gone.cancel()
        await asyncio.sleep(0.1)
        assert renders.waiting == 0
        await first
        assert await renders.run(pid_after, 0) > 0
        renders.close()

    asyncio.run(scenario())


def test_stopping_refuses_the_waiting_at_once_and_gives_the_running_one_its_time() -> None:
    async def scenario() -> None:
        renders = Renders()
        pid = await renders.run(pid_after, 0)
        running = asyncio.ensure_future(renders.run(pid_after, 60))
        waiting = asyncio.ensure_future(renders.run(pid_after, 0))
        await asyncio.sleep(0.5)
        began = time.monotonic()
        renders.stop(within=1.0)
        with pytest.raises(APIError, match="stopping") as refused:
            await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - began < 0.5 and refused.value.status == 503
        with pytest.raises(APIError, match="stopping"):
            await renders.run(pid_after, 0)  # nor is a new one taken
        assert alive(pid)
        with pytest.raises(APIError, match="stopping") as stopped:
            await asyncio.wait_for(running, 20)
        assert 0.9 < time.monotonic() - began < 10
        assert stopped.value.headers == {"Retry-After": "5"} and not alive(pid)

    asyncio.run(scenario())


def test_a_render_whose_client_left_gives_its_turn_to_the_next() -> None:
    async def scenario() -> None:
        renders = Renders()
        pid = await renders.run(pid_after, 0)
        left = asyncio.Event()

        async def gone() -> bool:
            return left.is_set()

        running = asyncio.ensure_future(renders.run(pid_after, 60, gone=gone))
        waiting = asyncio.ensure_future(renders.run(pid_after, 0, gone=gone))
        staying = asyncio.ensure_future(renders.run(pid_after, 0))
        await asyncio.sleep(0.5)
        assert renders.waiting == 2
        left.set()
        for job in (running, waiting):
            with pytest.raises(APIError, match="client left") as refused:
                await asyncio.wait_for(job, 5)
            assert refused.value.status == 499
        assert await asyncio.wait_for(staying, 20) != pid  # served, by a new process
        assert not alive(pid) and renders.waiting == 0
        renders.close()

    asyncio.run(scenario())


def test_a_client_check_that_fails_is_not_taken_for_a_client_that_left() -> None:
    async def scenario() -> None:
        renders = Renders()

        async def broken() -> bool:
            raise RuntimeError("the connection cannot be asked")

        assert await renders.run(pow, 2, 5, gone=broken) == 32
        renders.close()

    asyncio.run(scenario())
