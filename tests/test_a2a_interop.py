"""Interoperability over real sockets on 127.0.0.1: two OS1 instances talk; OS1 answers the
SDK's own client; OS1's client talks to an agent built on the SDK alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.helpers import new_text_message
from a2a.types import CancelTaskRequest, GetTaskRequest, Role, SendMessageRequest, TaskState
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import TaskNotFoundError
from a2a_helpers import AGENT_TOKEN, Instance, echo_agent, instance, issue, pair, register

from os1.federation import client
from os1.federation.peers import get_peer
from os1.federation.talk import Said, talk
from os1.memory import presence
from os1.runtime import open_runtime, open_store


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    with (
        instance(tmp_path / "a", "a", a2a_max_turns=3) as a,
        instance(tmp_path / "b", "b", a2a_max_turns=3) as b,
    ):
        pair(a, b)
        yield a, b


async def _talk(a: Instance, peer: str, text: str, turns: int) -> list[Said]:
    async with open_runtime(a.settings) as runtime:
        found = await get_peer(runtime.store.engine, peer)
        return [s async for s in talk(runtime.mind, found, text, turns=turns, wait=10)]


def test_two_instances_talk_and_stop_by_themselves(two: tuple[Instance, Instance]) -> None:
    a, b = two
    said = asyncio.run(_talk(a, "b", "Hello from a, what is your day like?", turns=10))
    speakers = [s.speaker for s in said]
    assert speakers[:4] == ["Samantha", "b", "Samantha", "b"]
    # b accepts 3 messages per exchange: the fourth is refused and the talk ends by itself.
    assert said[-1].stopped is not None and "3 turns" in said[-1].stopped
    assert len(b.llm.calls) == 3

    async def remembered() -> tuple[int, list[str]]:
        async with open_store(b.settings) as store:
            peer_row = await store.get_person("a (peer)")
            turns = await store.list_turns(peer_row, 50)
            live = await presence.current(store.engine)
            return live.people, [t.content for t in turns]

    people, turns = asyncio.run(remembered())
    assert people >= 1  # the peer counts among those talking now
    assert "Hello from a, what is your day like?" in turns
    assert len(turns) == 6 and len(set(turns)) == 6  # three messages, three replies, once each


def test_the_sdk_reference_client_talks_to_os1(two: tuple[Instance, Instance]) -> None:
    a, _ = two
    token = issue(a.settings, "b")

    async def go() -> None:
        card = await client.fetch_card(a.url, 10)
        assert card.capabilities.streaming
        async with httpx.AsyncClient(
            timeout=10, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            for binding in (TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON):
                for streaming in (False, True):
                    sdk = ClientFactory(
                        ClientConfig(
                            httpx_client=http,
                            streaming=streaming,
                            supported_protocol_bindings=[binding],
                        )
                    ).create(card)
                    msg = new_text_message(f"hi over {binding}", role=Role.ROLE_USER)
                    events = [e async for e in sdk.send_message(SendMessageRequest(message=msg))]
                    last = events[-1]
                    task_id = last.task.id if last.HasField("task") else last.status_update.task_id
                    task = await sdk.get_task(GetTaskRequest(id=task_id))
                    assert task.status.state == TaskState.TASK_STATE_COMPLETED
                    text = "".join(p.text for a_ in task.artifacts for p in a_.parts)
                    assert f"hi over {binding}" in text
            with pytest.raises(TaskNotFoundError):
                await sdk.cancel_task(CancelTaskRequest(id="no-such-task"))
            # A reply in progress is cancelled: the task ends CANCELED, the reply unstored.
            a.llm.delay = 0.2
            slow = ClientFactory(ClientConfig(httpx_client=http, streaming=True)).create(card)
            msg = new_text_message("take your time with this one", role=Role.ROLE_USER)
            stream = slow.send_message(SendMessageRequest(message=msg))
            first = await anext(stream)
            assert first.HasField("task")
            cancelled = await slow.cancel_task(CancelTaskRequest(id=first.task.id))
            assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
            await stream.aclose()
            a.llm.delay = 0.0

    asyncio.run(go())


def test_os1_talks_to_an_agent_built_on_the_sdk_alone(tmp_path: Path) -> None:
    with (
        echo_agent() as agent_url,
        instance(tmp_path / "a", "a") as a,
    ):
        register(a.settings, "echo", agent_url, AGENT_TOKEN)
        said = asyncio.run(_talk(a, "echo", "are you there?", turns=1))
        assert said[-1].text == "echo: are you there?"
        register(a.settings, "echo", agent_url, "wrong")
        said = asyncio.run(_talk(a, "echo", "again?", turns=1))
        assert said[-1].stopped is not None and "could not reach echo" in said[-1].stopped
        assert "401" in said[-1].stopped
