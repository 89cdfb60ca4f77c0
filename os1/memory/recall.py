"""Ranking: a plain function over one person's index that scores every turn for a question.

Each turn gets, in order:

1. its own relevance: BM25 over word stems (scaled so the best turn scores 1) plus the cosine
   similarity of its embedding with the question's (for a long turn embedded in parts, the
   mean of its own and its best part's: ``PersonIndex.cosine``; scaled from the median turn,
   0, to the best, 1), weighted;
2. a share of the relevance of the turns just before and after it in the same conversation:
   the answer to "what did she paint?" is often a short "a sunset!" whose words are in the
   question before it;
3. a share of the best relevance within two turns either side, so a passage that is about the
   question as a whole rises together;
4. a preference for turns spoken by a speaker the question names (naming nobody, by the person
   for "I" and "my", by the mind for "you" and "your"), and for turns inside a span
   of time the question names ("last week", "in May"), or that name a time inside it
   themselves ("last night", said on 2 May, is 1 May), a stronger one for a named day ("on 3
   June, 2023");
5. for a question asking *when* something happened, a preference for turns that name a time
   ("last Friday", "in March", "two years ago"): the answer to "When did she move?" is
   more often "We moved last week!" than the turns that only talk about the move; and in the
   same way, for a question asking *where*, a preference for turns that name a place ("to the
   beach in Tampa");
6. a very small preference for newer turns, which breaks near-ties in favour of the latest
   statement of a fact;
7. a lower rank for a turn in the measure that it asks rather than tells (``asking.py``): "What
   made you try pottery?" often shares more words with a question than the answer that follows
   it, but holds none of the facts; it still lifts that answer through step 2.

Turns with no relevance of their own or from their neighbours are never returned, and a turn
that repeats one already ranked higher (the same words, or an embedding the embedder calls a
near duplicate) is moved below the rest. The weights were tuned on
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
    dense: float = 0.65
    previous: float = 0.45
    following: float = 0.3
    passage: float = 0.6
    passage_reach: int = 2
    speaker: float = 0.5
    #: The same for the person's own turns when the question says "I" or "my", and for the
    #: mind's when it says "you" or "your" (and names nobody).
    pronoun: float = 0.5
    time: float = 0.75
    #: The same for a span of at most a few days ("on 3 June"): a named date is a sharper hint.
    day: float = 1.5
    #: For a question asking when: turns that name a time.
    when: float = 0.75
    #: For a question asking where: turns that name a place.
    where: float = 0.5
    #: Largest bonus a brand-new turn gets over a very old one.
    recency: float = 0.01
    recency_half_life_days: float = 30.0
    #: Share of its score a turn that only asks loses (one that half asks, half of that). Tune
    #: split: 0.1-0.7 all raised R@5 and R@10, most of all for multi-hop questions, whose other
    #: answers the questions about one answer kept out of the first ten.
    asking: float = 0.5


WEIGHTS = Weights()
#: Spans up to this long count as a named day for :attr:`Weights.day`.
SHORT_SPAN_S = 3 * 86_400


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
        own += w.dense * np.where(have, scale(cosine, _median(cosine, have)), 0.0)
    return own.astype(np.float32)


#: Above this many turns the median cosine is taken from an even sample of about this many.
MEDIAN_SAMPLE = 4096


def _median(values: Floats, have: np.ndarray) -> float:
    """The median of ``values`` where ``have``: exact for up to :data:`MEDIAN_SAMPLE` turns,
    else from every n-th of them (a sort of 100,000 cosines costs about 2 ms, more than all
    the rest of the dense scoring but the product itself; the sampled median moves the
    scale's floor by a few thousandths)."""
    chosen = values if have.all() else values[have]
    step = len(chosen) // MEDIAN_SAMPLE
    return float(np.median(chosen[::step] if step > 1 else chosen))


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
    elif query.role is not None and w.pronoun:
        final += w.pronoun * (index.user_turn.view == (query.role == "user"))
    if query.spans:
        times = index.times.view
        named_from, named_to = index.named_from.view, index.named_to.view  # NaN: never inside
        bonus = np.zeros(len(times), dtype=np.float32)
        for start, end in query.spans:
            weight = w.day if end - start <= SHORT_SPAN_S else w.time
            inside = ((times >= start) & (times < end)) | ((named_from < end) & (named_to > start))
            bonus = np.maximum(bonus, weight * inside)
        final += bonus
    if query.asks_when:
        final += w.when * index.says_when.view
    if query.asks_where:
        final += w.where * index.says_where.view
    if len(index):
        age_days = (index.times.view.max() - index.times.view) / 86_400
        final += w.recency * np.power(0.5, age_days / w.recency_half_life_days)
    if w.asking:
        final *= 1.0 - w.asking * index.asking.view
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
    near: float | None = None,
) -> list[tuple[int, float]]:
    """The best ``k`` (turn id, score) pairs. A turn that repeats one ranked higher goes below
    all the others: the same words, or (with ``near``, the embedder's threshold) an embedding
    at least that close to the other's, as with "a cat named Miso" and "a cat called Miso"."""
    eligible = np.flatnonzero(base > 0)
    if not len(eligible) or k <= 0:
        return []
    want = min(len(eligible), 2 * k + len(exclude) + 8)
    part = eligible[np.argpartition(-final[eligible], want - 1)[:want]]
    order = part[np.lexsort((-index.ids.view[part], -final[part]))]
    picked: list[tuple[int, float]] = []
    repeats: list[tuple[int, float]] = []
    seen: set[int] = set()
    hashes, has_vector, vectors = index.text_hash.view, index.has_vector.view, index.vectors.view
    kept = np.zeros((len(order), vectors.shape[1]), dtype=np.float32)
    n_kept = 0
    for at in order:
        turn_id = int(index.ids.view[at])
        if turn_id in exclude:
            continue
        pair = (turn_id, float(final[at]))
        digest = int(hashes[at])
        repeat = digest in seen
        seen.add(digest)
        if near is not None and has_vector[at]:
            if not repeat and n_kept and float((kept[:n_kept] @ vectors[at]).max()) >= near:
                repeat = True
            kept[n_kept] = vectors[at]
            n_kept += 1
        (repeats if repeat else picked).append(pair)
    return (picked + repeats)[:k]
