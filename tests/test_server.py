"""The HTTP and WebSocket server, in process: accounts, isolation, both APIs, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_harness import auth, client, make_token, server_settings
from starlette.websockets import WebSocketDisconnect

import os1
from os1.mind.fake import FakeLLM
from os1.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return server_settings(tmp_path / "home", admin_token="admin-secret-123")


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with client(settings) as c:
        yield c


def fake(api: TestClient) -> FakeLLM:
    llm = api.app.state.os1.runtime.llm  # type: ignore[attr-defined]
    assert isinstance(llm, FakeLLM)
    return llm


def chat(api: TestClient, token: str, messages: list[dict[str, str]], **extra: object) -> dict:  # type: ignore[type-arg]
    response = api.post(
        "/v1/chat/completions",
        headers=auth(token),
        json={"model": "samantha", "messages": messages, **extra},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def user_turns(api: TestClient, token: str) -> list[str]:
    turns = api.get("/v1/export", headers=auth(token)).json()["turns"]
    return [t["content"] for t in turns if t["role"] == "user"]


def test_health_and_docs(api: TestClient) -> None:
    health = api.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["load"]["replies_in_flight"] == 0 and health["load"]["model_waiting"] == 0
    schema = api.get("/openapi.json").json()
    assert "/v1/chat/completions" in schema["paths"]
    assert api.get("/docs").status_code == 200


def test_openai_history_is_stored_once(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    first = chat(api, token, [{"role": "user", "content": "My sister lives in Lisbon"}])
    reply = first["choices"][0]["message"]["content"]
    assert first["object"] == "chat.completion" and reply.startswith("I hear you")
    history = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "My sister lives in Lisbon"},
        {"role": "assistant", "content": reply},
        {"role": "user", "content": "Where does she live?"},
    ]
    chat(api, token, history)
    chat(api, token, history)  # a retry of the same request
    assert user_turns(api, token) == ["My sister lives in Lisbon", "Where does she live?"]
    prompt = fake(api).calls[-1]
    assert prompt[-1].content == "Where does she live?"
    assert "You are a helpful assistant." not in json.dumps([m.content for m in prompt])
    assert any("Lisbon" in m.content for m in prompt[:-1])  # from OS1's own memory


def test_openai_errors(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    unknown = api.post(
        "/v1/chat/completions",
        headers=auth(token),
        json={"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert unknown.status_code == 404
    assert "gpt-9" in unknown.json()["error"]["message"]
    not_user = api.post(
        "/v1/chat/completions",
        headers=auth(token),
        json={"model": "samantha", "messages": [{"role": "assistant", "content": "hi"}]},
    )
    assert not_user.status_code == 400
    many = [{"role": "user", "content": "x"}] * 1001
    too_many = api.post(
        "/v1/chat/completions", headers=auth(token), json={"model": "samantha", "messages": many}
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "too_many_messages"
    assert user_turns(api, token) == []


def test_tokens_reach_only_their_own_person(api: TestClient, settings: Settings) -> None:
    theo, amy = make_token(settings, "theo"), make_token(settings, "amy")
    chat(api, amy, [{"role": "user", "content": "My secret code is 4242 and I love Oslo"}])
    conv = api.post("/v1/conversations", headers=auth(amy), json={}).json()["id"]
    memory = api.get("/v1/memories", headers=auth(amy)).json()[0]["id"]
    for method, path in [
        ("GET", f"/v1/conversations/{conv}"),
        ("POST", f"/v1/conversations/{conv}/cancel"),
        ("DELETE", f"/v1/memories/{memory}"),
    ]:
        assert api.request(method, path, headers=auth(theo)).status_code == 404
    sent = api.post(
        f"/v1/conversations/{conv}/messages", headers=auth(theo), json={"content": "hi"}
    )
    assert sent.status_code == 404
    edited = api.patch(f"/v1/memories/{memory}", headers=auth(theo), json={"content": "x"})
    assert edited.status_code == 404
    found = api.get(
        "/v1/memories/search", headers=auth(theo), params={"q": "secret code 4242 Oslo"}
    ).json()
    assert all("4242" not in item["text"] for item in found)
    chat(api, theo, [{"role": "user", "content": "what is the secret code? Oslo?"}])
    # The secret's words, not its digits alone: a timestamp's microseconds may hold "4242".
    assert "secret code is 4242" not in json.dumps([m.content for m in fake(api).calls[-1]])
    assert "secret code is 4242" not in api.get("/v1/export", headers=auth(theo)).text
    assert user_turns(api, amy) == ["My secret code is 4242 and I love Oslo"]


def test_bad_tokens(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    for headers in [
        {},
        auth("os1_forged"),
        auth("nonsense"),
        {"Authorization": "Basic eDp5"},
        auth(token[:-1] + ("A" if token[-1] != "A" else "B")),
    ]:
        response = api.get("/v1/relationship", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
    assert api.get("/v1/relationship", headers=auth(token)).status_code == 200
    expired = make_token(settings, "theo", expires_in=timedelta(seconds=-1))
    response = api.get("/v1/relationship", headers=auth(expired))
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    lasting = make_token(settings, "theo", expires_in=timedelta(days=1))
    assert api.get("/v1/relationship", headers=auth(lasting)).status_code == 200


def test_admin_manages_people_and_tokens(api: TestClient) -> None:
    admin = auth("admin-secret-123")
    assert api.post("/v1/people", json={"name": "zoe"}).status_code == 401
    assert api.post("/v1/people", headers=auth("wrong"), json={"name": "zoe"}).status_code == 401
    made = api.post("/v1/people", headers=admin, json={"name": "zoe"})
    assert made.status_code == 201
    first = made.json()["token"]
    assert api.post("/v1/people", headers=admin, json={"name": "zoe"}).status_code == 409
    assert api.get("/v1/relationship", headers=auth(first)).status_code == 200
    second = api.post("/v1/people/zoe/tokens", headers=admin).json()["token"]
    ids = [t["id"] for t in api.get("/v1/people/zoe/tokens", headers=admin).json()]
    assert len(ids) == 2
    assert api.delete(f"/v1/people/zoe/tokens/{ids[0]}", headers=admin).status_code == 200
    assert api.get("/v1/relationship", headers=auth(first)).status_code == 401
    assert api.get("/v1/relationship", headers=auth(second)).status_code == 200
    rotated = api.post("/v1/people/zoe/tokens/rotate", headers=admin).json()["token"]
    assert api.get("/v1/relationship", headers=auth(second)).status_code == 401
    assert api.get("/v1/relationship", headers=auth(rotated)).status_code == 200
    assert api.delete("/v1/people/zoe", headers=admin).status_code == 200
    assert api.get("/v1/relationship", headers=auth(rotated)).status_code == 401
    assert api.get("/v1/people/nobody/tokens", headers=admin).status_code == 404
    short = api.post("/v1/people", headers=admin, json={"name": "kim", "expires_in_days": 2})
    listed = api.get("/v1/people/kim/tokens", headers=admin).json()
    assert short.status_code == 201 and listed[0]["expires_at"] is not None
    for number in ("NaN", "Infinity", "-Infinity"):  # Python's JSON parser takes them
        body = f'{{"name": "lee", "expires_in_days": {number}}}'
        headers = {**admin, "Content-Type": "application/json"}
        refused = api.post("/v1/people", headers=headers, content=body)
        assert refused.status_code == 422, (number, refused.text)
        assert "finite number" in refused.json()["error"]["message"], refused.text
    assert api.get("/v1/people/lee/tokens", headers=admin).status_code == 404  # nobody made


def test_admin_api_is_off_without_admin_token(tmp_path: Path) -> None:
    with client(server_settings(tmp_path / "h")) as api:
        response = api.post("/v1/people", headers=auth("anything"), json={"name": "x"})
        assert response.status_code == 403


def test_native_conversation_and_memories(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    conv = api.post("/v1/conversations", headers=auth(token), json={"label": "evening"}).json()
    for bad in ("a\u0000b", "", "   "):  # a label says something, without NUL
        refused = api.post("/v1/conversations", headers=auth(token), json={"label": bad})
        assert refused.status_code == 422, (bad, refused.text)
    blank = api.post(
        f"/v1/conversations/{conv['id']}/messages", headers=auth(token), json={"content": "  "}
    ).json()["error"]
    plain = "content: needs at least one visible character, and no NUL or other control characters"
    assert blank["message"] == plain, blank  # plain words, not the pattern that checks it
    reply = api.post(
        f"/v1/conversations/{conv['id']}/messages",
        headers=auth(token),
        json={"content": "I adopted a cat named Miso"},
    )
    assert reply.json() == {
        "conversation_id": conv["id"],
        "reply": "I hear you: I adopted a cat named Miso",
    }
    with api.stream(
        "POST",
        f"/v1/conversations/{conv['id']}/messages?stream=true",
        headers=auth(token),
        json={"content": "Miso likes tuna"},
    ) as stream:
        events = [line for line in stream.iter_lines() if line.startswith("event:")]
    assert events[0] == "event: delta" and events[-1] == "event: done"
    detail = api.get(f"/v1/conversations/{conv['id']}", headers=auth(token)).json()
    assert [t["role"] for t in detail["turns"]] == ["user", "assistant", "user", "assistant"]
    assert [c["id"] for c in api.get("/v1/conversations", headers=auth(token)).json()] == [
        conv["id"]
    ]
    found = api.get(
        "/v1/memories/search", headers=auth(token), params={"q": "what is my cat called", "k": 3}
    ).json()
    assert set(found[0]) == {"id", "text", "time", "score", "source_ids", "role", "speaker"}
    assert found[0]["role"] in ("user", "assistant") and found[0]["speaker"] is None
    memory_id = detail["turns"][0]["id"]
    edited = api.patch(
        f"/v1/memories/{memory_id}",
        headers=auth(token),
        json={"content": "I adopted a cat named Mochi"},
    )
    assert edited.json()["content"] == "I adopted a cat named Mochi"
    assert api.delete(f"/v1/memories/{memory_id}", headers=auth(token)).json() == {"deleted": True}
    assert "Mochi" not in api.get("/v1/export", headers=auth(token)).text
    rel = api.get("/v1/relationship", headers=auth(token)).json()
    assert rel["turns"] == 1 and rel["person"] == "theo"
    status = api.get("/v1/status", headers=auth(token)).json()
    assert status["conversations_in_progress"] >= 1 and status["people_talking"] == 1
    assert api.delete("/v1/me", headers=auth(token)).json() == {"deleted": True}
    assert api.get("/v1/status", headers=auth(token)).status_code == 401


def test_websocket_conversation(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
    with api.websocket_connect(f"/v1/conversations/{conv}/ws?token={token}") as ws:
        ws.send_text("not json")
        assert ws.receive_json()["code"] == "bad_frame"
        ws.send_json({"type": "message", "content": ""})
        assert ws.receive_json()["code"] == "invalid_message"
        ws.send_json({"type": "message", "content": "x" * 40_000})
        too_long = ws.receive_json()
        assert too_long["code"] == "invalid_message" and "at most" in too_long["message"]
        ws.send_json({"type": "message", "content": "hello over the socket"})
        frames = []
        while (frame := ws.receive_json())["type"] == "delta":
            frames.append(frame["text"])
        assert frame == {"type": "done"}
        assert "".join(frames) == "I hear you: hello over the socket"


def test_a_conversation_needs_no_body(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    bare = api.post("/v1/conversations", headers=auth(token))  # no body: no label
    assert bare.status_code == 200 and bare.json()["label"] is None, bare.text


def test_websocket_cancel_keeps_no_partial_reply(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    fake(api).delay = 0.05
    fake(api).replies = ["one two three four five six seven eight nine ten " * 20]
    conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
    with api.websocket_connect(f"/v1/conversations/{conv}/ws", headers=auth(token)) as ws:
        ws.send_json({"type": "message", "content": "tell me a long story"})
        assert ws.receive_json()["type"] == "delta"
        ws.send_json({"type": "cancel"})
        while (frame := ws.receive_json())["type"] == "delta":
            pass
        assert frame == {"type": "cancelled"}
    turns = api.get("/v1/export", headers=auth(token)).json()["turns"]
    assert [t["role"] for t in turns] == ["user"]


def test_websocket_cancel_before_the_first_piece_is_answered(
    api: TestClient, settings: Settings
) -> None:
    """A cancel while the model has yet to answer ends the reply with "cancelled" too, not
    with silence."""
    token = make_token(settings, "theo")
    fake(api).delay = 2.0
    conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
    with api.websocket_connect(f"/v1/conversations/{conv}/ws", headers=auth(token)) as ws:
        ws.send_json({"type": "message", "content": "one"})
        ws.send_json({"type": "cancel"})
        assert ws.receive_json() == {"type": "cancelled"}
        fake(api).delay = 0.0
        ws.send_json({"type": "message", "content": "two"})  # the socket goes on
        while (frame := ws.receive_json())["type"] == "delta":
            pass
        assert frame == {"type": "done"}


def test_websocket_refuses_strangers(api: TestClient, settings: Settings) -> None:
    theo, amy = make_token(settings, "theo"), make_token(settings, "amy")
    conv = api.post("/v1/conversations", headers=auth(amy), json={}).json()["id"]
    for url in [
        f"/v1/conversations/{conv}/ws",
        f"/v1/conversations/{conv}/ws?token={theo}",
        f"/v1/conversations/{conv}/ws?token=os1_forged",
    ]:
        with api.websocket_connect(url) as ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"model": "samantha", "messages": [', "application/json", 422),
        (b'{"model": 5, "messages": "hi"}', "application/json", 422),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "application/json", 422),
        (
            b'{"model": "samantha", "messages": [{"role": "robot", "content": "x"}]}',
            "application/json",
            422,
        ),
        (b'{"model": "samantha", "messages": []}', "application/json", 422),
        (
            b'{"model": "samantha", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
            "application/json",
            400,
        ),
        (b"\x00\x01\x02binary", "application/octet-stream", 422),
        (b"[]", "application/json", 422),
        (
            b'{"model": "samantha", "temperature": NaN, '
            b'"messages": [{"role": "user", "content": "hi"}]}',
            "application/json",
            422,
        ),
    ],
    ids=[
        "truncated",
        "wrong-types",
        "missing-model",
        "bad-role",
        "no-messages",
        "invalid-utf8",
        "binary",
        "array",
        "nan",
    ],
)
def test_malformed_requests_get_json_errors_and_store_nothing(
    api: TestClient, settings: Settings, body: bytes, content_type: str, status: int
) -> None:
    token = make_token(settings, "theo")
    response = api.post(
        "/v1/chat/completions", content=body, headers={**auth(token), "Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) >= {"message", "type", "code"}
    assert user_turns(api, token) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "the body's JSON is nested too deeply"),
        (b'{"content": ' + b"9" * 5000 + b"}", "the body's JSON has a number too long to read"),
        (b'{"content": "\xff"}', "the body is not valid UTF-8 JSON"),
    ],
    ids=["nested-too-deeply", "long-number", "invalid-utf8"],
)
def test_a_body_that_cannot_be_read_is_told_why(
    api: TestClient, settings: Settings, body: bytes, message: str
) -> None:
    token = make_token(settings, "theo")
    conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
    response = api.post(
        f"/v1/conversations/{conv}/messages",
        content=body,
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": message,
        "type": "invalid_request_error",
        "code": "invalid_body",
        "param": None,
    }
    assert user_turns(api, token) == []


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "message"),
    [
        (
            "POST",
            "/v1/chat/completions",
            {"model": "samantha", "messages": [{"role": "user", "content": "hi"}]},
            {"X-OS1-Conversation": "-1"},
            "header x-os1-conversation: a conversation id: a whole number from 1",
        ),
        (
            "POST",
            "/v1/letters/clients",
            {"name": "Ada/Byron"},
            {},
            "name: needs at least one visible character, and no / or control characters",
        ),
        (
            "POST",
            "/v1/letters/clients",
            {"name": "Ada", "hand": "../hands"},
            {},
            "hand: a hand's name: up to 64 letters, digits, '.', '_' or '-', "
            "the first a letter or digit",
        ),
        (
            "PUT",
            "/v1/peers/-athena/sharing",
            {"kinds": []},
            {},
            "path name: a peer's name: up to 40 letters, digits, '.', '_' or '-', "
            "the first a letter or digit",
        ),
    ],
    ids=["conversation-header", "client-name", "hand-name", "peer-name"],
)
def test_a_value_of_the_wrong_form_is_told_what_form_it_needs(
    api: TestClient,
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, object],
    headers: dict[str, str],
    message: str,
) -> None:
    token = make_token(settings, "theo")
    response = api.request(method, path, json=body, headers={**auth(token), **headers})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == message
    assert user_turns(api, token) == []


def test_oversized_bodies_are_413(tmp_path: Path) -> None:
    settings = server_settings(tmp_path / "h", max_body_bytes=4096)
    token = make_token(settings, "theo")
    with client(settings) as api:
        big = {"model": "samantha", "messages": [{"role": "user", "content": "x" * 10_000}]}
        response = api.post("/v1/chat/completions", headers=auth(token), json=big)
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "request_too_large"
        # the same shape as every other error, param included (clients read it by name)
        assert set(error) == {"message", "type", "code", "param"}

        def chunks() -> Iterator[bytes]:  # no Content-Length: the size is counted as it comes
            yield b'{"model": "samantha", "messages": [{"role": "user", "content": "'
            for _ in range(100):
                yield b"y" * 100
            yield b'"}]}'

        streamed = api.post("/v1/chat/completions", headers=auth(token), content=chunks())
        assert streamed.status_code == 413
        assert user_turns(api, token) == []


def test_overlong_messages_are_refused(tmp_path: Path) -> None:
    settings = server_settings(tmp_path / "h", max_message_chars=1000)
    token = make_token(settings, "theo")
    with client(settings) as api:
        conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
        over_setting = api.post(
            f"/v1/conversations/{conv}/messages", headers=auth(token), json={"content": "z" * 5000}
        )
        assert over_setting.status_code == 400
        assert "too long" in over_setting.json()["error"]["message"]
        over_schema = api.post(
            f"/v1/conversations/{conv}/messages",
            headers=auth(token),
            json={"content": "z" * 40_000},
        )
        assert over_schema.status_code == 422
        assert user_turns(api, token) == []


def test_rate_limit_gives_429_with_retry_after(tmp_path: Path) -> None:
    settings = server_settings(tmp_path / "h", rate_limit_per_minute=6, rate_limit_burst=3)
    token, other = make_token(settings, "theo"), make_token(settings, "amy")
    with client(settings) as api:
        codes = [api.get("/v1/relationship", headers=auth(token)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = api.get("/v1/relationship", headers=auth(token))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert api.get("/v1/relationship", headers=auth(other)).status_code == 200


def conversations_of(api: TestClient, token: str) -> list[list[tuple[str, str]]]:
    out = []
    for conv in api.get("/v1/conversations", headers=auth(token)).json():
        detail = api.get(f"/v1/conversations/{conv['id']}", headers=auth(token)).json()
        out.append([(t["role"], t["content"]) for t in detail["turns"]])
    return out


def test_openai_retries_store_nothing_twice(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    fake(api).replies = ["first try", "second try", "answer to more", "again to more"]
    hello = [{"role": "user", "content": "Hello there"}]
    chat(api, token, hello)
    chat(api, token, hello)  # the same first message again: a retry
    more = [
        *hello,
        {"role": "assistant", "content": "second try"},
        {"role": "user", "content": "Tell me more"},
    ]
    chat(api, token, more)
    chat(api, token, more)  # and a retry of a later one
    assert conversations_of(api, token) == [
        [
            ("user", "Hello there"),
            ("assistant", "second try"),
            ("user", "Tell me more"),
            ("assistant", "again to more"),
        ]
    ]


def test_openai_chats_with_the_same_opening_stay_apart(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    fake(api).replies = ["reply A", "reply A2", "reply B", "reply B2"]
    hi = {"role": "user", "content": "hi"}
    chat(api, token, [hi])
    chat(
        api,
        token,
        [
            hi,
            {"role": "assistant", "content": "reply A"},
            {"role": "user", "content": "chat A goes on"},
        ],
    )
    chat(api, token, [hi])  # a new chat that opens the same way
    chat(
        api,
        token,
        [
            hi,
            {"role": "assistant", "content": "reply B"},
            {"role": "user", "content": "chat B goes on"},
        ],
    )
    assert conversations_of(api, token) == [
        [
            ("user", "hi"),
            ("assistant", "reply A"),
            ("user", "chat A goes on"),
            ("assistant", "reply A2"),
        ],
        [
            ("user", "hi"),
            ("assistant", "reply B"),
            ("user", "chat B goes on"),
            ("assistant", "reply B2"),
        ],
    ]


def test_websocket_binary_frames_are_bad_frames(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theo")
    conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
    with api.websocket_connect(f"/v1/conversations/{conv}/ws", headers=auth(token)) as ws:
        ws.send_bytes(b"\x00\x01\xff")
        assert ws.receive_json()["code"] == "bad_frame"
        ws.send_json({"type": "message", "content": "still here"})
        assert ws.receive_json()["type"] == "delta"
        while ws.receive_json()["type"] == "delta":
            pass


@pytest.mark.timeout(30)
def test_websocket_hostile_frames_get_plain_errors_and_the_socket_stays_open(
    api: TestClient, settings: Settings
) -> None:
    token = make_token(settings, "theo")
    conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
    with api.websocket_connect(f"/v1/conversations/{conv}/ws", headers=auth(token)) as ws:
        for deep in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
            ws.send_text(deep)  # past the JSON parser's depth
            assert ws.receive_json()["code"] == "bad_frame"
        ws.send_json({"type": "message", "content": "a\x00b"})
        nul = ws.receive_json()
        assert nul["code"] == "invalid_message"
        assert nul["message"] == (
            "content: needs at least one visible character, and no NUL or other control characters"
        )
        ws.send_json({"type": "message", "content": "still here"})
        assert ws.receive_json()["type"] == "delta"
        while ws.receive_json()["type"] == "delta":
            pass
    assert user_turns(api, token) == ["still here"]


def test_websocket_messages_are_rate_limited(tmp_path: Path) -> None:
    settings = server_settings(tmp_path / "h", rate_limit_per_minute=6, rate_limit_burst=3)
    token = make_token(settings, "theo")
    with client(settings) as api:
        conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
        with api.websocket_connect(f"/v1/conversations/{conv}/ws", headers=auth(token)) as ws:
            ws.send_json({"type": "message", "content": "one"})
            while ws.receive_json()["type"] == "delta":
                pass
            ws.send_json({"type": "message", "content": "two"})
            limited = ws.receive_json()
    assert limited["code"] == "rate_limited" and limited["retry_after"] >= 1


def test_every_mind_shares_one_model_scheduler(api: TestClient, settings: Settings) -> None:
    """The model's concurrency limit holds for the server as a whole, whichever minds talk."""
    settings.minds_dir.mkdir(parents=True, exist_ok=True)
    samantha = (Path(os1.__file__).parent / "minds" / "samantha.toml").read_text()
    (settings.minds_dir / "ada.toml").write_text(samantha.replace('"Samantha"', '"Ada"', 1))
    state = api.app.state.os1  # type: ignore[attr-defined]
    minds = [state.mind(name) for name in state.model_names()]
    assert len(minds) > 1
    assert all(m.scheduler is state.default_mind.scheduler for m in minds)


class FailingShared:
    """Shared state whose named calls fail as Redis out of reach does; the rest go through."""

    def __init__(self, real: object, failing: set[str]) -> None:
        self.real, self.failing = real, failing

    def __getattr__(self, name: str) -> object:
        if name not in self.failing:
            return getattr(self.real, name)

        async def fail(*_: object) -> None:
            from os1.errors import StorageError

            raise StorageError("shared state (Redis) unavailable: connection refused")

        return fail


def test_websocket_without_its_shared_state_says_so_and_stores_nothing(
    api: TestClient, settings: Settings
) -> None:
    token = make_token(settings, "theo")
    conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
    state = api.app.state.os1  # type: ignore[attr-defined]
    real = state.shared
    with api.websocket_connect(f"/v1/conversations/{conv}/ws", headers=auth(token)) as ws:
        for failing in ({"check"}, {"replying"}, {"cancel"}):
            state.shared = FailingShared(real, failing)
            if failing == {"cancel"}:
                ws.send_json({"type": "cancel"})
            else:
                ws.send_json({"type": "message", "content": "are you there?"})
            error = ws.receive_json()
            assert error["type"] == "error" and error["code"] == "storage_unavailable", error
            assert "Redis" in error["message"]
        state.shared = real  # back: the same socket goes on
        ws.send_json({"type": "message", "content": "hello again"})
        while (frame := ws.receive_json())["type"] == "delta":
            pass
        assert frame == {"type": "done"}
    turns = api.get("/v1/export", headers=auth(token)).json()["turns"]
    assert [t["content"] for t in turns if t["role"] == "user"] == ["hello again"]
    # Opening a conversation while the shared state is out of reach: "try again later".
    state.shared = FailingShared(real, {"check"})
    try:
        url = f"/v1/conversations/{conv}/ws"
        with (
            api.websocket_connect(url, headers=auth(token)) as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        assert closed.value.code == 1013
    finally:
        state.shared = real


def test_other_libraries_warnings_are_logged_as_json_too() -> None:
    """The server's logs are one JSON object per line, the A2A SDK's and asyncio's included."""
    script = (
        "import logging; from os1.logs import configure_logging; "
        "configure_logging('INFO', as_json=True); "
        "logging.getLogger('a2a.server').warning('Version mismatch'); "
        "logging.getLogger('asyncio').error('Task exception was never retrieved')"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["logger"], r["level"]) for r in lines] == [
        ("a2a.server", "WARNING"),
        ("asyncio", "ERROR"),
    ]
