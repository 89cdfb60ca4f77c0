"""Facts and the profile over HTTP: list, correct, delete, each token on its own person only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_harness import auth, client, make_token, server_settings

from os1.memory.models import FactOp, NewTurn
from os1.runtime import open_store
from os1.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return server_settings(tmp_path / "home", embedder="none")


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with client(settings) as c:
        yield c


def seed(settings: Settings, name: str, text: str) -> tuple[int, int]:
    """A turn of ``name`` and a fact drawn from it, with a profile; their ids."""

    async def go() -> tuple[int, int]:
        async with open_store(settings) as store:
            person = await store.ensure_person(name)
            conv = await store.start_conversation(person)
            said = await store.add_turn(conv, NewTurn("user", text, datetime.now(UTC)))
            [fact] = await store.apply_fact_ops(
                person,
                [FactOp("ADD", None, "fact", "home_city", text, (said.id,))],
                profile=f"{name} lives in {text}.",
            )
            return said.id, fact.id

    return asyncio.run(go())


def test_list_correct_delete(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    said, fact = seed(settings, "theo", "Lisbon")
    profile = api.get("/v1/profile", headers=auth(token)).json()
    assert profile["profile"] == "theo lives in Lisbon." and profile["updated_at"]
    [listed] = api.get("/v1/facts", headers=auth(token)).json()
    assert (listed["id"], listed["value"], listed["source_turn_ids"]) == (fact, "Lisbon", [said])
    assert listed["current"] and listed["ended_reason"] is None

    fixed = api.patch(f"/v1/facts/{fact}", headers=auth(token), json={"value": "Porto"})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["value"] == "Porto" and fixed.json()["id"] != fact
    assert [f["value"] for f in api.get("/v1/facts", headers=auth(token)).json()] == ["Porto"]
    history = api.get("/v1/facts?history=true", headers=auth(token)).json()
    assert [(f["value"], f["ended_reason"]) for f in history] == [
        ("Lisbon", "corrected"),
        ("Porto", None),
    ]
    assert api.get("/v1/profile", headers=auth(token)).json() == {
        "profile": None,
        "updated_at": None,
    }
    again = api.patch(f"/v1/facts/{fact}", headers=auth(token), json={"value": "Oslo"})
    assert again.status_code == 400 and "no longer current" in again.json()["error"]["message"]

    assert api.delete(f"/v1/facts/{fact}", headers=auth(token)).json() == {"deleted": True}
    assert api.get("/v1/facts?history=true", headers=auth(token)).json() == []
    assert api.delete(f"/v1/facts/{fact}", headers=auth(token)).status_code == 404


def test_another_persons_facts_are_404(api: TestClient, settings: Settings) -> None:
    theo = make_token(settings, "theo")
    make_token(settings, "bob")
    _, bobs = seed(settings, "bob", "Oslo")
    for response in [
        api.patch(f"/v1/facts/{bobs}", headers=auth(theo), json={"value": "hacked"}),
        api.delete(f"/v1/facts/{bobs}", headers=auth(theo)),
        api.patch("/v1/facts/2147483648", headers=auth(theo), json={"value": "x"}),
    ]:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    assert api.get("/v1/facts?history=true", headers=auth(theo)).json() == []
    assert api.get("/v1/profile", headers=auth(theo)).json()["profile"] is None


def test_bad_bodies_and_ids_are_refused(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    _, fact = seed(settings, "theo", "Lisbon")
    for body in [
        {"value": "x" * 501},
        {"value": ""},
        {"value": "   "},
        {"value": "two\nlines"},
        {"value": 42},
        {"value": "Porto", "extra": 1},
        {},
    ]:
        response = api.patch(f"/v1/facts/{fact}", headers=auth(token), json=body)
        assert response.status_code == 422, (body, response.text)
    for bad in ["0", "-1", "abc", str(2**63)]:
        assert api.delete(f"/v1/facts/{bad}", headers=auth(token)).status_code in (404, 422)
    assert api.get("/v1/facts?history=maybe", headers=auth(token)).status_code == 422
    assert api.get("/v1/facts").status_code == 401
    assert [f["value"] for f in api.get("/v1/facts", headers=auth(token)).json()] == ["Lisbon"]
