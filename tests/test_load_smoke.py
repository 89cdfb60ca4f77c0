"""A small run of the load benchmark: a few dozen conversations for seconds, over real sockets,
through `os1 up` and the fake model server, with every turn counted in the database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.postgres


def test_load_benchmark_smoke_run_loses_nothing() -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "load.py"),
            "--levels=30",
            "--duration=6",
            "--interval=1.5",
            "--reply-tokens=8",
            "--embedder=none",
            "--workers=1,2",
            "--no-write",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # One run with one server process, one with two sharing the port (and Redis).
    for workers in (1, 2):
        start = f"{workers} worker(s), 30 conversations"
        line = next(x for x in run.stdout.splitlines() if x.startswith(start))
        sent = int(re.search(r"stored once (\d+)/(\d+)", line).group(2))  # type: ignore[union-attr]
        assert sent >= 60, line  # about 30 * 6 / 1.5 turns
        assert f"stored once {sent}/{sent}, missing 0, duplicated 0, replies {sent}" in line
        assert "errors 0 " in line, line
    assert "| 2 | 30 |" in run.stdout  # the report's rows say which run is which


def test_fake_model_refuses_nonsense_settings() -> None:
    bad = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fake_model.py"), "--tokens-per-s=0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2 and "--tokens-per-s" in bad.stderr
