"""Commands given files no parser should choke on: one clear ``error:`` line, exit code 2, and
nothing stored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env.update(OS1_HOME=str(home), OS1_BRAIN="fake", OS1_EMBEDDER="none")
    return subprocess.run(
        [sys.executable, "-m", "os1", *args],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


GOOD = b'{"id": "1", "session": "s", "role": "user", "content": "ok", "time": "2023-01-01"}'


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON: nested too deeply"),
        (
            b'{"id": "2", "session": "s", "role": "user", "content": "x", "time": "2023-01-01", '
            b'"n": ' + b"9" * 5000 + b"}",
            "not valid JSON: a number too long to read",
        ),
    ],
    ids=["nested-too-deeply", "long-number"],
)
def test_import_of_a_line_the_parser_cannot_take_is_one_line_and_imports_nothing(
    tmp_path: Path, line: bytes, reason: str
) -> None:
    file = tmp_path / "hostile.jsonl"
    file.write_bytes(GOOD + b"\n" + line + b"\n")
    error = one_error_line(run(tmp_path / "home", "import", "--person", "theo", str(file)))
    assert error == f"error: {file}:2: {reason}"
    assert run(tmp_path / "home", "export", "--person", "theo").returncode == 3  # nobody made


def test_showing_a_mind_whose_file_is_binary_is_one_line(tmp_path: Path) -> None:
    minds = tmp_path / "home" / "minds"
    minds.mkdir(parents=True)
    (minds / "junk.toml").write_bytes(b"\xe1\x00\xff binary")
    error = one_error_line(run(tmp_path / "home", "minds", "--show", "junk"))
    assert error == f"error: {minds / 'junk.toml'}: not valid UTF-8 (byte 0)"
