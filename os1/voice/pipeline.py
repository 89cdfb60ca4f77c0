"""One voice conversation: audio frames in, events (transcripts, reply text, reply audio,
interruptions) out. Transport-free: the WebSocket endpoint and ``os1 talk`` both drive it.

    voice = VoiceConversation(kit, session, rules)
    await voice.feed(pcm_bytes)          # as audio arrives, any size
    event = await voice.events.get()     # Ready, SpeechStarted, Partial, Transcript, ...

Recognition starts at the first pause, before the turn is known to be over, so that when the
silence is long enough to end it the words are usually ready. The reply streams into speech
one chunk at a time (the first a short clause). Speech over a reply interrupts it: audio stops,
generation is cancelled, and what the person heard is what is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

import numpy as np

from os1.errors import BusyError, LLMError, OS1Error
from os1.mind.conversation import Session
from os1.voice.audio import SAMPLE_RATE, Samples, from_pcm16
from os1.voice.events import (
    Audio,
    Failed,
    Interrupted,
    Partial,
    Ready,
    ReplyDelta,
    ReplyDone,
    SpeechStarted,
    Timing,
    Transcript,
    VoiceEvent,
)
from os1.voice.kit import VoiceKit
from os1.voice.playback import Playback
from os1.voice.speech import Chunker, Spoken, heard
from os1.voice.turns import Endpointer, TurnRules

log = logging.getLogger("os1.voice")

#: Audio kept from before the speech was detected, so a turn's first sound is not lost.
PREROLL_S = 0.25
#: Speech this soon after a turn ended, before any of the reply was heard, continues that turn.
CONTINUE_S = 1.0
#: While the person speaks, their words so far are recognized this often (when recognition
#: is free), for ``Partial`` events.
PARTIAL_EVERY_S = 1.0


class VoiceConversation:
    """``realtime``: a person listens as the audio is sent (replies take as long as they
    sound, and what was heard of a reply is measured on the clock); otherwise (a file) every
    reply is heard whole as soon as it is made."""

    def __init__(
        self,
        kit: VoiceKit,
        session: Session,
        rules: TurnRules | None = None,
        *,
        realtime: bool = True,
        partials: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kit = kit
        self.session = session
        self.rules = rules or TurnRules()
        self.realtime = realtime
        self.partials = partials
        self.clock = clock
        self.events: asyncio.Queue[VoiceEvent] = asyncio.Queue()
        self._vad = kit.new_vad()
        self._frame = self._vad.frame_samples
        self._turns = Endpointer(self.rules, 1000 * self._frame / SAMPLE_RATE)
        self._leftover = np.zeros(0, np.float32)
        self._preroll: deque[Samples] = deque(
            maxlen=max(1, int(PREROLL_S * SAMPLE_RATE) // self._frame)
        )
        self._turn: list[Samples] = []
        self._turn_no = 0
        self._speculative: asyncio.Task[str] | None = None
        self._partial: asyncio.Task[None] | None = None
        self._partial_at = 0
        self._last_speech_wall = 0.0
        self._reply_no = 0
        self._reply: asyncio.Task[None] | None = None
        self._playback = Playback(clock if realtime else None)
        self._cut: set[int] = set()
        #: A turn cut short before its reply began (the person only paused): its audio is
        #: heard again at the start of the next turn.
        self._carry: Samples | None = None
        #: The audio of the turn being answered, when it ended, and whether its words are
        #: still being recognized.
        self._answered: Samples | None = None
        self._ended_at = 0.0
        self._recognizing = False
        self.events.put_nowait(Ready(SAMPLE_RATE, kit.tts.sample_rate))

    # -- input ----------------------------------------------------------------------------
    async def feed(self, pcm: bytes) -> None:
        """Take ``pcm_s16le`` 16 kHz mono audio (any length; odd bytes are an error)."""
        await self.feed_samples(from_pcm16(pcm))

    async def feed_samples(self, samples: Samples) -> None:
        audio = np.concatenate([self._leftover, samples]) if len(self._leftover) else samples
        whole = len(audio) - len(audio) % self._frame
        for start in range(0, whole, self._frame):
            await self._step(audio[start : start + self._frame])
        self._leftover = audio[whole:]

    async def _step(self, frame: Samples) -> None:
        probability = self._vad.speech_probability(frame)
        if probability >= self.rules.quiet:
            self._last_speech_wall = self.clock()
        if self._turns.speaking:
            self._turn.append(frame)
        else:
            self._preroll.append(frame)
        events = self._turns.step(probability)
        if self._sentence_ended():
            events += self._turns.end_now()
        for event in events:
            if event == "start":
                await self._on_start()
            elif event == "pause":
                self._speculative = asyncio.create_task(self.kit.transcribe(self._audio()))
            elif event == "resume":
                self._speculative = None
            else:
                self._on_end()
        if self._turns.speaking and self.partials:
            self._maybe_partial()

    def _sentence_ended(self) -> bool:
        """Whether the turn in progress may end early: silent for ``quick_end_ms`` and the
        words recognized at the pause end a sentence."""
        guess = self._speculative
        if guess is None or not guess.done() or guess.cancelled() or guess.exception():
            return False
        if self._turns.silent_ms < self.rules.quick_end_ms:
            return False
        return ends_sentence(guess.result())

    async def _on_start(self) -> None:
        await self.interrupt()
        self._turn_no += 1
        carried, self._carry = self._carry, None
        self._turn = ([carried] if carried is not None else []) + list(self._preroll)
        self._preroll.clear()
        self._speculative = None
        self._partial_at = len(self._turn)
        self.events.put_nowait(SpeechStarted(round(self._turns.turn_start_ms / 1000, 3)))

    def _on_end(self) -> None:
        ended_wall = self._ended_at = self.clock()
        audio, speculative = self._audio(), self._speculative
        self._answered = audio
        self._turn, self._speculative = [], None
        self._reply_no += 1
        self._reply = asyncio.create_task(
            self._respond(self._reply_no, audio, speculative, self._last_speech_wall, ended_wall)
        )

    def _audio(self) -> Samples:
        return np.concatenate(self._turn) if self._turn else np.zeros(0, np.float32)

    def _maybe_partial(self) -> None:
        due = len(self._turn) - self._partial_at >= PARTIAL_EVERY_S * SAMPLE_RATE / self._frame
        if not due or (self._partial is not None and not self._partial.done()):
            return
        self._partial_at = len(self._turn)
        self._partial = asyncio.create_task(self._recognize_partial(self._turn_no, self._audio()))

    async def _recognize_partial(self, turn_no: int, audio: Samples) -> None:
        text = await self.kit.transcribe(audio)
        if text and turn_no == self._turn_no and self._turns.speaking:
            self.events.put_nowait(Partial(text))

    # -- control --------------------------------------------------------------------------
    def played(self, seconds: float) -> None:
        """The listener says it has played ``seconds`` of the current reply's audio."""
        self._playback.report(seconds)

    def is_cut(self, reply: int) -> bool:
        """Whether reply ``reply`` was interrupted (its audio must not be sent any more)."""
        return reply in self._cut

    @property
    def replying(self) -> bool:
        return self._reply is not None and not self._reply.done()

    async def interrupt(self) -> None:
        """Stop the reply being spoken or prepared, if any: its audio stops, its generation is
        cancelled, and what was heard of it is stored."""
        task = self._reply
        if task is None or task.done():
            return
        self._cut.add(self._reply_no)
        if self._recognizing:
            # The turn was still being recognized: the person only paused. Nothing was said
            # or stored yet; its audio begins the next turn.
            self._carry, self._recognizing = self._answered, False
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        played = self._playback.played_s()
        said = heard(self._playback.chunks, played)
        self.events.put_nowait(Interrupted(said, round(played, 3)))
        task.cancel()
        if not self._playback.chunks and self.clock() - self._ended_at <= CONTINUE_S:
            # Nothing of the reply was heard and the person speaks again at once: they had
            # only paused. Their words so far are taken back and begin the next turn.
            self._carry = self._answered
            settle: Awaitable[object] = self._after(task, self.session.withdraw())
        else:
            settle = self._after(task, self.session.spoken(said))
        # Done even if the listener hangs up meanwhile (which cancels the caller).
        await asyncio.shield(settle)

    async def _after(self, reply: asyncio.Task[None], storing: Awaitable[object]) -> None:
        """Once the cancelled ``reply`` has stopped, store (or take back) what was heard."""
        with contextlib.suppress(asyncio.CancelledError):
            await reply
        try:
            await storing
        except OS1Error as exc:
            self.events.put_nowait(Failed("storage", str(exc)))

    async def end_turn(self) -> None:
        """End the turn in progress now, as if the person had fallen silent."""
        silence = np.zeros(self._frame, np.float32)
        while self._turns.speaking:
            await self._step(silence)

    async def finish(self) -> None:
        """The input is over: end a turn in progress and wait for its reply."""
        await self.end_turn()
        await self.wait()

    async def wait(self) -> None:
        """Wait until the current reply, if any, is done (spoken whole or interrupted)."""
        if self._reply is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reply

    async def close(self) -> None:
        """Stop: a reply being spoken is interrupted (what was heard is stored)."""
        await self.interrupt()
        for task in (self._partial, self._speculative):
            if task is not None:
                task.cancel()

    # -- the reply ------------------------------------------------------------------------
    async def _respond(
        self,
        reply_no: int,
        audio: Samples,
        speculative: asyncio.Task[str] | None,
        speech_end: float,
        ended: float,
    ) -> None:
        self._recognizing = True
        text = await (speculative if speculative is not None else self.kit.transcribe(audio))
        self._recognizing = False
        recognized = self.clock()
        self._playback = Playback(self.clock if self.realtime else None)
        self.events.put_nowait(Transcript(text))
        if not text.strip():
            return
        clock = _Stopwatch(speech_end, ended, recognized)
        chunks: asyncio.Queue[str | None] = asyncio.Queue()
        speaking = asyncio.create_task(self._speak(reply_no, chunks, clock))
        reply = self.session.reply(text, store_reply=False)
        try:
            chunker = Chunker()
            async for piece in reply:
                self.events.put_nowait(ReplyDelta(piece))
                for chunk in chunker.feed(piece):
                    clock.chunk(self.clock())
                    chunks.put_nowait(chunk)
            for chunk in chunker.flush():
                clock.chunk(self.clock())
                chunks.put_nowait(chunk)
            chunks.put_nowait(None)
            await speaking
            # Polled: the clock may be the input's own, not the event loop's.
            left = self._playback.left_s()
            while left > 0:
                await asyncio.sleep(min(left, 0.05))
                left = self._playback.left_s()
        except Exception as exc:  # told to the listener; the conversation goes on
            self.events.put_nowait(_failure(exc))
            if not isinstance(exc, OS1Error):
                log.exception("voice reply failed")
            return
        finally:
            await reply.aclose()
            if not speaking.done():
                speaking.cancel()
        said = heard(self._playback.chunks, self._playback.total_s)
        await self.session.spoken(said)
        self.events.put_nowait(ReplyDone(said))

    async def _speak(
        self, reply_no: int, chunks: asyncio.Queue[str | None], clock: _Stopwatch
    ) -> None:
        rate = self.kit.tts.sample_rate
        while (chunk := await chunks.get()) is not None:
            samples = await self.kit.synthesize(chunk)
            if not len(samples):
                continue
            if clock.first_audio is None:
                clock.first_audio = self.clock()
                self.events.put_nowait(clock.timing())
            self._playback.add(Spoken(chunk, len(samples) / rate))
            self.events.put_nowait(Audio(samples, rate, reply_no, chunk))


def ends_sentence(text: str) -> bool:
    """``text`` ends with a full stop, question or exclamation mark (not an ellipsis)."""
    text = text.rstrip().rstrip("\"')")
    return text.endswith(("?", "!")) or (text.endswith(".") and not text.endswith(".."))


def _failure(exc: Exception) -> Failed:
    if isinstance(exc, BusyError):
        return Failed("busy", str(exc), exc.retry_after)
    if isinstance(exc, LLMError):
        return Failed("model_failed", str(exc))
    if isinstance(exc, OS1Error):
        return Failed("failed", str(exc))
    return Failed("voice_failed", f"the voice pipeline failed: {type(exc).__name__}")


class _Stopwatch:
    """Wall times of one turn, from the end of speech to the first reply audio."""

    def __init__(self, speech_end: float, ended: float, recognized: float) -> None:
        self.speech_end, self.ended, self.recognized = speech_end, ended, recognized
        self.first_chunk: float | None = None
        self.first_audio: float | None = None

    def chunk(self, now: float) -> None:
        if self.first_chunk is None:
            self.first_chunk = now

    def timing(self) -> Timing:
        chunk = self.first_chunk or self.recognized
        audio = self.first_audio or chunk

        def ms(seconds: float) -> float:
            return round(max(seconds, 0.0) * 1000, 1)

        return Timing(
            endpointing_ms=ms(self.ended - self.speech_end),
            recognition_ms=ms(self.recognized - self.ended),
            thinking_ms=ms(chunk - self.recognized),
            synthesis_ms=ms(audio - chunk),
            total_ms=ms(audio - self.speech_end),
        )
