"""Words that mean nearly the same, read from the embedding model: query expansion with no list.

"What desserts does Nate like?" should find "I baked a pie", which shares no word with it. The
hand-written groups of :mod:`os1.memory.expand` cover a few facts of every life; this covers
the rest of the language. Every whole word the embedder knows (the words of its WordPiece
vocabulary, about 21,000 for MiniLM, stop words left out) is embedded once, and each word of a
question brings in its :data:`NEIGHBOURS` nearest words of another stem, at cosine
:data:`MIN_SIMILARITY` or more, that the person has used: "dessert" brings "baked", "pie",
"pudding" or "cakes", whichever occur in the person's turns, each weighted
:data:`WEIGHT` times its similarity against 1 for the question's own words. Speakers' names
and the words the groups bring in are not expanded.

The neighbours come from the model, not from anyone's memory: one person's words never enter
another's query, since a neighbour counts only where the person's own index has it. The word
vectors are derived once per machine (about 3 s on two cores) and cached beside the derived
model (``model_cache``). The constants were chosen on the tune split of LoCoMo
(docs/benchmarks.md): 1-4 neighbours, similarity 0.5-0.7 and weight 0.35-0.7 were tried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from os1.memory.embed import Embedder, Vectors
from os1.memory.fulltext import STOPWORDS
from os1.memory.terms import stem

#: Words a question's word brings in, at most.
NEIGHBOURS = 2
#: Cosine similarity a neighbour needs at least.
MIN_SIMILARITY = 0.6
#: A neighbour's weight in the query, times its similarity (a question's own word weighs 1).
WEIGHT = 0.5
#: Nearest words looked at for each word, before those the person never used are left out.
CANDIDATES = 30
#: Words whose neighbours are kept in memory.
REMEMBERED = 20_000
_WHOLE_WORD = re.compile(r"[a-z]{3,}")
log = logging.getLogger("os1.memory")


def vocabulary(tokenizer_json: Path) -> list[str]:
    """The whole words of a WordPiece tokenizer's vocabulary (``tokenizer.json``): lower-case
    letters only, three or more, stop words left out; sorted."""
    vocab = json.loads(tokenizer_json.read_bytes())["model"]["vocab"]
    return sorted(w for w in vocab if _WHOLE_WORD.fullmatch(w) and w not in STOPWORDS)


class WordNeighbours:
    """The nearest words to each word of ``words`` by their ``vectors`` (L2-normalised rows)."""

    def __init__(self, words: Sequence[str], vectors: Vectors) -> None:
        if len(words) != len(vectors):
            raise ValueError("one vector for each word")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.stems = [stem(w) for w in words]
        #: Each stem's shortest word ("dessert" for "dessert", "desserts").
        self._word_of: dict[str, int] = {}
        for at, (word, root) in enumerate(zip(words, self.stems, strict=True)):
            known = self._word_of.get(root)
            if known is None or len(word) < len(words[known]):
                self._word_of[root] = at
        self._near: OrderedDict[str, list[tuple[str, float]]] = OrderedDict()

    def near(self, root: str) -> list[tuple[str, float]]:
        """(stem, similarity) of the words nearest to the word of stem ``root``, best first:
        at most :data:`CANDIDATES`, each of another stem and at least :data:`MIN_SIMILARITY`
        similar. Empty for a stem the vocabulary lacks."""
        found = self._near.get(root)
        if found is not None:
            self._near.move_to_end(root)
            return found
        at = self._word_of.get(root)
        found = [] if at is None else self._nearest(at)
        self._near[root] = found
        if len(self._near) > REMEMBERED:
            self._near.popitem(last=False)
        return found

    def _nearest(self, at: int) -> list[tuple[str, float]]:
        similarity = self.vectors @ self.vectors[at]
        count = min(CANDIDATES + 1, len(similarity))
        best = np.argpartition(-similarity, count - 1)[:count]
        best = best[np.argsort(-similarity[best], kind="stable")]
        out: list[tuple[str, float]] = []
        seen = {self.stems[at]}
        for other in best:
            value, root = float(similarity[other]), self.stems[other]
            if value < MIN_SIMILARITY:
                break
            if root not in seen:
                seen.add(root)
                out.append((root, value))
        return out[:CANDIDATES]

    def expand(
        self, weights: dict[str, float], roots: Sequence[str], used: Callable[[str], bool]
    ) -> None:
        """Add to ``weights`` (stem -> weight) the neighbours of each of ``roots`` (the
        question's own stems) that ``used`` says the person has used, at most
        :data:`NEIGHBOURS` each; a stem already in ``weights`` keeps its weight."""
        for root in roots:
            added = 0
            for other, similarity in self.near(root):
                if added == NEIGHBOURS:
                    break
                if other in weights or not used(other):
                    continue
                weights[other] = WEIGHT * similarity
                added += 1


_MADE: weakref.WeakKeyDictionary[Embedder, WordNeighbours | None] = weakref.WeakKeyDictionary()
_MAKING = threading.Lock()


async def word_neighbours(embedder: Embedder) -> WordNeighbours | None:
    """:func:`neighbours_of` for async code: at once when they are made, else in a thread."""
    try:
        return _MADE[embedder]
    except KeyError:
        return await asyncio.to_thread(neighbours_of, embedder)


def neighbours_of(embedder: Embedder) -> WordNeighbours | None:
    """``embedder``'s word neighbours, made once for each embedder object and shared by every
    store using it; None when it has no vocabulary or they could not be made (recall then
    goes on without them: the reason is logged once). Blocking: run it in a thread."""
    with _MAKING:
        if embedder in _MADE:
            return _MADE[embedder]
        try:
            found = embedder.word_vectors()
        except Exception:
            log.exception("word neighbours unavailable: questions are not expanded by them")
            found = None
        made = WordNeighbours(*found) if found is not None else None
        _MADE[embedder] = made
        return made
