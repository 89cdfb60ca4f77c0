"""The voice backends chosen by settings, loaded once and shared by every conversation.

Backends are picked by name from the tables below, as uvicorn picks its loops. Recognition and
synthesis each run on their own worker thread, so one conversation's synthesis overlaps
another's recognition, and neither blocks the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from os1.settings import Settings
from os1.voice import need_voice_extra
from os1.voice.audio import Samples, resample
from os1.voice.stt import STT, SphinxSTT, WhisperSTT
from os1.voice.tts import TTS, EspeakTTS, PiperTTS
from os1.voice.turns import TurnRules
from os1.voice.vad import VAD, SileroVAD, WebRtcVAD

STT_BACKENDS: dict[str, Callable[[int], STT]] = {
    "whisper": lambda threads: WhisperSTT(threads),
    "sphinx": lambda _threads: SphinxSTT(),
}
TTS_BACKENDS: dict[str, Callable[[], TTS]] = {"piper": PiperTTS, "espeak": EspeakTTS}
VAD_BACKENDS: dict[str, Callable[[], VAD]] = {"silero": SileroVAD, "webrtc": WebRtcVAD}


@dataclass
class VoiceKit:
    stt: STT
    tts: TTS
    new_vad: Callable[[], VAD]
    _stt_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="os1-stt")
    )
    _tts_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="os1-tts")
    )

    async def transcribe(self, samples: Samples) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._stt_pool, self.stt.transcribe, samples)

    async def synthesize(self, text: str) -> Samples:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._tts_pool, self.tts.synthesize, text)

    def close(self) -> None:
        self._stt_pool.shutdown(wait=False, cancel_futures=True)
        self._tts_pool.shutdown(wait=False, cancel_futures=True)


def load_kit(stt: str, tts: str, vad: str, threads: int = 0) -> VoiceKit:
    """Load the named backends and run each once (seconds: the models are read from disk and
    their first run is slow). Raises ``ConfigError`` naming the extra or program missing."""
    need_voice_extra(stt, tts, vad)
    kit = VoiceKit(STT_BACKENDS[stt](threads), TTS_BACKENDS[tts](), VAD_BACKENDS[vad])
    kit.new_vad()  # fail now, not at the first conversation
    speech = kit.tts.synthesize("Hello there.")
    kit.stt.transcribe(resample(speech, kit.tts.sample_rate))
    return kit


def kit_for(settings: Settings) -> VoiceKit:
    return load_kit(
        settings.voice_stt, settings.voice_tts, settings.voice_vad, settings.voice_threads or 0
    )


def rules_for(settings: Settings) -> TurnRules:
    return TurnRules(
        end_ms=settings.voice_end_ms, max_turn_ms=int(settings.voice_max_turn_s * 1000)
    )
