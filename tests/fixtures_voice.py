"""Voice fixtures: the real backends (Whisper tiny.en, Piper, Silero VAD), loaded once, and
speech made by Piper for tests to hear."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_harness import client

from os1.server.voice import VoiceLoader
from os1.settings import Settings
from os1.voice.audio import SAMPLE_RATE, Samples, resample
from os1.voice.kit import VoiceKit, load_kit
from os1.voice.tts import PiperTTS


@pytest.fixture(scope="session")
def voice_kit() -> Iterator[VoiceKit]:
    """The real backends; Piper without its sampling noise, so that what the tests hear of a
    reply is the same in every run (with the noise, "a warm hello" was now and then heard
    back as "Warren")."""
    kit = load_kit("whisper", "piper", "silero")
    kit.tts = PiperTTS(steady=True)
    try:
        yield kit
    finally:
        kit.close()


@pytest.fixture(scope="session")
def speech() -> Callable[[str], Samples]:
    """Piper saying ``text``, at 16 kHz, remembered across tests. Without sampling noise: the
    same text is the same recording in every run, so what the tests hear does not change from
    one run to the next (with the noise, a word was now and then heard as another: "rain" as
    "ring")."""
    tts = PiperTTS(steady=True)
    made: dict[str, Samples] = {}

    def say(text: str) -> Samples:
        if text not in made:
            made[text] = resample(tts.synthesize(text), tts.sample_rate)
        return made[text]

    return say


def silence(seconds: float) -> Samples:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


def client_with_voice(settings: Settings, kit: VoiceKit) -> Iterator[TestClient]:
    """A test client of a server whose voice routes use ``kit`` (loaded once per session)."""
    with client(settings) as c:
        loader = VoiceLoader()
        loader.kit = kit
        c.app.state.voice = loader  # type: ignore[attr-defined]
        yield c
