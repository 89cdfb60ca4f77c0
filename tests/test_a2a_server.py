"""The A2A endpoint in process: cards, the gate (tokens, allow-list, sizes), the guards (hops,
duplicates, budgets, rates) and a fuzz of broken requests: clear errors, never a 5xx."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from a2a_helpers import VERSION, headers, rpc
from fastapi.testclient import TestClient
from server_harness import client, make_token, server_settings

from os1.errors import LLMUnavailable
from os1.federation.peers import add_peer, issue_token, set_allowed
from os1.runtime import open_store
from os1.settings import Settings

RPC = "/a2a/samantha/jsonrpc"
REST = "/a2a/samantha/rest"


async def _peer(settings: Settings, name: str) -> str:
    async with open_store(settings) as store:
        peer = await add_peer(store, name, f"http://{name}.example", None, None)
        return await issue_token(store.engine, peer)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return server_settings(
        tmp_path,
        embedder="none",
        a2a_max_turns=3,
        a2a_rate_limit_per_minute=600,
        a2a_max_message_chars=500,
    )


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    return {name: asyncio.run(_peer(settings, name)) for name in ("athena", "hermes")}


@pytest.fixture
def api(settings: Settings, tokens: dict[str, str]) -> Iterator[TestClient]:
    with client(settings) as c:
        yield c


def _send(api: TestClient, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(RPC, json=body, headers=headers(token))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_agent_card_per_mind(api: TestClient) -> None:
    card = api.get("/.well-known/agent-card.json").json()
    assert card["name"] == "Samantha"
    # Described in the third person, not with the instruction the model is given.
    assert card["description"].startswith("Samantha, a warm, curious and playful AI companion.")
    assert card["capabilities"]["streaming"] is True
    assert card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"] == "bearer"
    urls = {i["protocolBinding"]: i["url"] for i in card["supportedInterfaces"]}
    assert urls["JSONRPC"] == "http://testserver" + RPC
    assert urls["HTTP+JSON"] == "http://testserver" + REST
    assert api.get("/a2a/samantha/.well-known/agent-card.json").json() == card
    assert card["skills"][0]["id"] == "converse"


def test_a_peer_gets_a_reply(api: TestClient, tokens: dict[str, str]) -> None:
    body = _send(api, tokens["athena"], rpc("Hello, I am Athena."))
    task = body["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"][0]["text"] == "I hear you: Hello, I am Athena."


def test_streaming_and_rest(api: TestClient, tokens: dict[str, str]) -> None:
    with api.stream(
        "POST",
        RPC,
        json=rpc("stream it", "SendStreamingMessage"),
        headers=headers(tokens["athena"]),
    ) as response:
        events = [
            json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")
        ]
    kinds = [next(iter(e["result"])) for e in events]
    assert kinds[0] == "task" and "artifactUpdate" in kinds and kinds[-1] == "statusUpdate"
    assert events[-1]["result"]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    rest = api.post(
        REST + "/message:send", json=rpc("over rest")["params"], headers=headers(tokens["athena"])
    )
    assert rest.status_code == 200 and rest.json()["task"]["status"]["state"].endswith("COMPLETED")
    task_id = rest.json()["task"]["id"]
    # Tasks are per peer: another peer cannot read or cancel this one.
    other = api.get(f"{REST}/tasks/{task_id}", headers=headers(tokens["hermes"]))
    assert other.status_code == 404
    cancel = _send(
        api,
        tokens["athena"],
        {"jsonrpc": "2.0", "id": 2, "method": "CancelTask", "params": {"id": task_id}},
    )
    assert cancel["error"]["code"] == -32002  # a completed task cannot be cancelled


def test_the_gate(api: TestClient, settings: Settings, tokens: dict[str, str]) -> None:
    assert api.post(RPC, json=rpc("hi"), headers=VERSION).status_code == 401
    person_token = make_token(settings, "theo")
    refused = api.post(RPC, json=rpc("hi"), headers=headers(person_token))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == -32600
    # ... and a peer's token opens no person's API.
    chat = api.post(
        "/v1/chat/completions",
        json={"model": "samantha", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {tokens['athena']}"},
    )
    assert chat.status_code == 401

    async def deny() -> None:
        async with open_store(settings) as store:
            await set_allowed(store.engine, "hermes", False)

    asyncio.run(deny())
    denied = api.post(RPC, json=rpc("hi"), headers=headers(tokens["hermes"]))
    assert denied.status_code == 403 and "allow-list" in denied.json()["error"]["message"]
    big = api.post(RPC, content=b"x" * 200_000, headers=headers(tokens["athena"]))
    assert big.status_code == 413 and big.json()["error"]["code"] == -32600
    chunked = api.post(RPC, content=iter([b"x" * 50_000] * 3), headers=headers(tokens["athena"]))
    assert chunked.status_code == 413


def test_guards(api: TestClient, tokens: dict[str, str]) -> None:
    token = tokens["athena"]
    too_long = _send(api, token, rpc("x" * 600))
    assert too_long["error"]["code"] == -32602 and "500 characters" in too_long["error"]["message"]
    hops = _send(api, token, rpc("relayed", metadata={"os1": {"hop": 9}}))
    assert hops["error"]["code"] == -32602 and "relayed 9 times" in hops["error"]["message"]
    bad = _send(api, token, rpc("odd", metadata={"os1": {"hop": "many"}}))
    assert bad["error"]["code"] == -32602
    for role in ("ROLE_AGENT", "ROLE_UNSPECIFIED"):  # invalid params, not an internal error
        other = _send(api, token, rpc("from an agent", role=role))
        assert other["error"]["code"] == -32602 and "ROLE_USER" in other["error"]["message"]
    body = rpc("once only")
    assert "result" in _send(api, token, body)
    again = _send(api, token, body)
    assert again["error"]["code"] == -32600 and "ignored" in again["error"]["message"]
    context = str(uuid.uuid4())
    for n in range(3):
        assert "result" in _send(api, token, rpc(f"turn {n}", contextId=context))
    spent = _send(api, token, rpc("one more", contextId=context))
    assert "3 turns" in spent["error"]["message"]
    # Another peer is still answered.
    assert "result" in _send(api, tokens["hermes"], rpc("hello"))


def test_rate_limit_per_peer(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, embedder="none", a2a_rate_limit_per_minute=1)
    athena, hermes = (asyncio.run(_peer(settings, n)) for n in ("athena", "hermes"))
    with client(settings) as api:
        answers = [_send(api, athena, rpc(f"flood {n}")) for n in range(7)]
        refused = [a for a in answers if "error" in a]
        assert len(refused) == 2 and "retry in" in refused[0]["error"]["message"]
        assert refused[0]["error"]["data"][0]["metadata"]["reason"] == "rate"
        assert "result" in _send(api, hermes, rpc("I am not flooding"))


BROKEN: list[tuple[str, bytes | None, dict[str, str]]] = [
    ("not json", b"{nope", {}),
    ("empty", b"", {}),
    ("array", b"[]", {}),
    ("string", b'"hi"', {}),
    ("no method", b'{"jsonrpc":"2.0","id":1}', {}),
    ("unknown method", b'{"jsonrpc":"2.0","id":1,"method":"Nope","params":{}}', {}),
    ("old method", b'{"jsonrpc":"2.0","id":1,"method":"message/send","params":{}}', {}),
    ("bad params", b'{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":[1]}', {}),
    ("no message", b'{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{}}', {}),
    (
        "old shapes",
        b'{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":'
        b'{"messageId":"m","role":"user","parts":[{"kind":"text","text":"hi"}]}}}',
        {},
    ),
    ("no version", None, {"A2A-Version": ""}),
    ("old version", None, {"A2A-Version": "0.3"}),
    ("future version", None, {"A2A-Version": "2.0"}),
    ("nonsense version", None, {"A2A-Version": "abc"}),
    ("binary", bytes(range(256)), {}),
    ("deep", b"[" * 5000 + b"]" * 5000, {}),
    (
        "nan",
        json.dumps(rpc("NaN", metadata={"os1": {"hop": 0}}))
        .replace('"hop": 0', '"hop": NaN')
        .encode(),
        {},
    ),
    (
        "infinity",
        b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x","historyLength":-Infinity}}',
        {},
    ),
]


@pytest.mark.parametrize(("case", "raw", "extra"), BROKEN, ids=[b[0] for b in BROKEN])
def test_fuzz_never_5xx(
    api: TestClient, tokens: dict[str, str], case: str, raw: bytes | None, extra: dict[str, str]
) -> None:
    sent = headers(tokens["athena"]) | extra
    sent = {k: v for k, v in sent.items() if v}
    payload = raw if raw is not None else json.dumps(rpc(case)).encode()
    response = api.post(RPC, content=payload, headers=sent)
    assert response.status_code < 500, response.text
    assert "error" in response.json()
    assert response.json()["error"]["code"] != -32603  # JSON-RPC's internal error
    rest = api.post(REST + "/message:send", content=payload, headers=sent)
    assert rest.status_code < 500, rest.text


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ({"parts": [{"text": "hi\x00there"}]}, "NUL bytes"),
        ({"contextId": "exchange\x00one"}, "control characters"),
        ({"messageId": "m\x07"}, "control characters"),
    ],
    ids=["nul-text", "nul-context", "bell-message-id"],
)
def test_control_characters_are_invalid_params_and_spend_nothing(
    api: TestClient, tokens: dict[str, str], message: dict[str, Any], said: str
) -> None:
    body = rpc("hello", **message)
    context = body["params"]["message"].get("contextId", str(uuid.uuid4()))
    body["params"]["message"]["contextId"] = context
    refused = _send(api, tokens["athena"], body)
    assert refused["error"]["code"] == -32602 and said in refused["error"]["message"]
    # the exchange's turns were not spent on it: all three are left
    clean = {"contextId": str(uuid.uuid4()) if "\x00" in context else context}
    for n in range(3):
        assert "result" in _send(api, tokens["athena"], rpc(f"turn {n}", **clean))


def test_a_failing_mind_fails_the_task_without_leaking(
    api: TestClient, tokens: dict[str, str]
) -> None:
    llm = api.app.state.os1.runtime.llm  # type: ignore[attr-defined]
    llm.fail_with = LLMUnavailable("connection refused by 10.0.0.7:8000 (internal detail)")
    body = _send(api, tokens["athena"], rpc("are you well?"))
    task = body["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert "language model is unavailable" in json.dumps(task)
    assert "10.0.0.7" not in json.dumps(body)
    llm.fail_with = None
    assert "result" in _send(api, tokens["hermes"], rpc("and now?"))
