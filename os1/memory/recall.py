"""Ranking: plain functions that fuse full-text and dense rankings, with a little recency.

Reciprocal rank fusion (Cormack et al., 2009) combines rankings whose scores are not comparable
(BM25 against cosine). A small recency term breaks near-ties in favour of what was said lately,
so that a newer statement of the same fact outranks the older one. Age is measured from the
newest candidate, not the wall clock, so an imported conversation from years ago ranks its own
later statements first just the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

RRF_K = 60


@dataclass(frozen=True, slots=True)
class Weights:
    fulltext: float = 1.0
    dense: float = 1.0
    #: Largest bonus a brand-new item gets over a very old one, in RRF units.
    recency: float = 0.004
    #: Age (days) at which the recency bonus has halved.
    recency_half_life_days: float = 30.0


def rrf(rankings: Sequence[tuple[Sequence[int], float]], k: int = RRF_K) -> dict[int, float]:
    """Fuse ranked id lists, each with a weight: sum of weight / (k + rank)."""
    scores: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


def recency_bonus(time: datetime, now: datetime, weights: Weights) -> float:
    age_days = max((now - time).total_seconds(), 0.0) / 86_400
    return weights.recency * math.pow(0.5, age_days / weights.recency_half_life_days)


def rank(
    fulltext_ids: Sequence[int],
    dense_ids: Sequence[int],
    times: Mapping[int, datetime],
    now: datetime,
    weights: Weights = Weights(),
) -> list[tuple[int, float]]:
    """Final (id, score) list, best first."""
    fused = rrf([(fulltext_ids, weights.fulltext), (dense_ids, weights.dense)])
    scored = [
        (item, score + recency_bonus(times[item], now, weights))
        for item, score in fused.items()
        if item in times
    ]
    scored.sort(key=lambda pair: (-pair[1], -pair[0]))
    return scored
