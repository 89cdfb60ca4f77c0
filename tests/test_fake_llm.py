"""The deterministic FakeLLM used by the rest of the tests."""

from __future__ import annotations

import pytest

from os1.errors import LLMStreamBroken, LLMUnavailable
from os1.mind.fake import FakeLLM, split_pieces
from os1.mind.llm import LLM, Message, Sampling, complete

CHAT = [Message("system", "persona"), Message("user", "first"), Message("user", "how are you?")]


async def pieces(llm: FakeLLM) -> list[str]:
    return [piece async for piece in llm.stream(CHAT, Sampling())]


async def test_echoes_the_last_user_message_word_by_word(fake_llm: FakeLLM) -> None:
    got = await pieces(fake_llm)
    assert got == ["I ", "hear ", "you: ", "how ", "are ", "you?"]
    assert fake_llm.calls == [CHAT]


async def test_echo_is_cut_at_80_characters(fake_llm: FakeLLM) -> None:
    reply = await complete(fake_llm, [Message("user", "x" * 200)], Sampling())
    assert reply == "I hear you: " + "x" * 80


async def test_scripted_replies_in_order_then_echo() -> None:
    llm = FakeLLM(["One.", "Two words."])
    assert [await complete(llm, CHAT, Sampling()) for _ in range(3)] == [
        "One.",
        "Two words.",
        "I hear you: how are you?",
    ]
    assert len(llm.calls) == 3


async def test_fail_after_some_pieces() -> None:
    llm = FakeLLM(fail_after=2)
    got: list[str] = []
    with pytest.raises(LLMStreamBroken):
        async for piece in llm.stream(CHAT, Sampling()):
            got.append(piece)
    assert got == ["I ", "hear "]


async def test_fail_with_at_the_start() -> None:
    llm = FakeLLM(fail_with=LLMUnavailable("down"))
    with pytest.raises(LLMUnavailable, match="down"):
        await pieces(llm)
    assert llm.calls == [CHAT]


async def test_delay_and_protocol() -> None:
    llm = FakeLLM(["a b"], delay=0.001)
    assert isinstance(llm, LLM)
    assert await pieces(llm) == ["a ", "b"]
    assert llm.describe().kind == "fake"
    await llm.aclose()
    assert llm.closed


def test_split_pieces_round_trips() -> None:
    text = "  Hello,\n  world!  "
    assert "".join(split_pieces(text)) == text
