"""Two `os1 up` workers on different ports, one PostgreSQL and one Redis: a person continues a
conversation on either worker, rate limits count across both, and a reply being written by one
is cancelled through the other."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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


def test_a_conversation_continues_on_either_worker(
    workers: tuple[str, str, str], openai_server: OpenAIServer
) -> None:
    a, b, admin = workers
    auth = person(a, admin)
    conv = httpx.post(f"{b}/v1/conversations", json={}, headers=auth).json()["id"]
    said = [f"message {i} on worker {'ab'[i % 2]}" for i in range(6)]
    for i, text in enumerate(said):
        url = (a, b)[i % 2]
        reply = httpx.post(
            f"{url}/v1/conversations/{conv}/messages",
            json={"content": text},
            headers=auth,
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
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
