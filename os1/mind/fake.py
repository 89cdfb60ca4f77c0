"""A deterministic language model for tests: no network, no weights, no randomness."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from os1.errors import LLMError, LLMStreamBroken
from os1.mind.llm import BrainInfo, Message, Sampling

_PIECES = re.compile(r"\S+\s*|\s+")


def echo_reply(messages: Sequence[Message]) -> str:
    """The default reply: the first 80 characters of the last user message, echoed."""
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return f"I hear you: {last[:80]}"


def split_pieces(text: str) -> list[str]:
    """Split ``text`` word by word, keeping the spacing, so ``"".join`` gives it back."""
    return _PIECES.findall(text)


class FakeLLM:
    """Replies from a script (``replies``, used in order) or by echoing the last user message.

    Every call's messages are kept in ``calls``. ``fail_with`` is raised before the first piece;
    ``fail_after`` raises :class:`LLMStreamBroken` after that many pieces; ``delay`` is slept
    before each piece. ``respond``, when given, writes each reply instead (an async function of
    the messages), like pydantic-ai's ``FunctionModel``.
    """

    def __init__(
        self,
        replies: Sequence[str] | None = None,
        *,
        fail_after: int | None = None,
        fail_with: LLMError | None = None,
        delay: float = 0.0,
        small: bool = False,
        respond: Callable[[list[Message]], Awaitable[str]] | None = None,
    ) -> None:
        self.replies = list(replies or [])
        self.respond = respond
        self.fail_after = fail_after
        self.fail_with = fail_with
        self.delay = delay
        self.small = small
        self.calls: list[list[Message]] = []
        self.samplings: list[Sampling] = []
        self.closed = False

    def describe(self) -> BrainInfo:
        return BrainInfo(
            kind="fake", model="fake", detail="deterministic test model", small=self.small
        )

    def next_reply(self, messages: Sequence[Message]) -> str:
        if self.replies:
            return self.replies.pop(0)
        return echo_reply(messages)

    async def stream(self, messages: Sequence[Message], sampling: Sampling) -> AsyncIterator[str]:
        self.calls.append(list(messages))
        self.samplings.append(sampling)
        if self.fail_with is not None:
            raise self.fail_with
        text = await self.respond(list(messages)) if self.respond else self.next_reply(messages)
        for count, piece in enumerate(split_pieces(text)):
            if self.fail_after is not None and count >= self.fail_after:
                raise LLMStreamBroken(f"the fake model broke off after {count} pieces")
            if self.delay:
                await asyncio.sleep(self.delay)
            yield piece

    async def aclose(self) -> None:
        self.closed = True
