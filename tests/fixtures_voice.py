"""Voice fixtures: the real backends (Whisper tiny.en, Piper, Silero VAD), loaded once, and
speech made by Piper for tests to hear."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from os1.voice.audio import SAMPLE_RATE, Samples, resample
from os1.voice.kit import VoiceKit, load_kit


@pytest.fixture(scope="session")
def voice_kit() -> Iterator[VoiceKit]:
    kit = load_kit("whisper", "piper", "silero")
    try:
        yield kit
    finally:
        kit.close()


@pytest.fixture(scope="session")
def speech(voice_kit: VoiceKit) -> Callable[[str], Samples]:
    """Piper saying ``text``, at 16 kHz, remembered across tests."""
    made: dict[str, Samples] = {}

    def say(text: str) -> Samples:
        if text not in made:
            made[text] = resample(voice_kit.tts.synthesize(text), voice_kit.tts.sample_rate)
        return made[text]

    return say


def silence(seconds: float) -> Samples:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)
