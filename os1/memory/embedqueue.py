"""Embeddings made in the background, and questions first.

A new turn is stored and committed at once; its embedding follows in the background, in small
batches, so a reply never waits for it. The embedder does one thing at a time, and a question
being recalled goes before any waiting batch of turns. When the embedder cannot keep up (many
conversations at once on a small machine), work is shed rather than queued without end:

- a question arriving while ``max_questions`` others are already waiting for the embedder is
  recalled by its words alone (recall never waits long for a vector);
- background embedding keeps the embedder busy at most half the time (``duty``);
- a turn whose words were just recalled as a question (a person's message is stored, then
  recalled) gets the question's vector, when the embedder makes queries and passages alike;
- past ``max_pending`` turns waiting, the oldest are dropped from the queue. They stay stored
  and searchable by their words; ``os1 reindex`` (or the next recall that finds them, see
  ``SqlStore.recall``) gives them their vectors later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from os1.memory.embed import Embedder, Vectors
from os1.memory.models import Turn

log = logging.getLogger("os1.memory")

Write = Callable[[Sequence[Turn], Vectors], Awaitable[None]]


def passage(turn: Turn) -> str:
    """What is embedded of a turn: its words, with who said them when that is known."""
    return f"{turn.speaker}: {turn.content}" if turn.speaker else turn.content


class EmbedQueue:
    def __init__(
        self,
        embedder: Embedder,
        write: Write,
        *,
        batch: int = 8,
        max_pending: int = 20_000,
        max_questions: int = 2,
        duty: float = 0.5,
        remember: int = 256,
    ) -> None:
        self.embedder = embedder
        self._write = write
        self.batch = batch
        self.max_pending = max_pending
        self.max_questions = max_questions
        #: The share of time the background embedding may keep the embedder busy.
        self.duty = duty
        self._pending: deque[Turn] = deque()
        self._queued_ids: set[int] = set()
        self._worker: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self._questions = 0
        self._no_questions = asyncio.Event()
        self._no_questions.set()
        #: The latest questions' vectors, by text, for the turns that said them.
        self._asked: OrderedDict[str, Vectors] = OrderedDict()
        self._remember = remember if embedder.symmetric else 0
        #: Turns dropped from the queue, and questions recalled without a vector, so far.
        self.dropped = 0
        self.skipped_questions = 0
        #: Turns that took a question's vector instead of being embedded again.
        self.reused = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, stored: Sequence[Turn]) -> None:
        """Queue turns for embedding; returns at once."""
        fresh = [t for t in stored if t.id not in self._queued_ids]
        self._pending.extend(fresh)
        self._queued_ids.update(t.id for t in fresh)
        while len(self._pending) > self.max_pending:
            self._queued_ids.discard(self._pending.popleft().id)
            self.dropped += 1
        if fresh and (self._worker is None or self._worker.done()):
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    async def query(self, text: str) -> Vectors | None:
        """The question's vector, or None when the embedder is too busy to answer soon."""
        if self._questions >= self.max_questions:
            self.skipped_questions += 1
            return None
        self._questions += 1
        self._no_questions.clear()
        try:
            async with self._busy:
                vector = await self.embedder.query(text)
            if self._remember:
                self._asked[text] = vector
                while len(self._asked) > self._remember:
                    self._asked.popitem(last=False)
            return vector
        finally:
            self._questions -= 1
            if not self._questions:
                self._no_questions.set()

    async def _drain(self) -> None:
        while self._pending:
            await self._no_questions.wait()
            batch = [self._pending.popleft() for _ in range(min(self.batch, len(self._pending)))]
            try:
                asked = [self._asked.get(passage(t)) for t in batch]
                known = [t for t, v in zip(batch, asked, strict=True) if v is not None]
                todo = [t for t, v in zip(batch, asked, strict=True) if v is None]
                if known:
                    await self._write(known, np.stack([v for v in asked if v is not None]))
                    self.reused += len(known)
                spent = 0.0
                if todo:
                    async with self._busy:
                        started = time.monotonic()
                        vectors = await self.embedder.passages([passage(t) for t in todo])
                        spent = time.monotonic() - started
                    await self._write(todo, vectors)
                # At most half the time: the rest of the machine is for replies.
                await asyncio.sleep(spent * (1 - self.duty) / self.duty)
            except Exception:
                # The turns stay stored and found by their words; a later recall or
                # `os1 reindex` embeds them.
                log.exception("embedding %d turn(s) failed", len(batch))
            finally:
                self._queued_ids.difference_update(t.id for t in batch)

    async def flush(self, grace: float | None = None) -> bool:
        """Wait until every queued turn is embedded (or ``grace`` seconds pass): True if done."""
        worker = self._worker
        if worker is None or worker.done():
            return True
        try:
            await asyncio.wait_for(asyncio.shield(worker), grace)
        except TimeoutError:
            return False
        return not self._pending

    async def close(self, grace: float | None) -> None:
        """Finish what is queued within ``grace`` seconds, then stop; the rest stays unembedded."""
        if not await self.flush(grace) and self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
