"""The background embedding queue: questions first, a CPU budget, shedding, vector reuse."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from os1.memory.embed import Vectors
from os1.memory.embedqueue import Budget, EmbedQueue
from os1.memory.fake import HashingEmbedder
from os1.memory.models import Turn


class SlowEmbedder(HashingEmbedder):
    """Takes ``cost`` seconds of wall time per text, and counts what it was asked."""

    def __init__(self, cost: float) -> None:
        super().__init__()
        self.cost = cost
        self.queries: list[str] = []
        self.passage_texts: list[str] = []

    async def passages(self, texts: Sequence[str]) -> Vectors:
        self.passage_texts += texts
        await asyncio.sleep(self.cost * len(texts))
        return await super().passages(texts)

    async def query(self, text: str) -> Vectors:
        self.queries.append(text)
        await asyncio.sleep(self.cost)
        return await super().query(text)


def turn(i: int, text: str) -> Turn:
    return Turn(i, 1, 1, "user", text, datetime.now(UTC))


class Written:
    def __init__(self) -> None:
        self.vectors: dict[int, Vectors] = {}
        self.parts: dict[int, Vectors] = {}

    async def __call__(
        self, stored: Sequence[Turn], vectors: Vectors, parts: Sequence[Vectors] | None
    ) -> None:
        for i, (t, v) in enumerate(zip(stored, vectors, strict=True)):
            self.vectors[t.id] = v
            self.parts[t.id] = parts[i] if parts is not None else vectors[:0]


async def test_a_quiet_queue_embeds_every_question_and_turn() -> None:
    embedder, written = SlowEmbedder(0.001), Written()
    queue = EmbedQueue(embedder, written)
    for i in range(5):
        assert await queue.query(f"question {i}") is not None
        queue.submit([turn(i, f"a turn {i}")])
    assert await queue.flush(5)
    assert sorted(written.vectors) == [0, 1, 2, 3, 4]
    assert queue.skipped_questions == 0


async def test_past_its_budget_questions_are_answered_by_words_and_turns_wait() -> None:
    embedder, written = SlowEmbedder(0.02), Written()
    queue = EmbedQueue(embedder, written, share=0.1, burst=0.05)
    answered = [await queue.query(f"question {i}") for i in range(10)]
    # 0.05 s of burst holds about three 0.02 s questions; the rest are recalled by words.
    assert 2 <= sum(v is not None for v in answered) <= 4
    assert queue.skipped_questions == 10 - sum(v is not None for v in answered)
    queue.submit([turn(i, f"turn {i}") for i in range(4)])
    await asyncio.sleep(0.05)
    assert not written.vectors  # the budget is spent: turns wait, nothing is lost
    assert queue.pending == 4


class SlowToLoad(HashingEmbedder):
    """Like the real embedders: the first call loads the model, which takes a while."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.loads = 0

    async def load(self) -> None:
        if not self.loads:
            self.loads += 1
            await asyncio.sleep(self.seconds)

    async def query(self, text: str) -> Vectors:
        await self.load()
        return await super().query(text)


async def test_loading_the_model_is_not_charged_to_the_budget() -> None:
    """A slow first load (seconds, on a slow machine) must not leave the next questions
    without vectors, as if the embedder had been busy all that time."""
    embedder = SlowToLoad(0.3)
    queue = EmbedQueue(embedder, Written(), share=0.1, burst=0.2)
    answered = [await queue.query(f"question {i}") for i in range(3)]
    assert all(v is not None for v in answered) and queue.skipped_questions == 0
    assert embedder.loads == 1


def test_the_budget_drains_at_its_share() -> None:
    budget = Budget(share=0.5, burst=1.0)
    budget.spend(2.0)
    assert not budget.room()
    assert budget.wait(1.0) == pytest.approx(2.0, abs=0.05)  # 1 s owed over the burst, at 0.5/s
    assert budget.wait(3.0) == 0.0


async def test_a_turn_recalled_as_a_question_takes_the_question_vector() -> None:
    embedder, written = SlowEmbedder(0.0), Written()
    queue = EmbedQueue(embedder, written)
    asked = await queue.query("I moved to Berlin in May")
    assert asked is not None
    queue.submit([turn(7, "I moved to Berlin in May"), turn(8, "Something else entirely")])
    assert await queue.flush(5)
    assert queue.reused == 1
    assert embedder.passage_texts == ["Something else entirely"]
    assert np.allclose(written.vectors[7], asked)


async def test_a_long_turn_asked_as_a_question_is_still_embedded_in_parts() -> None:
    embedder, written = SlowEmbedder(0.0), Written()
    queue = EmbedQueue(embedder, written)
    long = (
        "We moved to Berlin in May after a long winter of looking for flats. "
        "My sister came along and found a job at a bakery near the river."
    )
    assert await queue.query(long) is not None
    queue.submit([turn(7, long)])
    assert await queue.flush(5)
    assert queue.reused == 0 and len(embedder.passage_texts) == 2  # the two parts
    assert len(written.parts[7]) == 2


async def test_asymmetric_embedders_embed_turns_as_passages() -> None:
    embedder, written = SlowEmbedder(0.0), Written()
    embedder.symmetric = False
    queue = EmbedQueue(embedder, written)
    await queue.query("I moved to Berlin in May")
    queue.submit([turn(7, "I moved to Berlin in May")])
    assert await queue.flush(5)
    assert queue.reused == 0 and embedder.passage_texts == ["I moved to Berlin in May"]


def test_nonsense_budgets_are_refused() -> None:
    with pytest.raises(ValueError):
        EmbedQueue(HashingEmbedder(), Written(), share=0)
    with pytest.raises(ValueError):
        EmbedQueue(HashingEmbedder(), Written(), burst=-1)
