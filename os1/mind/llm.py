"""The one seam between OS1 and any language model.

A backend is anything with ``describe()``, ``stream(messages, sampling)`` and ``aclose()``.
``stream`` yields pieces of the reply text as they arrive and raises only
:class:`os1.errors.LLMError` subclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampling knobs. Backends use the ones they understand."""

    temperature: float = 0.7
    max_tokens: int = 400
    top_p: float = 0.9
    repeat_penalty: float = 1.0
    #: Text that ends the reply where it appears, itself left out (the embedded backend).
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BrainInfo:
    """What a person is told about the model answering them."""

    kind: Literal["openai", "ollama", "embedded", "offline", "fake"]
    model: str
    detail: str
    #: True for models too small to be trusted with facts (the embedded default).
    small: bool = False


@runtime_checkable
class LLM(Protocol):
    def describe(self) -> BrainInfo: ...

    def stream(self, messages: Sequence[Message], sampling: Sampling) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...


async def complete(llm: LLM, messages: Sequence[Message], sampling: Sampling) -> str:
    """The whole reply as one string."""
    parts = [piece async for piece in llm.stream(messages, sampling)]
    return "".join(parts)
