"""``os1 talk --in question.wav --out reply.wav``: a process with the real voice backends and
a real OpenAI-compatible model server on 127.0.0.1; bad files get one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fixtures_voice import silence
from openai_server import OpenAIServer
from test_cli import os1_env

from os1.voice.audio import Samples, read_wav, write_wav

Run = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def os1(tmp_path: Path, openai_server: OpenAIServer) -> Run:
    env = os1_env(tmp_path, openai_server)

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "os1", *args],
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )

    return run


def test_talk_answers_a_recorded_question_with_a_recorded_reply(
    os1: Run, tmp_path: Path, openai_server: OpenAIServer, speech: Callable[[str], Samples]
) -> None:
    question = tmp_path / "question.wav"
    said = "What should I cook for dinner tonight?"
    write_wav(question, np.concatenate([silence(0.5), speech(said), silence(0.5)]), 16000)
    reply = tmp_path / "reply.wav"
    done = os1("talk", "--person", "theo", "--in", str(question), "--out", str(reply))
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    assert "you:" in out and "dinner" in out.lower()
    assert "Samantha:" in out
    prompt = json.dumps(openai_server.messages[-1]).lower()
    assert "dinner" in prompt  # the recognized words reached the model
    audio = read_wav(reply)
    assert len(audio) > 16000 * 0.5 and float(np.abs(audio).max()) > 0.05
    # The turns went into memory like typed ones.
    recall = os1("recall", "--person", "theo", "--json", "dinner")
    assert recall.returncode == 0, recall.stderr.decode()
    assert "dinner" in recall.stdout.decode().lower()


def test_talk_says_when_it_heard_no_speech(os1: Run, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, silence(2.0), 16000)
    done = os1("talk", "--in", str(quiet), "--out", str(tmp_path / "reply.wav"))
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"error: no speech heard in {quiet}"
    assert not (tmp_path / "reply.wav").exists()


def test_talk_refuses_bad_files_in_one_line(os1: Run, tmp_path: Path) -> None:
    truncated = tmp_path / "cut.wav"
    write_wav(truncated, silence(1.0), 16000)
    truncated.write_bytes(truncated.read_bytes()[:-500])
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    cases = [
        (["--in", str(truncated)], "truncated WAV"),
        (["--in", str(text)], "not a PCM WAV file"),
        (["--in", str(tmp_path / "missing.wav")], "cannot read"),
        (["--out", str(tmp_path / "r.wav")], "--out needs --in"),
    ]
    for args, message in cases:
        done = os1("talk", *args)
        err = done.stderr.decode().strip()
        assert done.returncode == 2, err
        assert err.startswith("error: ") and message in err and "\n" not in err
