"""Talking through this machine's microphone and speaker (sounddevice, over PortAudio).

Use headphones: the pipeline has no echo cancellation, so a reply heard by the microphone
through loudspeakers would interrupt itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from os1.errors import UserInputError
from os1.voice.audio import SAMPLE_RATE, Samples
from os1.voice.events import Audio, Interrupted, VoiceEvent
from os1.voice.pipeline import VoiceConversation

NO_DEVICE = "use --in question.wav --out reply.wav on a machine without audio devices"


def sounddevice() -> Any:
    """The ``sounddevice`` module, or a clear error when there is no audio system."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise UserInputError(f"no audio devices ({exc}); {NO_DEVICE}") from exc
    try:
        sd.query_devices(kind="input")
        sd.query_devices(kind="output")
    except (ValueError, sd.PortAudioError) as exc:
        raise UserInputError(f"no microphone or speaker found ({exc}); {NO_DEVICE}") from exc
    return sd


class Speaker:
    """Plays reply audio as it arrives; ``stop`` drops what is left; ``played_s`` counts what
    went out since the reply began."""

    def __init__(self, sd: Any, rate: int) -> None:
        self._queue: deque[Samples] = deque()
        self._lock = threading.Lock()
        self._played = 0
        self.rate = rate
        self._stream = sd.OutputStream(
            samplerate=rate, channels=1, dtype="float32", callback=self._fill
        )
        self._stream.start()

    def _fill(self, out: Any, frames: int, _time: Any, _status: Any) -> None:
        out.fill(0)
        filled = 0
        with self._lock:
            while filled < frames and self._queue:
                head = self._queue[0]
                take = min(frames - filled, len(head))
                out[filled : filled + take, 0] = head[:take]
                filled += take
                if take == len(head):
                    self._queue.popleft()
                else:
                    self._queue[0] = head[take:]
            self._played += filled

    def play(self, samples: Samples) -> None:
        with self._lock:
            self._queue.append(samples)

    def stop(self) -> None:
        with self._lock:
            self._queue.clear()

    def new_reply(self) -> None:
        with self._lock:
            self._played = 0

    @property
    def played_s(self) -> float:
        return self._played / self.rate

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


async def talk_live(voice: VoiceConversation, on_event: Callable[[VoiceEvent], None]) -> None:
    """Listen to the microphone and answer through the speaker until cancelled."""
    sd = sounddevice()
    loop = asyncio.get_running_loop()
    frames: asyncio.Queue[bytes] = asyncio.Queue()

    def heard(indata: Any, _frames: int, _time: Any, _status: Any) -> None:
        loop.call_soon_threadsafe(frames.put_nowait, bytes(indata))

    speaker = Speaker(sd, voice.kit.tts.sample_rate)
    microphone = sd.RawInputStream(
        samplerate=SAMPLE_RATE, channels=1, dtype="int16", blocksize=512, callback=heard
    )
    microphone.start()
    answering = asyncio.create_task(_play(voice, speaker, on_event))
    try:
        while True:
            await voice.feed(await frames.get())
            voice.played(speaker.played_s)
    finally:
        answering.cancel()
        microphone.stop()
        microphone.close()
        speaker.close()
        await voice.close()


async def _play(
    voice: VoiceConversation, speaker: Speaker, on_event: Callable[[VoiceEvent], None]
) -> None:
    reply = -1
    while True:
        event = await voice.events.get()
        if isinstance(event, Audio) and not voice.is_cut(event.reply):
            if event.reply != reply:
                reply = event.reply
                speaker.new_reply()
            speaker.play(np.asarray(event.samples, np.float32))
        elif isinstance(event, Interrupted):
            speaker.stop()
        on_event(event)
