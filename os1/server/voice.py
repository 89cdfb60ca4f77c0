"""Talking out loud over WebSocket: ``/v1/conversations/{id}/voice``.

Authenticate as for ``/ws`` (``Authorization: Bearer <token>`` or ``?token=``). The client
sends binary frames of 16 kHz mono ``pcm_s16le`` audio as it records (silence included: the
silence is what ends a turn), and may send JSON: ``{"type": "start", "sample_rate": 16000}``
(a check: any other rate is refused), ``{"type": "played", "seconds": S}`` (how much of the
current reply it has played, when it knows better than the server's clock),
``{"type": "interrupt"}`` (stop the reply now) and ``{"type": "end"}`` (the turn is over now,
as when a push-to-talk button is released).

The server sends JSON events (``ready``, ``speech_started``, ``partial``, ``transcript``,
``reply_delta``, ``timing``, ``interrupted``, ``reply_done``, ``error``; see docs/voice.md),
and the reply's audio: a JSON ``audio`` event (``reply``, ``text``, ``samples``, ``rate``)
followed by binary ``pcm_s16le`` frames at the ``output_rate`` that ``ready`` announced. After
``interrupted`` no more audio of that reply is sent; a client drops what it has buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.datastructures import State

from os1.errors import OS1Error, UserInputError
from os1.server.native import RowId
from os1.server.state import ServerState
from os1.server.ws import GOING_AWAY, accept_session, frame_json
from os1.voice.audio import SAMPLE_RATE, to_pcm16
from os1.voice.events import Audio, Failed, VoiceEvent
from os1.voice.kit import VoiceKit, kit_for, rules_for
from os1.voice.pipeline import VoiceConversation

log = logging.getLogger("os1.server")
router = APIRouter()
#: The largest binary frame taken: 2 s of audio.
MAX_FRAME_BYTES = 2 * SAMPLE_RATE * 2
#: Reply audio goes out in binary frames of at most this many seconds.
SEND_FRAME_S = 0.25
SERVER_ERROR = 1011


class VoiceLoader:
    """The voice backends, loaded at the first voice conversation and shared by all."""

    def __init__(self) -> None:
        self.kit: VoiceKit | None = None
        self._lock = asyncio.Lock()

    async def get(self, state: ServerState) -> VoiceKit:
        async with self._lock:
            if self.kit is None:
                self.kit = await asyncio.to_thread(kit_for, state.runtime.settings)
            return self.kit


def loader(app_state: State) -> VoiceLoader:
    """The app's loader (tests put one with a kit already loaded in ``app.state.voice``)."""
    if not hasattr(app_state, "voice"):
        app_state.voice = VoiceLoader()
    found: VoiceLoader = app_state.voice
    return found


@router.websocket("/v1/conversations/{conversation_id}/voice")
async def voice_ws(ws: WebSocket, conversation_id: RowId) -> None:
    state: ServerState = ws.app.state.os1
    session = await accept_session(ws, conversation_id)
    if session is None:
        return
    try:
        kit = await loader(ws.app.state).get(state)
    except OS1Error as exc:
        await _send_json(ws, dataclasses.asdict(Failed("voice_unavailable", str(exc))))
        await ws.close(code=SERVER_ERROR, reason="voice is not available")
        return
    settings = state.runtime.settings
    voice = VoiceConversation(
        kit,
        session,
        rules_for(settings),
        partials=settings.voice_partials,
    )
    sending = asyncio.create_task(_send_events(ws, voice))
    try:
        await _receive(ws, state, voice)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await voice.close()
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    if state.stopping.is_set():
        with contextlib.suppress(RuntimeError):
            await ws.close(code=GOING_AWAY)


async def _receive(ws: WebSocket, state: ServerState, voice: VoiceConversation) -> None:
    while not state.stopping.is_set():
        received = await ws.receive()
        if received["type"] == "websocket.disconnect":
            return
        data = received.get("bytes")
        if data is not None:
            problem = await _take_audio(voice, data)
        else:
            problem = await _control(voice, received.get("text"))
        if problem is not None:
            voice.events.put_nowait(problem)


async def _take_audio(voice: VoiceConversation, data: bytes) -> Failed | None:
    if len(data) > MAX_FRAME_BYTES:
        return Failed("frame_too_large", f"audio frames hold at most {MAX_FRAME_BYTES} bytes (2 s)")
    try:
        await voice.feed(data)
    except UserInputError as exc:
        return Failed("bad_audio", str(exc))
    return None


async def _control(voice: VoiceConversation, text: str | None) -> Failed | None:
    message = frame_json(text)
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "start":
        rate = message.get("sample_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            return Failed("bad_sample_rate", f"send 16 kHz mono pcm_s16le audio, not {rate!r} Hz")
    elif kind == "played":
        seconds = message.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return Failed("bad_frame", '"played" needs "seconds", a number of seconds >= 0')
        voice.played(float(seconds))
    elif kind == "interrupt":
        await voice.interrupt()
    elif kind == "end":
        await voice.end_turn()
    else:
        return Failed(
            "bad_frame",
            'send binary pcm_s16le audio, or JSON with "type": start, played, interrupt or end',
        )
    return None


async def _send_events(ws: WebSocket, voice: VoiceConversation) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            event = await voice.events.get()
            if isinstance(event, Audio):
                await _send_audio(ws, voice, event)
            else:
                await _send_json(ws, _as_json(event))


async def _send_audio(ws: WebSocket, voice: VoiceConversation, audio: Audio) -> None:
    if voice.is_cut(audio.reply):
        return
    header = {
        "type": "audio",
        "reply": audio.reply,
        "text": audio.text,
        "samples": len(audio.samples),
        "rate": audio.rate,
    }
    await _send_json(ws, header)
    step = int(SEND_FRAME_S * audio.rate)
    for start in range(0, len(audio.samples), step):
        if voice.is_cut(audio.reply):
            return
        await ws.send_bytes(to_pcm16(audio.samples[start : start + step]))


def _as_json(event: VoiceEvent) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    return {"type": data.pop("type"), **data}


async def _send_json(ws: WebSocket, data: dict[str, Any]) -> None:
    await ws.send_text(json.dumps(data, ensure_ascii=False))
