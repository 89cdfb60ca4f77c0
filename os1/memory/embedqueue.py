"""Embeddings made in the background, and questions first.

A new turn is stored and committed at once; its embedding follows in the background, in small
batches, so a reply never waits for it. The embedder does one thing at a time, and a question
being recalled goes before any waiting batch of turns. When the embedder cannot keep up (many
conversations at once on a small machine), work is shed rather than queued without end:

- the embedder may keep busy ``share`` of one core on average (with a burst of ``burst``
  seconds of work): a person chatting alone has every question and turn embedded at once, a
  machine holding thousands of conversations spends a bounded part of its CPU on embeddings
  and the rest on replies;
- a question is embedded only while that budget has room and fewer than ``max_questions``
  others wait for the embedder; otherwise it is recalled by its words alone (recall never
  waits long for a vector, and a busy machine keeps answering quickly);
- background embedding of turns uses only the first half of the burst, so questions, which
  someone is waiting on, keep the rest;
- a turn whose words were just recalled as a question (a person's message is stored, then
  recalled) gets the question's vector, when the embedder makes queries and passages alike;
- past ``max_pending`` turns waiting, the oldest are dropped from the queue. They stay stored
  and searchable by their words; ``os1 reindex`` (or the next recall that finds them, see
  ``SqlStore.recall``) gives them their vectors later.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator, Sequence

import numpy as np

from os1.memory.embed import Embedder, Vectors
from os1.memory.models import Turn

log = logging.getLogger("os1.memory")

#: The vectors of each turn's parts (most turns have none: an empty array).
Parts = Sequence[Vectors]
#: Writes turns' vectors, and their parts' (``None``: the turns have no parts).
Write = Callable[[Sequence[Turn], Vectors, Parts | None], Awaitable[None]]


#: A turn is also embedded in parts when it has two or more runs of whole sentences of at
#: least this many words (each run taking the sentences that follow it until it is that long;
#: what is left over joins the last): see :func:`parts`. Chosen on the tune split (8, 12, 16
#: and 20 words, and every sentence on its own, compared; docs/memory.md).
PART_WORDS = 12
#: At most this many parts: a very long turn's runs are shared out among them, so every part
#: of it is read (the embedder reads the first 256 tokens of a text).
MAX_PARTS = 16
#: A "sentence" longer than this many words is read in pieces of this many (LoCoMo's longest
#: sentence has 34).
SENTENCE_WORDS = 60
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+(?=\S)")


def passage(turn: Turn) -> str:
    """What is embedded of a turn: its words, with who said them when that is known."""
    return _said(turn, turn.content)


def _said(turn: Turn, words: str) -> str:
    return f"{turn.speaker}: {words}" if turn.speaker else words


def parts(turn: Turn) -> list[str]:
    """What is embedded of a long turn instead of the whole: runs of its sentences of at least
    :data:`PART_WORDS` words each, with the speaker as in :func:`passage`; none when the turn
    holds fewer than two. One vector for a whole turn is the mean of all it says, and a
    question about one of several things a turn says matches that mean less well than the
    part that says it."""
    return _spoken(turn, _runs(turn.content))


def in_parts(content: str) -> bool:
    """Whether a turn saying ``content`` is embedded in :func:`parts`."""
    return bool(_runs(content))


def _sentences(content: str) -> Iterator[str]:
    """``content``'s sentences; one longer than :data:`SENTENCE_WORDS` (text with little or no
    punctuation, as in some chat exports) in pieces of at most that many words."""
    for sentence in _SENTENCE_END.split(content.strip()):
        words = sentence.split()
        if len(words) <= SENTENCE_WORDS:
            yield sentence
            continue
        for start in range(0, len(words), SENTENCE_WORDS):
            yield " ".join(words[start : start + SENTENCE_WORDS])


def _spoken(turn: Turn, runs: list[str]) -> list[str]:
    return [_said(turn, run) for run in runs]


def _runs(content: str) -> list[str]:
    runs: list[str] = []
    current: list[str] = []
    words = 0
    for sentence in _sentences(content):
        current.append(sentence)
        words += len(sentence.split())
        if words >= PART_WORDS:
            runs.append(" ".join(current))
            current, words = [], 0
    if current and runs:
        runs[-1] = f"{runs[-1]} {' '.join(current)}"
    if len(runs) < 2:
        return []
    if len(runs) > MAX_PARTS:  # a very long turn: as many runs in each part, in order
        bounds = np.linspace(0, len(runs), MAX_PARTS + 1).round().astype(int)
        runs = [" ".join(runs[a:b]) for a, b in itertools.pairwise(bounds)]
    return runs


async def embed_turns(embedder: Embedder, stored: Sequence[Turn]) -> tuple[Vectors, list[Vectors]]:
    """Each turn's vector, and the vectors of its :func:`parts` (none for most turns), from one
    call to the embedder. A turn in parts is not embedded whole as well: its vector is the mean
    of its parts', each weighted by its words, which costs a third less time to import than
    embedding the whole turn too, and reads the whole of a turn longer than the embedder's
    token limit."""
    runs = [_runs(t.content) for t in stored]
    pieces = [_spoken(t, r) for t, r in zip(stored, runs, strict=True)]
    texts = [passage(t) for t, piece in zip(stored, pieces, strict=True) if not piece]
    texts += [text for p in pieces for text in p]
    vectors = await embedder.passages(texts)
    whole = np.empty((len(stored), vectors.shape[1]), dtype=np.float32)
    split: list[Vectors] = []
    single, at = 0, sum(1 for p in pieces if not p)
    for i, piece in enumerate(pieces):
        if not piece:
            whole[i] = vectors[single]
            single += 1
            split.append(vectors[:0])
            continue
        own = vectors[at : at + len(piece)]
        at += len(piece)
        weights = np.array([len(run.split()) for run in runs[i]], dtype=np.float32)
        mean = weights @ own
        whole[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        split.append(own)
    return whole, split


class EmbedQueue:
    def __init__(
        self,
        embedder: Embedder,
        write: Write,
        *,
        batch: int = 8,
        max_pending: int = 20_000,
        max_questions: int = 2,
        share: float = 0.25,
        burst: float = 1.0,
        remember: int = 256,
    ) -> None:
        if not 0 < share <= 1 or burst <= 0:
            raise ValueError("share must be in (0, 1] and burst positive")
        self.embedder = embedder
        self._write = write
        self.batch = batch
        self.max_pending = max_pending
        self.max_questions = max_questions
        #: The embedder's CPU budget: ``share`` of one core on average, ``burst`` s at once.
        self.budget = Budget(share, burst)
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
        self.embedded_questions = 0
        #: Turns that took a question's vector instead of being embedded again.
        self.reused = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def queued(self, turn_id: int) -> bool:
        """Whether the turn waits here for its vector, or is being embedded now."""
        return turn_id in self._queued_ids

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
        if self._questions >= self.max_questions or not self.budget.room():
            self.skipped_questions += 1
            return None
        self._questions += 1
        self._no_questions.clear()
        try:
            async with self._busy:
                await self.embedder.load()  # the first load is not embedding work
                started = time.monotonic()
                try:
                    vector = await self.embedder.query(text)
                finally:
                    self.budget.spend(time.monotonic() - started)
            self.embedded_questions += 1
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
            # Background work keeps half the burst for questions.
            if (wait := self.budget.wait(self.budget.burst / 2)) > 0:
                await asyncio.sleep(wait)
                continue
            batch = [self._pending.popleft() for _ in range(min(self.batch, len(self._pending)))]
            try:
                # A turn in parts needs its parts embedded: it is not taken from a question.
                asked = [None if parts(t) else self._asked.get(passage(t)) for t in batch]
                known = [t for t, v in zip(batch, asked, strict=True) if v is not None]
                todo = [t for t, v in zip(batch, asked, strict=True) if v is None]
                if known:
                    await self._write(known, np.stack([v for v in asked if v is not None]), None)
                    self.reused += len(known)
                if todo:
                    async with self._busy:
                        await self.embedder.load()
                        started = time.monotonic()
                        try:
                            vectors, split = await embed_turns(self.embedder, todo)
                        finally:
                            self.budget.spend(time.monotonic() - started)
                    await self._write(todo, vectors, split)
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


class Budget:
    """A leaky bucket of embedder time: work adds its seconds, which drain at ``share`` seconds
    per second; there is room while less than ``burst`` seconds are owed."""

    def __init__(self, share: float, burst: float) -> None:
        self.share, self.burst = share, burst
        self._owed = 0.0
        self._stamp = time.monotonic()

    def _drain(self) -> float:
        now = time.monotonic()
        self._owed = max(0.0, self._owed - (now - self._stamp) * self.share)
        self._stamp = now
        return self._owed

    def spend(self, seconds: float) -> None:
        self._owed = self._drain() + max(0.0, seconds)

    def room(self) -> bool:
        return self._drain() < self.burst

    def wait(self, below: float) -> float:
        """Seconds until less than ``below`` seconds are owed."""
        owed = self._drain()
        return 0.0 if owed < below else (owed - below) / self.share + 1e-3
