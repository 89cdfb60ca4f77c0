"""The voice pipeline's pure parts: turn-taking, cutting a reply into speakable chunks, what
was heard of an interrupted reply, audio files."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from os1.errors import UserInputError
from os1.voice.audio import from_pcm16, read_wav, to_pcm16, wav_bytes
from os1.voice.playback import Playback
from os1.voice.speech import Chunker, Spoken, heard, speakable
from os1.voice.stt import until_loop
from os1.voice.turns import Endpointer, TurnRules

FRAME_MS = 32.0


def run(probabilities: list[float], rules: TurnRules | None = None) -> list[tuple[float, str]]:
    turns = Endpointer(rules or TurnRules(), FRAME_MS)
    return [(turns.now_ms, e) for p in probabilities for e in turns.step(p)]


def test_a_turn_starts_after_start_ms_of_speech_and_ends_after_end_ms_of_silence() -> None:
    events = run([0.0] * 5 + [0.9] * 20 + [0.05] * 12)
    assert [e for _, e in events] == ["start", "pause", "end"]
    start, pause, end = (t for t, _ in events)
    assert start == 7 * FRAME_MS  # the second speech frame: 64 ms of speech
    assert pause == 25 * FRAME_MS + 64  # two silent frames after the speech
    assert end == 25 * FRAME_MS + 320  # ten silent frames


def test_a_turn_can_be_ended_early_once_its_words_say_it_is_over() -> None:
    from os1.voice.pipeline import ends_sentence

    turns = Endpointer(TurnRules(), FRAME_MS)
    assert turns.end_now() == []  # no turn in progress
    for _ in range(5):
        turns.step(0.9)
    for _ in range(5):
        turns.step(0.0)
    assert turns.silent_ms == 5 * FRAME_MS
    assert turns.end_now() == ["end"] and not turns.speaking
    assert ends_sentence("What did I say last week?") and ends_sentence('He said "stop."')
    assert ends_sentence("I see.") and ends_sentence("Wow!")
    assert not ends_sentence("I went to the...") and not ends_sentence("and then I")


def test_a_short_pause_resumes_the_turn_instead_of_ending_it() -> None:
    events = run([0.9] * 10 + [0.1] * 5 + [0.9] * 10 + [0.1] * 10)
    assert [e for _, e in events] == ["start", "pause", "resume", "pause", "end"]


def test_one_loud_frame_or_a_click_is_not_a_turn() -> None:
    assert run([0.0, 0.95, 0.0, 0.0, 0.9, 0.1] * 20) == []


def test_a_turn_without_pause_is_ended_at_max_turn() -> None:
    events = run([0.9] * 100, TurnRules(max_turn_ms=1000))
    assert [e for _, e in events][:2] == ["start", "end"]
    assert events[1][0] == pytest.approx(1000, abs=FRAME_MS)


def test_frames_between_quiet_and_speech_keep_the_turn_open_without_resuming_it() -> None:
    events = run([0.9] * 4 + [0.1] * 4 + [0.4] * 20 + [0.0] * 10)
    assert [e for _, e in events] == ["start", "pause", "end"]
    assert events[-1][0] == (28 + 10) * FRAME_MS


def chunks_of(pieces: list[str]) -> list[str]:
    chunker = Chunker()
    out = [c for p in pieces for c in chunker.feed(p)]
    return out + chunker.flush()


def test_the_first_chunk_is_a_short_clause_later_ones_whole_sentences() -> None:
    text = (
        "Of course, Theodore, I remember. You said the wedding is in May, and you were "
        "nervous. Want to practice the speech together?"
    )
    pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
    assert chunks_of(pieces) == [
        "Of course,",
        "Theodore, I remember.",
        "You said the wedding is in May, and you were nervous.",
        "Want to practice the speech together?",
    ]


def test_chunks_are_cut_only_when_the_following_space_arrives() -> None:
    chunker = Chunker()
    assert chunker.feed("Hello there.") == []
    assert chunker.feed(" How") == ["Hello there."]
    assert chunker.flush() == ["How"]


def test_markup_and_emoji_are_not_spoken() -> None:
    assert speakable("**Really?** That's _great_ 🎉 — #1!") == "Really? That's great — 1!"
    assert chunks_of(["*** ", "🎉🎉"]) == []


def test_a_very_long_sentence_is_cut_at_a_clause() -> None:
    long = ", ".join(["one two three four five six seven eight nine ten"] * 4) + "."
    chunks = chunks_of(["Hi. ", long])
    assert len(chunks) == 3
    assert " ".join(chunks).split() == ("Hi. " + long).split()


def test_heard_counts_whole_chunks_then_a_share_of_the_next() -> None:
    spoken = [Spoken("Of course, Theodore.", 1.5), Spoken("You said the wedding is in May.", 2.0)]
    assert heard(spoken, 0.0) == ""
    assert heard(spoken, 1.5) == "Of course, Theodore."
    assert heard(spoken, 1.5 + 1.0) == "Of course, Theodore. You said the"
    assert heard(spoken, 1.5 + 1.2) == "Of course, Theodore. You said the wedding"
    assert heard(spoken, 99) == "Of course, Theodore. You said the wedding is in May."


def test_playback_runs_on_the_clock_and_a_late_chunk_starts_when_it_arrives() -> None:
    now = [0.0]
    playback = Playback(lambda: now[0])
    playback.add(Spoken("one", 1.0))
    now[0] = 0.5
    assert playback.played_s() == 0.5
    now[0] = 3.0  # synthesis of the next chunk lagged: silence from 1.0 to 3.0
    playback.add(Spoken("two", 1.0))
    now[0] = 3.25
    assert playback.played_s() == 1.25
    assert playback.left_s() == 0.75
    playback.report(0.2)  # the listener knows better
    assert playback.played_s() == 0.2


def test_a_file_listener_hears_everything_at_once() -> None:
    playback = Playback(None)
    playback.add(Spoken("one", 2.0))
    assert playback.played_s() == 2.0
    assert playback.left_s() == 0.0


def test_a_decoder_loop_is_cut_where_it_starts_repeating() -> None:
    assert until_loop([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]) == [1, 2, 3, 4, 5]
    assert until_loop([1, 2, 3, 4]) == [1, 2, 3, 4]


# -- audio -----------------------------------------------------------------------------------
def wav(rate: int = 16000, width: int = 2, channels: int = 1, frames: bytes | None = None) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames if frames is not None else b"\x00" * width * channels * rate)
    return out.getvalue()


def test_pcm_round_trips_and_odd_bytes_are_refused() -> None:
    samples = np.array([0.0, 0.5, -0.5, 0.999], np.float32)
    assert np.allclose(from_pcm16(to_pcm16(samples)), samples, atol=1e-4)
    with pytest.raises(UserInputError, match="even number of bytes"):
        from_pcm16(b"\x00\x01\x02")


def test_any_rate_and_channel_count_is_read_as_16_khz_mono() -> None:
    tone = (np.sin(np.arange(44100) / 44100 * 2 * np.pi * 440) * 0.5).astype(np.float32)
    stereo = np.repeat(tone[:, None], 2, axis=1)
    data = wav(44100, 2, 2, (stereo * 32767).astype("<i2").tobytes())
    samples = read_wav(data)
    assert len(samples) == pytest.approx(16000, abs=2)
    assert np.abs(samples).max() == pytest.approx(0.5, abs=0.02)
    assert len(read_wav(wav(8000, 1))) == 16000
    assert len(read_wav(wav(16000, 3))) == 16000
    assert len(read_wav(wav(16000, 4))) == 16000


def _chunk_past_the_end() -> bytes:
    """A WAV whose format chunk claims a megabyte: the chunk runs past the end of the file."""
    data = bytearray(wav())
    at = data.find(b"fmt ")
    data[at + 4 : at + 8] = (1_000_000).to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a PCM WAV"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", "not a PCM WAV"),
        (b"hello, I am text, not audio" * 10, "not a PCM WAV"),
        (wav(frames=b"\x00" * 32000)[:-1000], "truncated WAV"),
        (wav(rate=2000), "unsupported sample rate"),
        (_chunk_past_the_end(), "not a PCM WAV"),
    ],
)
def test_broken_wav_files_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        read_wav(data)


def test_ten_minutes_of_audio_is_refused_without_being_read(tmp_path: Path) -> None:
    header = wav(frames=b"\x00" * 32000)
    long = tmp_path / "long.wav"
    long.write_bytes(wav(8000, 1, 1, b"\x80" * 8000 * 600))
    with pytest.raises(UserInputError, match="600 s of audio; at most 300 s"):
        read_wav(long)
    with pytest.raises(UserInputError, match="cannot read"):
        read_wav(tmp_path / "missing.wav")
    assert len(read_wav(header)) == 16000
    assert wav_bytes(np.zeros(10, np.float32), 22050)[:4] == b"RIFF"
