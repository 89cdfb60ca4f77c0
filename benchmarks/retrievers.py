"""The systems under test, each behind one seam: load a conversation, then answer questions
with a ranked list of distinct dia_ids.

- ``OS1Retriever`` goes through the code paths of ``os1 import`` (``parse_jsonl`` and
  ``SqlStore.import_turns``) and ``os1 recall --json`` (``SqlStore.recall``).
- ``BM25Retriever`` is plain Okapi BM25 (``rank-bm25``, k1=1.5, b=0.75) over lower-cased word
  tokens of each turn, with no stop words, stemming or query expansion.
- ``DenseRetriever`` ranks turns by cosine similarity with the embedder OS1 uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from locomo_data import LocomoConversation

from os1.memory.embed import Embedder, Vectors
from os1.memory.importer import parse_jsonl
from os1.memory.models import Person
from os1.memory.store import SqlStore

_WORD = re.compile(r"\w+")
#: Passages per embedder call, as in ``SqlStore.import_turns``.
BATCH = 64


class Retriever(Protocol):
    name: str

    async def load(self, conversation: LocomoConversation) -> None: ...

    async def search(self, question: str, k: int) -> list[str]: ...


def distinct(ids: Sequence[str], k: int) -> list[str]:
    """The first ``k`` distinct ids, in order."""
    return list(dict.fromkeys(ids))[:k]


class OS1Retriever:
    name = "os1"

    def __init__(self, store: SqlStore, max_chars: int) -> None:
        self.store = store
        self.max_chars = max_chars
        self.person: Person | None = None

    async def load(self, conversation: LocomoConversation) -> None:
        file = f"{conversation.sample_id}.jsonl"
        batch = parse_jsonl(conversation.jsonl(), file, self.max_chars)
        self.person = await self.store.ensure_person(f"locomo-{conversation.sample_id}")
        result = await self.store.import_turns(self.person, batch)
        if result.imported != len(conversation.turns):
            raise RuntimeError(
                f"{file}: imported {result.imported} of {len(conversation.turns)} turns "
                f"({result.skipped_existing} already known): use an empty database"
            )

    async def search(self, question: str, k: int) -> list[str]:
        assert self.person is not None, "load a conversation first"
        items = await self.store.recall(self.person, question, k)
        return distinct([s for item in items for s in item.source_ids], k)


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class BM25Retriever:
    name = "bm25"

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.index: Any = None  # rank_bm25.BM25Okapi, which has no type hints

    async def load(self, conversation: LocomoConversation) -> None:
        self.ids = [t.dia_id for t in conversation.turns]
        self.index = _okapi([tokens(t.content) for t in conversation.turns])

    async def search(self, question: str, k: int) -> list[str]:
        assert self.index is not None, "load a conversation first"
        scores = np.asarray(self.index.get_scores(tokens(question)), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")[:k]
        # Turns that share no word with the question are not retrieved at all.
        return [self.ids[i] for i in order if scores[i] > 0]


def _okapi(corpus: list[list[str]]) -> Any:
    try:
        from rank_bm25 import BM25Okapi  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError("the bm25 baseline needs rank-bm25: pip install rank-bm25") from exc
    return BM25Okapi(corpus)


class DenseRetriever:
    name = "dense"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.ids: list[str] = []
        self.matrix: Vectors | None = None

    async def load(self, conversation: LocomoConversation) -> None:
        self.ids = [t.dia_id for t in conversation.turns]
        texts = [t.content for t in conversation.turns]
        batches = [
            await self.embedder.passages(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)
        ]
        self.matrix = np.concatenate(batches)

    async def search(self, question: str, k: int) -> list[str]:
        assert self.matrix is not None, "load a conversation first"
        scores = self.matrix @ await self.embedder.query(question)
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in order]
