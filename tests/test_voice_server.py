"""Voice over WebSocket (``/v1/conversations/{id}/voice``), in process, with the real voice
backends and the fake brain: a spoken turn, interruption, bad audio and bad frames."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from fixtures_voice import client_with_voice, silence
from server_harness import auth, client, make_token, server_settings
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from os1.errors import ConfigError
from os1.mind.fake import FakeLLM
from os1.server import voice as voice_route
from os1.settings import Settings
from os1.voice.audio import Samples, to_pcm16
from os1.voice.kit import VoiceKit

Say = Callable[[str], Samples]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return server_settings(tmp_path / "home")


@pytest.fixture
def api(settings: Settings, voice_kit: VoiceKit) -> Iterator[TestClient]:
    yield from client_with_voice(settings, voice_kit)


def fake(api: TestClient) -> FakeLLM:
    llm = api.app.state.os1.runtime.llm  # type: ignore[attr-defined]
    assert isinstance(llm, FakeLLM)
    return llm


def open_voice(api: TestClient, settings: Settings) -> tuple[str, str]:
    token = make_token(settings, "theo")
    conv = api.post("/v1/conversations", headers=auth(token), json={}).json()["id"]
    return token, f"/v1/conversations/{conv}/voice"


def send_audio(ws: WebSocketTestSession, samples: Samples, frame_s: float = 0.1) -> None:
    step = int(frame_s * 16000)
    for start in range(0, len(samples), step):
        ws.send_bytes(to_pcm16(samples[start : start + step]))


def receive_until(ws: WebSocketTestSession, kind: str) -> tuple[list[dict[str, Any]], bytes]:
    events: list[dict[str, Any]] = []
    audio = b""
    while True:
        message = ws.receive()
        if message.get("bytes") is not None:
            audio += message["bytes"]
            continue
        event = json.loads(message["text"])
        events.append(event)
        if event["type"] == kind:
            return events, audio


def test_a_spoken_turn_over_the_socket(api: TestClient, settings: Settings, speech: Say) -> None:
    fake(api).replies = ["Of course. Tell me about her first."]
    token, url = open_voice(api, settings)
    with api.websocket_connect(url, headers=auth(token)) as ws:
        ready = ws.receive_json()
        assert ready == {
            "type": "ready",
            "input_rate": 16000,
            "output_rate": 22050,
            "input_format": "pcm_s16le",
            "output_format": "pcm_s16le",
        }
        ws.send_json({"type": "start", "sample_rate": 16000})
        question = "Can you help me write a letter to my grandmother?"
        send_audio(ws, np.concatenate([silence(0.3), speech(question), silence(0.6)]))
        events, audio = receive_until(ws, "reply_done")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "speech_started"
    transcript = next(e for e in events if e["type"] == "transcript")
    assert "grandmother" in transcript["text"].lower()
    assert kinds.index("transcript") < kinds.index("reply_delta") < kinds.index("audio")
    timing = next(e for e in events if e["type"] == "timing")
    assert set(timing) >= {"endpointing_ms", "recognition_ms", "thinking_ms", "synthesis_ms"}
    headers = [e for e in events if e["type"] == "audio"]
    assert [h["text"] for h in headers] == ["Of course.", "Tell me about her first."]
    assert len(audio) == 2 * sum(h["samples"] for h in headers)
    assert events[-1] == {"type": "reply_done", "text": "Of course. Tell me about her first."}
    turns = api.get("/v1/export", headers=auth(token)).json()["turns"]
    assert [(t["role"], t["content"]) for t in turns] == [
        ("user", transcript["text"]),
        ("assistant", "Of course. Tell me about her first."),
    ]


def test_interrupting_from_the_client_stores_what_was_played(
    api: TestClient, settings: Settings, speech: Say
) -> None:
    fake(api).replies = ["One moment, please. " + "I am thinking about it. " * 30]
    fake(api).delay = 0.05
    token, url = open_voice(api, settings)
    with api.websocket_connect(url, headers=auth(token)) as ws:
        ws.receive_json()
        send_audio(ws, np.concatenate([silence(0.2), speech("Tell me a story."), silence(0.6)]))
        receive_until(ws, "audio")
        ws.send_json({"type": "played", "seconds": 0.6})
        ws.send_json({"type": "interrupt"})
        events, _ = receive_until(ws, "interrupted")
        interrupted = events[-1]
    assert interrupted["played_s"] == pytest.approx(0.6)
    assert interrupted["heard"] and "One moment, please.".startswith(interrupted["heard"])
    turns = api.get("/v1/export", headers=auth(token)).json()["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[1]["content"] == interrupted["heard"]


def test_bad_frames_get_clear_errors_and_the_socket_stays_open(
    api: TestClient, settings: Settings
) -> None:
    token, url = open_voice(api, settings)
    with api.websocket_connect(f"{url}?token={token}") as ws:
        assert ws.receive_json()["type"] == "ready"
        cases: list[tuple[Callable[[], None], str]] = [
            (lambda: ws.send_json({"type": "start", "sample_rate": 44100}), "bad_sample_rate"),
            (lambda: ws.send_json({"type": "start", "sample_rate": "fast"}), "bad_sample_rate"),
            (lambda: ws.send_bytes(b"\x00\x01\x02"), "bad_audio"),
            (lambda: ws.send_bytes(b"\x00" * 64_002), "frame_too_large"),
            (lambda: ws.send_text("not json"), "bad_frame"),
            (lambda: ws.send_text("[1, 2]"), "bad_frame"),
            (lambda: ws.send_text("[" * 100_000 + "]" * 100_000), "bad_frame"),
            (lambda: ws.send_json({"type": "dance"}), "bad_frame"),
            (lambda: ws.send_json({"type": "played", "seconds": -1}), "bad_frame"),
            (lambda: ws.send_json({"type": "played", "seconds": True}), "bad_frame"),
        ]
        for send, code in cases:
            send()
            error = ws.receive_json()
            assert error["type"] == "error" and error["code"] == code, error
            assert error["message"]
        ws.send_json({"type": "end"})  # no turn in progress: nothing happens
        ws.send_json({"type": "interrupt"})  # no reply: nothing happens
        ws.send_bytes(to_pcm16(silence(0.5)))
        ws.send_json({"type": "dance"})
        assert ws.receive_json()["code"] == "bad_frame"  # still listening, nothing else said


def test_strangers_are_refused(api: TestClient, settings: Settings) -> None:
    _theo, url = open_voice(api, settings)
    amy = make_token(settings, "amy")
    for query in ["", f"?token={amy}", "?token=os1_forged"]:
        with api.websocket_connect(url + query) as ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


def test_without_the_voice_extra_the_socket_says_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(_settings: Settings) -> VoiceKit:
        raise ConfigError("voice needs the voice extra: pip install 'os1[voice]'")

    monkeypatch.setattr(voice_route, "kit_for", missing)
    with client(settings) as api:
        token, url = open_voice(api, settings)
        with api.websocket_connect(url, headers=auth(token)) as ws:
            error = ws.receive_json()
            assert error["code"] == "voice_unavailable" and "os1[voice]" in error["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1011
