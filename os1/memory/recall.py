"""Ranking: a plain function over one person's index that scores every turn for a question.

Each turn gets, in order:

1. its own relevance: BM25 over word stems (scaled so the best turn scores 1) plus the cosine
   similarity of its embedding with the question's (scaled from the median turn, 0, to the
   best, 1), weighted;
2. a share of the relevance of the turns just before and after it in the same conversation:
   the answer to "what did she paint?" is often a short "a sunset!" whose words are in the
   question before it;
3. a share of the best relevance within two turns either side, so a passage that is about the
   question as a whole rises together;
4. a preference for turns spoken by a speaker the question names, and for turns inside a span
   of time the question names ("last week", "in May");
5. a very small preference for newer turns, which breaks near-ties in favour of the latest
   statement of a fact.

Turns with no relevance of their own or from their neighbours are never returned, and a turn
whose words repeat one already ranked higher is moved below the rest. The weights were tuned on
three LoCoMo conversations kept apart from those the benchmark reports (see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from os1.memory.index import Floats, PersonIndex
from os1.memory.query import Query


@dataclass(frozen=True, slots=True)
class Weights:
    lexical: float = 1.0
    dense: float = 0.5
    previous: float = 0.45
    following: float = 0.3
    passage: float = 0.4
    passage_reach: int = 2
    speaker: float = 0.8
    time: float = 0.5
    #: Largest bonus a brand-new turn gets over a very old one.
    recency: float = 0.01
    recency_half_life_days: float = 30.0


WEIGHTS = Weights()


def scale(values: Floats, floor: float = 0.0) -> Floats:
    """``values`` mapped so ``floor`` is 0 and the maximum is 1, clipped below at 0."""
    top = float(values.max()) if len(values) else 0.0
    if top <= floor:
        return np.zeros_like(values)
    scaled: Floats = np.clip((values - floor) / (top - floor), 0.0, None).astype(np.float32)
    return scaled


def relevance(index: PersonIndex, query: Query, vector: Floats | None, w: Weights) -> Floats:
    """Each turn's own relevance (step 1)."""
    own = w.lexical * scale(index.bm25(query.terms))
    if vector is not None and index.has_vector.view.any():
        cosine = index.cosine(vector)
        have = index.has_vector.view
        own += w.dense * np.where(have, scale(cosine, float(np.median(cosine[have]))), 0.0)
    return own.astype(np.float32)


def score(
    index: PersonIndex, query: Query, vector: Floats | None, w: Weights = WEIGHTS
) -> tuple[Floats, Floats]:
    """(final score, relevance before preferences) of every turn."""
    own = relevance(index, query, vector, w)
    prev, after = index.prev.view, index.next.view
    padded = np.append(own, np.float32(0.0))  # index -1 reads the 0 at the end
    base = own + w.previous * padded[prev] + w.following * padded[after]
    base += w.passage * _nearby_max(padded, prev, after, w.passage_reach)
    final = base.copy()
    if query.speakers:
        final += w.speaker * np.isin(index.speaker_codes.view, list(query.speakers))
    if query.spans:
        times = index.times.view
        inside = np.zeros(len(times), dtype=bool)
        for start, end in query.spans:
            inside |= (times >= start) & (times < end)
        final += w.time * inside
    if len(index):
        age_days = (index.times.view.max() - index.times.view) / 86_400
        final += w.recency * np.power(0.5, age_days / w.recency_half_life_days)
    return final.astype(np.float32), base.astype(np.float32)


def _nearby_max(padded: Floats, prev: np.ndarray, after: np.ndarray, reach: int) -> Floats:
    """For each turn, the highest relevance within ``reach`` turns either side (itself too)."""
    n = len(padded) - 1
    best = padded[:n].copy()
    prev_p, after_p = np.append(prev, -1), np.append(after, -1)
    back = forward = np.arange(n)
    for _ in range(reach):
        back, forward = prev_p[back], after_p[forward]
        best = np.maximum(best, np.maximum(padded[back], padded[forward]))
    return best


def top(
    index: PersonIndex,
    final: Floats,
    base: Floats,
    k: int,
    exclude: Collection[int] = (),
) -> list[tuple[int, float]]:
    """The best ``k`` (turn id, score) pairs; repeats of a higher-ranked turn's words go last."""
    eligible = np.flatnonzero(base > 0)
    if not len(eligible) or k <= 0:
        return []
    want = min(len(eligible), 2 * k + len(exclude) + 8)
    part = eligible[np.argpartition(-final[eligible], want - 1)[:want]]
    order = part[np.lexsort((-index.ids.view[part], -final[part]))]
    picked: list[tuple[int, float]] = []
    repeats: list[tuple[int, float]] = []
    seen: set[int] = set()
    hashes = index.text_hash.view
    for at in order:
        turn_id = int(index.ids.view[at])
        if turn_id in exclude:
            continue
        pair = (turn_id, float(final[at]))
        digest = int(hashes[at])
        (repeats if digest in seen else picked).append(pair)
        seen.add(digest)
    return (picked + repeats)[:k]
