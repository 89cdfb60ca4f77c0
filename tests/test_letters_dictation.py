"""A letter dictated aloud: real WAV recordings (Piper's speech) heard by OS1's own speech
recognition, on the command line and over HTTP; bad recordings refused in one line with nothing
saved; and a letter that does not exist found out before any model is loaded."""

from __future__ import annotations

import json
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from fixtures_voice import client_with_voice, silence
from server_harness import auth, make_token, server_settings
from test_letters_cli import invoke, ok

from os1.letters.dictation import PIECE_S, pieces
from os1.mind import brains
from os1.settings import Settings
from os1.voice import VOICE_MODULES, kit
from os1.voice.audio import SAMPLE_RATE, Samples, resample, wav_bytes, write_wav
from os1.voice.kit import VoiceKit

Say = Callable[[str], Samples]
SAID = "Dear Roberta, I still think of the arcades in the rain."


def spoken(speech: Say, text: str = SAID) -> Samples:
    return np.concatenate([silence(0.4), speech(text), silence(0.4)])


def versions(home: Path, letter: int = 1) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(
        ok(home, "versions", str(letter), "-w", "theo", "--json")
    )
    return rows


def words(text: object) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalpha() or ch == " ")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An OS1 home where the writer ``theo`` has the client Loretta writing to Roberta."""
    home = tmp_path / "home"
    ok(home, "client", "add", "Loretta", "-w", "theo")
    ok(home, "correspondent", "add", "Loretta", "Roberta", "-w", "theo")
    return home


@pytest.fixture
def no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading speech recognition or a language model fails the test."""

    def never(*_args: object) -> None:
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(brains, "choose_brain", never)
    monkeypatch.setitem(kit.STT_BACKENDS, "whisper", never)


# -- pieces ----------------------------------------------------------------------------------
def test_a_long_recording_is_cut_where_it_is_quiet() -> None:
    rng = np.random.default_rng(0)
    loud = (rng.standard_normal(int(70 * SAMPLE_RATE)) * 0.3).astype(np.float32)
    pause = int(25.0 * SAMPLE_RATE), int(25.3 * SAMPLE_RATE)
    loud[pause[0] : pause[1]] = 0
    cut = pieces(loud)
    assert sum(len(p) for p in cut) == len(loud)
    assert all(len(p) <= PIECE_S * SAMPLE_RATE for p in cut)
    assert pause[0] <= len(cut[0]) <= pause[1]  # in the pause, not through a word
    assert pieces(loud[: SAMPLE_RATE * 5])[0].shape == (SAMPLE_RATE * 5,)


# -- on the command line ---------------------------------------------------------------------
def test_dictating_a_version_and_a_new_letter(home: Path, tmp_path: Path, speech: Say) -> None:
    take = tmp_path / "take.wav"
    write_wav(take, resample(spoken(speech), SAMPLE_RATE, 22050), 22050)  # any rate is heard
    ok(home, "new", "Loretta", "Roberta", "-w", "theo", "--title", "T", stdin=b"Dear Roberta,\n")
    said = ok(home, "dictate", "1", "-w", "theo", "--in", str(take))
    assert said.startswith("letter 1, version 2 (dictated)\n")
    rows = versions(home)
    assert [r["source"] for r in rows] == ["writer", "dictated"]
    heard = words(rows[1]["text"])
    assert "roberta" in heard and "arcades" in heard and "rain" in heard

    made = ok(
        home, "new", "Loretta", "Roberta", "-w", "theo", "--title", "Spoken", "--in", str(take)
    )
    assert made.startswith("letter 2, version 1 (dictated)\n")
    assert "arcades" in words(versions(home, 2)[0]["text"])


def test_bad_recordings_get_one_line_and_save_nothing(
    home: Path, tmp_path: Path, no_models: None
) -> None:
    ok(home, "new", "Loretta", "Roberta", "-w", "theo", "--title", "T", stdin=b"Dear Roberta,\n")
    cut, text, quiet, long = (tmp_path / n for n in ("cut.wav", "t.wav", "q.wav", "long.wav"))
    write_wav(cut, silence(1.0) + 0.1, 16000)
    cut.write_bytes(cut.read_bytes()[:-500])
    text.write_text("Dear Roberta, this is not audio.")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x10\0\0\0WAVEjunk\xff\xff\xff\x7f")  # a chunk past the end
    write_wav(quiet, silence(2.0), 16000)
    with wave.open(str(long), "wb") as wav:  # 601 s at 8 kHz, 8-bit: small, but too long
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(bytes([128]) * 8000 * 601)
    dictate = ("dictate", "1", "-w", "theo", "--in")
    cases = [
        ((*dictate, str(cut)), 2, "truncated WAV"),
        ((*dictate, str(text)), 2, "not a PCM WAV file"),
        ((*dictate, str(broken)), 2, "not a PCM WAV file"),
        ((*dictate, str(quiet)), 2, "is silent"),
        ((*dictate, str(long)), 2, "at most 600 s"),
        ((*dictate, str(tmp_path / "missing.wav")), 2, "cannot read"),
        (("dictate", "9", "-w", "theo", "--in", str(quiet)), 2, "is silent"),
        (
            ("new", "Loretta", "Roberta", "-w", "theo", "--title", "X", "--in", str(text)),
            2,
            "not a PCM WAV file",
        ),
        (
            (
                "new",
                "Loretta",
                "Roberta",
                "-w",
                "theo",
                "--title",
                "X",
                "--in",
                str(cut),
                "-f",
                "-",
            ),
            2,
            "either --in",
        ),
    ]
    for args, code, message in cases:
        got, out = invoke(home, *args)
        assert (got, message in out) == (code, True), (args, got, out)
        assert "\n" not in out.strip(), (args, out)
    assert len(versions(home)) == 1
    assert [r["id"] for r in json.loads(ok(home, "list", "-w", "theo", "--json"))] == [1]


def test_a_missing_or_sent_letter_is_found_out_before_any_model_loads(
    home: Path, tmp_path: Path, no_models: None
) -> None:
    take = tmp_path / "take.wav"
    write_wav(take, np.sin(np.arange(16000, dtype=np.float32) / 5) * 0.3, 16000)
    ok(home, "new", "Loretta", "Roberta", "-w", "theo", "--title", "T", stdin=b"Dear Roberta,\n")
    ok(home, "approve", "1", "-w", "theo")
    ok(home, "sent", "1", "-w", "theo")
    cases = [
        (("draft", "99", "-w", "theo", "--notes", "our trip"), 3, "no letter 99"),
        (("draft", "1", "-w", "paul", "--notes", "our trip"), 3, "no person named 'paul'"),
        (("draft", "1", "-w", "theo", "--notes", "our trip"), 2, "was sent"),
        (("draft", "1", "-w", "theo", "--notes", " "), 2, "notes is empty"),
        (("dictate", "99", "-w", "theo", "--in", str(take)), 3, "no letter 99"),
        (("dictate", "1", "-w", "theo", "--in", str(take)), 2, "was sent"),
        (
            ("new", "Loretta", "Nobody", "-w", "theo", "--title", "T", "--draft", "--notes", "x"),
            3,
            "no correspondent",
        ),
        (
            ("new", "Loretta", "Nobody", "-w", "theo", "--title", "T", "--in", str(take)),
            3,
            "no correspondent",
        ),
        (("sent", "99", "-w", "theo", "--mind"), 3, "no letter 99"),
    ]
    for args, code, message in cases:
        got, out = invoke(home, *args)
        assert (got, message in out) == (code, True), (args, got, out)


def test_without_the_voice_extra_dictation_says_how_to_get_it(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(VOICE_MODULES, "whisper", ("os1_no_such_module",))
    take = tmp_path / "take.wav"
    write_wav(take, silence(1.0), 16000)
    got, out = invoke(home, "dictate", "1", "-w", "theo", "--in", str(take))
    assert got == 2 and "pip install 'os1[voice]'" in out and "\n" not in out.strip()


# -- over HTTP -------------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return server_settings(tmp_path / "srv", embedder="none", max_body_bytes=4_000_000)


@pytest.fixture
def api(settings: Settings, voice_kit: VoiceKit) -> Iterator[TestClient]:
    yield from client_with_voice(settings, voice_kit)


def test_dictation_over_http(api: TestClient, settings: Settings, speech: Say) -> None:
    theo, amy = make_token(settings, "theodore"), make_token(settings, "amy")
    api.post("/v1/letters/clients", headers=auth(theo), json={"name": "Loretta"})
    corr = api.post(
        "/v1/letters/correspondences",
        headers=auth(theo),
        json={"client": "Loretta", "name": "Roberta"},
    ).json()["id"]
    audio = wav_bytes(spoken(speech), 16000)
    wav = auth(theo) | {"content-type": "audio/wav"}
    made = api.post(
        f"/v1/letters/dictation?correspondence_id={corr}&title=Spoken", headers=wav, content=audio
    )
    assert made.status_code == 201, made.text
    letter = made.json()["letter"]["id"]
    assert made.json()["version"]["source"] == "dictated"
    assert "arcades" in words(made.json()["version"]["text"])

    again = api.post(f"/v1/letters/{letter}/dictation", headers=wav, content=audio)
    assert again.status_code == 201, again.text
    assert (again.json()["number"], again.json()["source"]) == (2, "dictated")

    bad = [
        (wav, b"RIFF....WAVEnot really", 400, "not a PCM WAV file"),
        (wav, audio[:-1000], 400, "truncated WAV"),
        (wav, wav_bytes(silence(1.0), 16000), 400, "silent"),
        (auth(theo) | {"content-type": "application/json"}, audio, 415, "audio/wav"),
        (wav, b"\0" * 4_000_001, 413, "larger than"),
    ]
    for headers, body, code, message in bad:
        answer = api.post(f"/v1/letters/{letter}/dictation", headers=headers, content=body)
        assert answer.status_code == code, answer.text
        assert message in answer.json()["error"]["message"]
    theirs = auth(amy) | {"content-type": "audio/wav"}
    assert (
        api.post(f"/v1/letters/{letter}/dictation", headers=theirs, content=audio).status_code
        == 404
    )
    assert len(api.get(f"/v1/letters/{letter}/versions", headers=auth(theo)).json()) == 2
    assert len(api.get("/v1/letters", headers=auth(theo)).json()) == 1
