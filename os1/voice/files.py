"""A voice conversation from recorded audio: each turn in the recording is answered before
the next is heard, and the replies' audio is gathered, ready to be written to a file."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from os1.voice.audio import SAMPLE_RATE, Samples
from os1.voice.events import Audio, Failed, ReplyDone, Transcript, VoiceEvent
from os1.voice.pipeline import VoiceConversation

#: Silence put between two replies in the output.
GAP_S = 0.4
#: Audio is fed in blocks this long.
BLOCK_S = 0.1


@dataclass
class Exchange:
    """What came of a recording: the words heard, the replies spoken, their audio."""

    rate: int
    heard: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    errors: list[Failed] = field(default_factory=list)
    audio: list[Samples] = field(default_factory=list)

    def reply_audio(self) -> Samples:
        gap = np.zeros(int(GAP_S * self.rate), np.float32)
        parts: list[Samples] = []
        for samples in self.audio:
            parts += [gap, samples] if parts else [samples]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


async def converse(
    voice: VoiceConversation,
    samples: Samples,
    on_event: Callable[[VoiceEvent], None] | None = None,
) -> Exchange:
    """Feed ``samples`` (16 kHz) through ``voice``, answering each turn before going on."""
    exchange = Exchange(voice.kit.tts.sample_rate)
    take = _taker(exchange, on_event)
    listening = asyncio.create_task(_gather(voice, take))
    try:
        block = int(BLOCK_S * SAMPLE_RATE)
        for start in range(0, len(samples), block):
            await voice.feed_samples(samples[start : start + block])
            if voice.replying:
                await voice.wait()
        await voice.finish()
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    while not voice.events.empty():
        take(voice.events.get_nowait())
    return exchange


async def _gather(voice: VoiceConversation, take: Callable[[VoiceEvent], None]) -> None:
    while True:
        take(await voice.events.get())


def _taker(
    exchange: Exchange, on_event: Callable[[VoiceEvent], None] | None
) -> Callable[[VoiceEvent], None]:
    current: list[Samples] = []

    def take(event: VoiceEvent) -> None:
        if on_event is not None:
            on_event(event)
        if isinstance(event, Transcript) and event.text:
            exchange.heard.append(event.text)
        elif isinstance(event, Audio):
            current.append(event.samples)
        elif isinstance(event, ReplyDone):
            exchange.replies.append(event.text)
            if current:
                exchange.audio.append(np.concatenate(current))
            current.clear()
        elif isinstance(event, Failed):
            exchange.errors.append(event)

    return take
