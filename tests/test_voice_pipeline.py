"""The voice pipeline with its real backends (Silero VAD, Whisper tiny.en, Piper) and the
fake brain: one stage at a time, then whole turns from audio in to audio out, interruption
included. Time inside the pipeline is the input's own: the harness moves a clock forward by
each frame it feeds, so what was heard of a reply does not depend on how fast this machine is.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fixtures_store import open_store
from fixtures_voice import silence

from os1.memory.store import SqlStore
from os1.mind.conversation import Mind
from os1.mind.fake import FakeLLM
from os1.mind.persona import load_mind
from os1.settings import Settings
from os1.voice.audio import SAMPLE_RATE, Samples, resample
from os1.voice.events import (
    Audio,
    Failed,
    Interrupted,
    ReplyDelta,
    ReplyDone,
    SpeechStarted,
    Timing,
    Transcript,
    VoiceEvent,
)
from os1.voice.files import converse
from os1.voice.kit import VoiceKit
from os1.voice.pipeline import VoiceConversation
from os1.voice.stt import SphinxSTT
from os1.voice.tts import EspeakTTS, PiperTTS
from os1.voice.turns import Endpointer, TurnRules
from os1.voice.vad import SileroVAD, WebRtcVAD

Say = Callable[[str], Samples]
QUESTION = "Can you help me write a letter to my grandmother?"
LONG_REPLY = (
    "Of course, I would love to help. Tell me a little about her first: what she likes, "
    "where she lives, and the last time the two of you talked. We can begin with a warm "
    "hello and a memory you share, and then say what you have been meaning to tell her."
)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def word_errors(said: str, heard: str) -> float:
    import jiwer

    return float(jiwer.wer(" ".join(words(said)), " ".join(words(heard)) or "-"))


def mind_with(
    store: SqlStore, llm: FakeLLM | None, tmp_path_factory: pytest.TempPathFactory
) -> Mind:
    settings = Settings(home=tmp_path_factory.mktemp("home"), interview=False)
    return Mind(store, llm, load_mind("samantha", settings.minds_dir), settings)


def voice_onset_s(samples: Samples) -> float:
    """Where speech begins in ``samples``: the first 10 ms whose loudness reaches a tenth of
    the loudest 10 ms."""
    window = SAMPLE_RATE // 100
    loudness = np.sqrt(np.convolve(samples**2, np.ones(window) / window, mode="valid"))
    return float(np.argmax(loudness >= 0.1 * loudness.max())) / SAMPLE_RATE


class Harness:
    """Feeds a conversation frame by frame on an input clock and keeps every event."""

    def __init__(self, voice: VoiceConversation, clock: list[float]) -> None:
        self.voice, self.clock = voice, clock
        self.seen: list[tuple[float, VoiceEvent]] = []

    def drain(self) -> None:
        while not self.voice.events.empty():
            self.seen.append((self.clock[0], self.voice.events.get_nowait()))

    async def feed(self, samples: Samples, frame: int = 512, *, paced: bool = False) -> None:
        """``paced``: as fast as a person speaks, so the reply's synthesis keeps up."""
        for start in range(0, len(samples), frame):
            await self.voice.feed_samples(samples[start : start + frame])
            self.clock[0] += frame / SAMPLE_RATE
            await asyncio.sleep(frame / SAMPLE_RATE if paced else 0)
            self.drain()

    async def until(self, kind: type, count: int = 1, wait_s: float = 20.0) -> VoiceEvent:
        """Wait (in real time, feeding nothing) until ``count`` events of ``kind`` came; the
        last of them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            self.drain()
            if len(found := self.of(kind)) >= count:
                return found[count - 1]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {kind.__name__} within {wait_s} s: {self.kinds()}")

    def kinds(self) -> list[str]:
        return [str(e) if isinstance(e, Failed) else type(e).__name__ for _, e in self.seen]

    def of(self, kind: type) -> list[VoiceEvent]:
        return [e for _, e in self.seen if isinstance(e, kind)]


# -- one stage at a time ---------------------------------------------------------------------
def test_vad_and_endpointer_find_a_spoken_turn_in_real_speech(say: Say) -> None:
    speech = say(QUESTION)
    audio = np.concatenate([silence(0.5), speech, silence(1.0)])
    vad = SileroVAD()
    turns = Endpointer(TurnRules(), 1000 * vad.frame_samples / SAMPLE_RATE)
    events: list[tuple[float, str]] = []
    for start in range(0, len(audio) - vad.frame_samples + 1, vad.frame_samples):
        probability = vad.speech_probability(audio[start : start + vad.frame_samples])
        events += [(turns.now_ms, e) for e in turns.step(probability)]
    kinds = [e for _, e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("end") == 1
    onset_ms = 500.0 + 1000 * voice_onset_s(speech)
    end_ms = 500.0 + 1000 * len(speech) / SAMPLE_RATE
    assert onset_ms < events[0][0] < onset_ms + 150
    # The voice's own trailing quiet counts as silence; the turn ends 320 ms after the speech.
    assert end_ms < events[-1][0] < end_ms + 320 + 200


@pytest.fixture
def say(speech: Say) -> Say:
    return speech


def test_whisper_recognizes_a_sentence_and_hears_nothing_in_silence(
    voice_kit: VoiceKit, say: Say
) -> None:
    assert word_errors(QUESTION, voice_kit.stt.transcribe(say(QUESTION))) <= 0.1
    assert voice_kit.stt.transcribe(silence(2.0)) == ""
    assert voice_kit.stt.transcribe(silence(0.05)) == ""


def test_piper_speaks_at_a_natural_pace(voice_kit: VoiceKit) -> None:
    audio = voice_kit.tts.synthesize("I would love to help you write it.")
    assert voice_kit.tts.sample_rate == 22050
    assert 1.2 < len(audio) / voice_kit.tts.sample_rate < 3.5
    assert 0.05 < float(np.abs(audio).max()) <= 1.0


def test_the_small_backends_work_too(say: Say) -> None:
    espeak = EspeakTTS()
    audio = espeak.synthesize("Hello Samantha.")
    assert len(audio) / espeak.sample_rate > 0.5
    sphinx = SphinxSTT()  # weak at dictation
    # Piper without its sampling noise: Sphinx's errors on the sampled voice range from 0 to
    # 0.6 of the words from one synthesis to the next, which made this check a coin toss.
    steady = PiperTTS(steady=True)
    spoken = resample(steady.synthesize(QUESTION), steady.sample_rate)
    assert np.array_equal(spoken, resample(steady.synthesize(QUESTION), steady.sample_rate))
    assert word_errors(QUESTION, sphinx.transcribe(spoken)) <= 0.4
    webrtc = WebRtcVAD()
    frame = webrtc.frame_samples
    assert webrtc.speech_probability(silence(frame / SAMPLE_RATE)) == 0.0
    voiced = say(QUESTION)
    probabilities = [
        webrtc.speech_probability(voiced[i : i + frame])
        for i in range(0, len(voiced) - frame, frame)
    ]
    assert np.mean(probabilities) > 0.5


# -- whole turns -----------------------------------------------------------------------------
async def test_a_recorded_question_gets_a_spoken_reply_stored_like_a_text_turn(
    voice_kit: VoiceKit,
    say: Say,
    store: SqlStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    reply = "Of course. Tell me about her, and we will start with a warm hello."
    llm = FakeLLM([reply, "It is lovely outside today."])
    mind = mind_with(store, llm, tmp_path_factory)
    session = await mind.open("theodore", interview=False)
    voice = VoiceConversation(voice_kit, session, realtime=False, partials=False)
    second = "How is the weather today?"
    recording = np.concatenate(
        [silence(0.4), say(QUESTION), silence(1.0), say(second), silence(0.8)]
    )
    exchange = await converse(voice, recording)
    assert len(exchange.heard) == 2
    assert word_errors(QUESTION, exchange.heard[0]) <= 0.1
    assert word_errors(second, exchange.heard[1]) <= 0.2
    assert exchange.replies == [reply, "It is lovely outside today."]
    # The reply's audio says the reply: Whisper hears it back.
    spoken = exchange.audio[0]
    from os1.voice.audio import resample

    back = voice_kit.stt.transcribe(resample(spoken, exchange.rate))
    assert word_errors(reply, back) <= 0.2
    turns = await store.recent_turns(session.conversation, 10)
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[1].content == reply
    assert turns[0].content == exchange.heard[0]
    hits = await store.recall(session.person, "letter grandmother", 3)
    assert any("grandmother" in h.text for h in hits)


async def test_an_answer_made_without_a_model_is_stored_once(
    voice_kit: VoiceKit, say: Say, store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    session = await mind_with(store, None, tmp_path_factory).open("t", interview=False)
    voice = VoiceConversation(voice_kit, session, realtime=False, partials=False)
    exchange = await converse(voice, np.concatenate([say(QUESTION), silence(0.8)]))
    assert len(exchange.replies) == 1 and exchange.replies[0]
    turns = await store.recent_turns(session.conversation, 10)
    assert [t.role for t in turns] == ["user", "assistant"]


async def test_noise_and_silence_make_no_turn(
    voice_kit: VoiceKit, store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = FakeLLM()
    session = await mind_with(store, llm, tmp_path_factory).open("t", interview=False)
    voice = VoiceConversation(voice_kit, session, realtime=False, partials=False)
    noise = (np.random.default_rng(0).normal(0, 0.02, SAMPLE_RATE * 4)).astype(np.float32)
    exchange = await converse(voice, np.concatenate([silence(2.0), noise, silence(1.0)]))
    assert exchange.heard == [] and exchange.replies == []
    assert llm.calls == []
    assert await store.recent_turns(session.conversation, 5) == []


async def test_speaking_over_the_reply_interrupts_it_and_stores_what_was_heard(
    voice_kit: VoiceKit,
    say: Say,
    store: SqlStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    llm = FakeLLM([LONG_REPLY, "Yes?"], delay=0.05)
    mind = mind_with(store, llm, tmp_path_factory)
    session = await mind.open("theodore", interview=False)
    clock = [0.0]
    voice = VoiceConversation(voice_kit, session, partials=False, clock=lambda: clock[0])
    h = Harness(voice, clock)
    await h.feed(np.concatenate([silence(0.3), say(QUESTION), silence(0.5)]))
    first_audio = await h.until(Audio)
    # The first audio left before the reply was complete: it streams chunk by chunk.
    assert isinstance(first_audio, Audio) and first_audio.text == "Of course,"
    deltas_before = len(h.of(ReplyDelta))
    assert deltas_before < len(LONG_REPLY.split())
    assert isinstance(h.of(Timing)[0], Timing)
    # She speaks for 1.5 s of input time; then the person talks over her.
    await h.feed(silence(1.5), paced=True)
    assert not h.of(ReplyDone)
    over = say("Wait, actually")
    # Piper's speech begins after some 40-50 ms of its own quiet, varying from one synthesis
    # to the next: the onset is where the voice begins, not where the clip does.
    lead = voice_onset_s(over)
    onset = clock[0] + lead
    await h.feed(over)
    interrupted = [(t, e) for t, e in h.seen if isinstance(e, Interrupted)]
    assert len(interrupted) == 1
    at, event = interrupted[0]
    assert isinstance(event, Interrupted)
    assert at - onset <= 0.150  # audio stopped within 150 ms of the speech's onset
    assert 1.4 <= event.played_s <= 1.5 + lead + 0.150  # 1.5 s of her reply, then the onset
    assert event.heard and LONG_REPLY.startswith(event.heard.rstrip(".,"))
    assert len(event.heard) < len(LONG_REPLY) / 2
    # No audio of the cut reply is sent after the interruption, and it never finishes.
    assert voice.is_cut(first_audio.reply)
    assert not h.of(ReplyDone)
    await h.feed(silence(0.6))
    await h.until(Audio, count=len(h.of(Audio)) + 1)  # "Yes?", spoken in one chunk
    await h.feed(silence(1.0))
    await h.until(ReplyDone)
    turns = await store.recent_turns(session.conversation, 10)
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[1].content == event.heard  # what was heard, not what was written
    assert turns[3].content == "Yes?"
    assert mind.scheduler.in_use == 0
    await voice.close()


async def test_speech_started_is_told_before_the_words(
    voice_kit: VoiceKit, say: Say, store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    session = await mind_with(store, FakeLLM(["Hello."]), tmp_path_factory).open("t")
    clock = [0.0]
    voice = VoiceConversation(voice_kit, session, clock=lambda: clock[0])
    h = Harness(voice, clock)
    await h.feed(np.concatenate([silence(0.3), say(LONG_REPLY[:120]), silence(0.4)]))
    await h.until(Audio)
    await h.feed(silence(1.0))
    await h.until(ReplyDone)
    kinds = h.kinds()
    assert kinds.index("SpeechStarted") < kinds.index("Transcript") < kinds.index("ReplyDelta")
    assert isinstance(h.of(SpeechStarted)[0], SpeechStarted)
    transcript = h.of(Transcript)[0]
    assert (
        isinstance(transcript, Transcript) and word_errors(LONG_REPLY[:120], transcript.text) < 0.2
    )
    await voice.close()


async def test_speaking_again_before_the_reply_is_heard_continues_the_turn(
    voice_kit: VoiceKit, say: Say, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A file: cancelling a reply mid-query drops its connection, which would lose an
    # in-memory database.
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path}/voice.db")
    llm = FakeLLM(["Too soon.", "I am well, thank you."], delay=0.2)
    session = await mind_with(store, llm, tmp_path_factory).open("t")
    clock = [0.0]
    voice = VoiceConversation(voice_kit, session, partials=False, clock=lambda: clock[0])
    h = Harness(voice, clock)
    await h.feed(np.concatenate([silence(0.3), say("Hi Samantha."), silence(0.45)]))
    await h.until(Transcript)  # the first part was taken as a whole turn and answered
    await h.feed(np.concatenate([say("How are you feeling today?"), silence(0.5)]))
    await h.until(Audio)
    await h.feed(silence(2.5))
    await h.until(ReplyDone)
    turns = await store.recent_turns(session.conversation, 10)
    assert [t.role for t in turns] == ["user", "assistant"]
    assert word_errors("Hi Samantha. How are you feeling today?", turns[0].content) <= 0.2
    assert turns[1].content in ("Too soon.", "I am well, thank you.")
    await voice.close()
    await store.close()
    await store.engine.dispose()
