"""Two `os1 up` workers on different ports, one PostgreSQL and one Redis: a person continues a
conversation on either worker, rate limits count across both, and a reply being written by one
is cancelled through the other."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from openai_server import OpenAIServer

REDIS_URL = os.environ.get("OS1_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_db() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


def start_worker(env: dict[str, str], log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "os1", "up", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"worker did not start: {log.read_text()}")


@pytest.fixture
def workers(
    tmp_path: Path, pg_url: str, redis_db: str, openai_server: OpenAIServer
) -> Iterator[tuple[str, str, str]]:
    """(worker A, worker B, admin token)."""
    admin = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env.update(
        OS1_DATABASE_URL=pg_url,
        OS1_REDIS_URL=redis_db,
        OS1_LLM_URL=openai_server.base_url,
        OS1_BRAIN="openai",
        OS1_INTERVIEW="false",
        OS1_DISTILL="off",
        OS1_EMBEDDER="none",
        OS1_ADMIN_TOKEN=admin,
        OS1_RATE_LIMIT_PER_MINUTE="1",
        OS1_RATE_LIMIT_BURST="12",
    )
    procs = []
    try:
        urls = []
        for name in ("a", "b"):
            home = tmp_path / name
            home.mkdir()
            url, proc = start_worker({**env, "OS1_HOME": str(home)}, tmp_path / f"{name}.log")
            urls.append(url)
            procs.append(proc)
        yield urls[0], urls[1], admin
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def person(url: str, admin: str) -> dict[str, str]:
    made = httpx.post(
        f"{url}/v1/people",
        json={"name": f"p-{uuid.uuid4().hex[:8]}"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


def send(url: str, conv: int, auth: dict[str, str], text: str) -> None:
    """One message, its reply written whole."""
    answer = httpx.post(
        f"{url}/v1/conversations/{conv}/messages",
        json={"content": text},
        headers=auth,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def test_a_conversation_continues_on_either_worker(
    workers: tuple[str, str, str], openai_server: OpenAIServer
) -> None:
    a, b, admin = workers
    auth = person(a, admin)
    conv = httpx.post(f"{b}/v1/conversations", json={}, headers=auth).json()["id"]
    said = [f"message {i} on worker {'ab'[i % 2]}" for i in range(6)]
    for i, text in enumerate(said):
        url = (a, b)[i % 2]
        send(url, conv, auth, text)
    for url in (a, b):
        turns = httpx.get(f"{url}/v1/conversations/{conv}", headers=auth).json()["turns"]
        users = [t["content"] for t in turns if t["role"] == "user"]
        assert users == said  # every message once, in order, seen the same from both
        assert sum(t["role"] == "assistant" for t in turns) == len(said)
    # The model saw the conversation so far at each turn, whichever worker asked it.
    last_prompt = openai_server.requests[-1]["messages"]
    assert [m["content"] for m in last_prompt if m["role"] == "user"][-3:] == said[-3:]


def test_rate_limits_count_across_workers(workers: tuple[str, str, str]) -> None:
    a, b, admin = workers
    auth = person(a, admin)
    codes = [httpx.get(f"{(a, b)[i % 2]}/v1/status", headers=auth).status_code for i in range(14)]
    # A burst of 12 in all, wherever the requests land (the first went to make the person).
    assert codes.count(200) == 12 and codes[-1] == 429


async def test_a_reply_is_cancelled_through_the_other_worker(
    workers: tuple[str, str, str], openai_server: OpenAIServer
) -> None:
    a, b, admin = workers
    auth = person(a, admin)
    openai_server.mode, openai_server.delay = "slow", 20
    async with httpx.AsyncClient(timeout=60) as client:
        conv = (await client.post(f"{a}/v1/conversations", json={}, headers=auth)).json()["id"]
        writing = asyncio.create_task(
            client.post(
                f"{a}/v1/conversations/{conv}/messages", json={"content": "hi"}, headers=auth
            )
        )
        cancelled = False
        for _ in range(50):  # until worker A has started the reply
            await asyncio.sleep(0.1)
            answer = await client.post(f"{b}/v1/conversations/{conv}/cancel", headers=auth)
            if answer.json()["cancelled"]:
                cancelled = True
                break
        assert cancelled
        reply = await asyncio.wait_for(writing, 10)
        assert reply.status_code == 409 and reply.json()["error"]["code"] == "cancelled"


# -- os1 up --workers N: several workers on one port, under one supervisor ----------------------
def worker_env(tmp_path: Path, pg_url: str, redis_url: str, model_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env.update(
        OS1_HOME=str(tmp_path / "home"),
        OS1_DATABASE_URL=pg_url,
        OS1_REDIS_URL=redis_url,
        OS1_LLM_URL=model_url,
        OS1_BRAIN="openai",
        OS1_INTERVIEW="false",
        OS1_DISTILL="off",
        OS1_EMBEDDER="none",
        OS1_ADMIN_TOKEN="admin-" + uuid.uuid4().hex,
        OS1_SHUTDOWN_GRACE="5",
    )
    return env


def pids_answering(url: str, want: int, tries: int = 200) -> set[int]:
    """The workers seen answering ``/healthz``, each call on a new connection (the kernel
    spreads those among the workers), until ``want`` are seen."""
    seen: set[int] = set()
    for _ in range(tries):
        answer = httpx.get(f"{url}/healthz", timeout=10)
        assert answer.status_code == 200, answer.text
        seen.add(answer.json()["load"]["worker"])
        if len(seen) >= want:
            break
    return seen


def collected(pid: int) -> bool:
    """Whether ``pid`` has ended and its parent has collected it. A zombie is not enough: a
    process's threads share its files, and the first thread to die (often the main one, whose
    state ``/proc/PID/stat`` shows) turns zombie while the others may still hold the files
    open; its parent can collect it only once all of them have exited."""
    return not Path(f"/proc/{pid}").exists()


def test_workers_share_one_port_and_one_that_dies_is_started_again(
    tmp_path: Path, pg_url: str, redis_db: str, openai_server: OpenAIServer
) -> None:
    env = worker_env(tmp_path, pg_url, redis_db, openai_server.base_url)
    port = free_port()
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "os1", "up", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while "2 workers (process ids" not in log.read_text():
            assert up.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        # The banner's commands run as given: this one was started as python -m os1.
        assert f"Make a token:  {sys.executable} -m os1 person add NAME" in log.read_text()
        first = pids_answering(url, 2)
        assert len(first) == 2, first  # both take connections on the one port
        # A conversation over connections that land on either worker: nothing lost or doubled.
        admin = {"Authorization": f"Bearer {env['OS1_ADMIN_TOKEN']}"}
        made = httpx.post(f"{url}/v1/people", json={"name": "theodore"}, headers=admin)
        auth = {"Authorization": f"Bearer {made.json()['token']}"}
        conv = httpx.post(f"{url}/v1/conversations", json={}, headers=auth).json()["id"]
        said = [f"message {i}" for i in range(6)]
        for text in said:
            send(url, conv, auth, text)
        turns = httpx.get(f"{url}/v1/conversations/{conv}", headers=auth).json()["turns"]
        assert [t["content"] for t in turns if t["role"] == "user"] == said
        # A worker killed outright is replaced; the other goes on answering meanwhile.
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # Until its files are closed, a dying worker's socket still takes connections, which
        # the kernel resets when it closes (docs/scaling.md): ask once the supervisor has
        # collected it, which it can only do after every thread of it has let go of them.
        deadline = time.monotonic() + 60
        while not collected(victim):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        while True:
            now = pids_answering(url, 2, tries=20)
            if len(now) == 2 and victim not in now:
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert "worker ended; starting it again" in log.read_text()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(60)
    assert code == 0, log.read_text()
    for pid in first | now:  # no worker outlives its supervisor
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with socket.socket() as s:  # and the port is free again
        s.bind(("127.0.0.1", port))


def up_two_workers(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """`os1 up --workers 2` expected to end by itself (refused, or failing to start)."""
    return subprocess.run(
        [sys.executable, "-m", "os1", "up", "--workers", "2", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"OS1_REDIS_URL": None}, "set OS1_REDIS_URL"),
        ({"OS1_DATABASE_URL": None}, "several workers need PostgreSQL"),
    ],
)
def test_several_workers_without_what_they_share_are_refused(
    tmp_path: Path, pg_url: str, change: dict[str, str | None], says: str
) -> None:
    env = worker_env(tmp_path, pg_url, REDIS_URL, "http://127.0.0.1:9/v1")
    for key, value in change.items():
        if value is None:
            env.pop(key)
    done = up_two_workers(env, free_port())
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr


def test_a_port_taken_by_another_program_is_refused_before_any_worker_starts(
    tmp_path: Path, pg_url: str
) -> None:
    env = worker_env(tmp_path, pg_url, REDIS_URL, "http://127.0.0.1:9/v1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = up_two_workers(env, port)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr, done.stderr


# -- the shared state itself ------------------------------------------------------------------
async def test_thousands_checking_at_once_wait_for_a_redis_connection_instead_of_failing(
    redis_db: str,
) -> None:
    from os1.server.shared import REDIS_CONNECTIONS, RedisShared

    shared = await RedisShared.connect(redis_db, 60.0, 2, lambda _: False)
    try:
        many = 20 * REDIS_CONNECTIONS  # as when thousands of people connect at once
        waits = await asyncio.gather(*(shared.check(f"person:{i % 400}") for i in range(many)))
        # Each of the 400 people had a burst of 2: the first two went ahead, the rest wait.
        assert sum(w is None for w in waits) == 800
        assert all(w is None or w >= 1 for w in waits)
        await asyncio.gather(*(shared.replying(i, True) for i in range(many)))
        assert await shared.cancel(5)
        await asyncio.gather(*(shared.replying(i, False) for i in range(many)))
        assert not await shared.cancel(5)
    finally:
        await shared.close()


async def test_a_dead_workers_reply_marks_expire_and_a_live_ones_are_renewed(
    redis_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from os1.server import shared as shared_module

    # Marks live 6 s, renewed every 2 s: the workers here share one event loop, which a loaded
    # machine may stall for seconds (at 2 s they expired now and then under load).
    monkeypatch.setattr(shared_module, "INFLIGHT_TTL_S", 6.0)
    connect = shared_module.RedisShared.connect
    alive, dying, asking = [await connect(redis_db, 60.0, 2, lambda _: False) for _ in range(3)]
    workers = shared_module.INFLIGHT_KEY + ":workers"
    try:
        await alive.replying(1, True)  # a long reply, still being written after 5 s
        await dying.replying(2, True)
        assert await asking.cancel(1) and await asking.cancel(2)
        assert 0 < await asking.redis.ttl(workers) <= 6  # the set of workers expires too
        # The dying worker stops writing its marks (as when it is killed mid-reply).
        assert dying._writer is not None
        dying._writer.cancel()
        await asyncio.sleep(9)
        assert await asking.cancel(1)  # renewed meanwhile
        assert not await asking.cancel(2)  # nobody is writing it any more
        members = await asking.redis.smembers(workers)
        assert dying.worker.encode() not in members and alive.worker.encode() in members
        await alive.replying(1, False)
        assert not await asking.cancel(1)
    finally:
        for shared in (alive, dying, asking):
            await shared.close()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Wait until ``check`` holds (a worker's next rewrite of its marks comes within 2 s here,
    and marks expire in 6, but a loaded machine may be slower); fail after ``within``
    seconds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "still not so"
        await asyncio.sleep(0.1)


async def no(answer: Awaitable[bool]) -> bool:
    return not await answer


async def test_a_workers_marks_are_put_right_when_redis_missed_a_change_or_lost_them(
    redis_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from os1.errors import StorageError
    from os1.server import shared as shared_module

    monkeypatch.setattr(shared_module, "INFLIGHT_TTL_S", 6.0)  # rewritten every 2 s
    connect = shared_module.RedisShared.connect
    here, asking = [await connect(redis_db, 60.0, 2, lambda _: False) for _ in range(2)]
    sync = here._sync

    async def unreachable(**_: object) -> None:
        raise redis.exceptions.ConnectionError("Redis went away")

    async def slow(**given: Any) -> Any:
        await asyncio.sleep(0.5)
        return await sync(**given)

    try:
        # A reply's end that Redis missed, while another reply goes on here: put right.
        await here.replying(3, True)
        await here.replying(4, True)
        monkeypatch.setattr(here, "_sync", unreachable)
        with pytest.raises(StorageError, match="Redis"):
            await here.replying(3, False)
        monkeypatch.setattr(here, "_sync", sync)
        await eventually(lambda: no(asking.cancel(3)))
        assert await asking.cancel(4)
        # Marks Redis lost (a restart, or an outage past their lifetime) are written again.
        await asking.redis.delete(here._marks)
        assert not await asking.cancel(4)  # which also drops the worker from the set
        await eventually(lambda: asking.cancel(4))
        # A start Redis did not take, or one cancelled while Redis was slow, is taken back.
        monkeypatch.setattr(here, "_sync", unreachable)
        with pytest.raises(StorageError, match="Redis"):
            await here.replying(5, True)
        monkeypatch.setattr(here, "_sync", slow)
        starting = asyncio.create_task(here.replying(6, True))
        await asyncio.sleep(0.1)
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        monkeypatch.setattr(here, "_sync", sync)
        assert here._counts == {4: 1}
        await eventually(lambda: no(asking.cancel(6)))
        assert not await asking.cancel(5)
        # When Redis misses the last reply's end too, the marks expire.
        monkeypatch.setattr(here, "_sync", unreachable)
        with pytest.raises(StorageError, match="Redis"):
            await here.replying(4, False)
        await eventually(lambda: no(asking.cancel(4)))
        monkeypatch.setattr(here, "_sync", sync)
        # A worker that stops takes its marks out at once, and starts no reply after.
        await here.replying(7, True)
        assert await asking.cancel(7)
        await here.close()
        assert not await asking.cancel(7)
        with pytest.raises(StorageError, match="stopping"):
            await here.replying(8, True)
    finally:
        for shared in (here, asking):
            await shared.close()


async def test_redis_out_of_reach_is_a_storage_error_not_a_crash() -> None:
    import redis.asyncio as aioredis

    from os1.errors import StorageError
    from os1.server.shared import RedisShared

    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    client = aioredis.Redis.from_pool(aioredis.BlockingConnectionPool.from_url(nothing_there))
    shared = RedisShared(client, 60.0, 2, lambda _: False)
    try:
        with pytest.raises(StorageError, match="Redis"):
            await shared.check("person:1")
        with pytest.raises(StorageError, match="Redis"):
            await shared.replying(1, True)
        with pytest.raises(StorageError, match="Redis"):
            await shared.cancel(1)
    finally:
        await shared.close()


async def test_every_pooled_connection_busy_past_the_wait_is_a_storage_error(
    redis_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from os1.errors import StorageError
    from os1.server import shared as shared_module

    monkeypatch.setattr(shared_module, "REDIS_CONNECTIONS", 2)
    monkeypatch.setattr(shared_module, "REDIS_WAIT_S", 0.5)
    shared = await shared_module.RedisShared.connect(redis_db, 60.0, 2, lambda _: False)
    try:
        # The cancel listener holds one connection; a blocking command holds the other.
        blocking = asyncio.create_task(shared.redis.blpop(["os1:test:never"], timeout=3))
        await asyncio.sleep(0.2)
        with pytest.raises(StorageError, match="Redis"):
            await shared.check("person:1")
        await blocking
        assert await shared.check("person:1") is None  # free again: it goes ahead
    finally:
        await shared.close()


def test_workers_that_cannot_start_stop_the_supervisor_with_their_reason(
    tmp_path: Path, pg_url: str
) -> None:
    env = worker_env(tmp_path, pg_url, REDIS_URL, "http://127.0.0.1:9/v1")
    env["OS1_DATABASE_URL"] = pg_url.rsplit("/", 1)[0] + "/no_such_database_here"
    done = up_two_workers(env, free_port())
    assert done.returncode == 1
    assert "no_such_database_here" in done.stderr  # each worker says why it could not start
    assert "workers keep ending as they start" in done.stderr
    assert "2 workers (process ids" not in done.stderr  # never said to be listening
