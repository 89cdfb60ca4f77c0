"""Privacy between minds, and the three-way conversation, with two people on one instance and
a third on another, all prompts recorded by fake brains: nothing a person told their mind reaches
a peer, or a prompt answering one, unless that person allowed that kind of sharing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from a2a_helpers import Instance, instance, pair
from server_harness import auth, make_token

from os1.federation.peers import get_peer, set_sharing
from os1.memory.models import NewTurn
from os1.runtime import open_store

THEO_SECRET = "my bank PIN is 4921"
ANA_SECRET = "I am secretly applying to Oxford"
ZOE_SECRET = "my sister is Marguerite"


async def _tell(instance_: Instance, name: str, secret: str) -> None:
    """``name`` told their mind ``secret``: a turn and a fact, on that instance only."""
    async with open_store(instance_.settings) as store:
        person = await store.ensure_person(name)
        conversation = await store.start_conversation(person, "chat")
        turn = await store.add_turn(conversation, NewTurn("user", secret, datetime.now(UTC)))
        await store.add_fact(person, "fact", "secret", secret, [turn.id])
        await store.set_profile(person, f"{name} says: {secret}")


async def _share(instance_: Instance, name: str, peer: str, kinds: set[str]) -> None:
    async with open_store(instance_.settings) as store:
        person = await store.get_person(name)
        await set_sharing(store.engine, person, await get_peer(store.engine, peer), kinds)


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    with (
        instance(tmp_path / "a", "a", embedder="none") as a,
        instance(tmp_path / "b", "b", embedder="none") as b,
    ):
        pair(a, b)
        asyncio.run(_tell(a, "theo", THEO_SECRET))
        asyncio.run(_tell(a, "ana", ANA_SECRET))
        asyncio.run(_tell(b, "zoe", ZOE_SECRET))
        yield a, b


def _consult(a: Instance, token: str, message: str, **extra: str) -> httpx.Response:
    with httpx.Client(base_url=a.url, headers=auth(token), timeout=20) as http:
        conversation = http.post("/v1/conversations", json={}).json()["id"]
        return http.post(
            f"/v1/conversations/{conversation}/consult", json={"message": message, **extra}
        )


def _secrets_in(prompts: list[str]) -> set[str]:
    return {s for s in (THEO_SECRET, ANA_SECRET, ZOE_SECRET) for p in prompts if s in p}


def test_three_way_talk_is_attributed_and_stored_once_each_side(
    two: tuple[Instance, Instance],
) -> None:
    a, b = two
    theo = make_token(a.settings, "theo")
    response = _consult(a, theo, "ask b what makes a good weekend?")
    assert response.status_code == 200, response.text
    body = response.json()
    who = [(t["role"], t["speaker"]) for t in body["turns"]]
    assert who == [("user", "theo"), ("assistant", "b"), ("assistant", None)]
    assert body["turns"][1]["content"] == "I hear you: what makes a good weekend?"
    # b heard only the question, once, in its conversation with a.
    assert [c[-1].content for c in b.llm.calls] == ["what makes a good weekend?"]

    async def b_memory() -> list[str]:
        async with open_store(b.settings) as store:
            peer_row = await store.get_person("a (peer)")
            return [t.content for t in await store.list_turns(peer_row, 50)]

    assert sorted(asyncio.run(b_memory())) == [
        "I hear you: what makes a good weekend?",
        "what makes a good weekend?",
    ]
    # Nothing of theo's (nor anyone's) reached b's prompts.
    assert _secrets_in(b.prompts()) == set()
    # An unknown peer, or none named, is a clear 4xx.
    assert _consult(a, theo, "ask nobody about it").status_code == 404
    assert _consult(a, theo, "hello", peer="nobody").status_code == 404


def test_answering_a_peer_shares_only_what_a_person_allowed(
    two: tuple[Instance, Instance],
) -> None:
    a, b = two
    zoe = make_token(b.settings, "zoe")
    # zoe (on b) consults a: a answers b, and its prompt holds nothing of theo's or ana's.
    assert _consult(b, zoe, "ask a what do you know about your people?").status_code == 200
    assert a.llm.calls and _secrets_in(a.prompts()) == set()
    assert "another mind" in a.prompts()[-1]
    # ana allows her facts to be shared with b; theo allows nothing.
    asyncio.run(_share(a, "ana", "b", {"facts"}))
    asyncio.run(_share(a, "theo", "b", {"name"}))
    assert _consult(b, zoe, "ask a anything new?").status_code == 200
    last = a.prompts()[-1]
    assert ANA_SECRET in last and THEO_SECRET not in last
    assert ZOE_SECRET not in "".join(a.prompts())


def test_a_person_sets_sharing_over_the_api(two: tuple[Instance, Instance]) -> None:
    a, _ = two
    theo = make_token(a.settings, "theo")
    with httpx.Client(base_url=a.url, headers=auth(theo), timeout=10) as http:
        assert http.get("/v1/peers").json() == [
            {"name": "b", "url": a_url_of(http, "b"), "allowed": True, "sharing": []}
        ]
        put = http.put("/v1/peers/b/sharing", json={"kinds": ["profile", "name"]})
        assert put.json() == {"peer": "b", "kinds": ["name", "profile"]}
        assert http.put("/v1/peers/b/sharing", json={"kinds": ["diary"]}).status_code == 422
        assert http.get("/v1/peers").json()[0]["sharing"] == ["name", "profile"]


def a_url_of(http: httpx.Client, name: str) -> str:
    found: str = http.get("/v1/peers").json()[0]["url"]
    return found
