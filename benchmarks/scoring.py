"""Turn-level retrieval metrics.

- evidence recall@k, the LoCoMo paper's retrieval metric: the fraction of a question's evidence
  dia_ids among the first k distinct retrieved ids, averaged over questions;
- hit@k: share of questions with at least one evidence turn in the first k;
- all@k: share of questions with every evidence turn in the first k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

KS = (5, 10, 25, 50)
#: Rows of the tables: each category code alone, then the usual aggregates.
GROUPS: dict[str, tuple[int, ...]] = {
    "1": (1,),
    "2": (2,),
    "3": (3,),
    "4": (4,),
    "5": (5,),
    "1-4": (1, 2, 3, 4),
    "all": (1, 2, 3, 4, 5),
}


@dataclass(frozen=True, slots=True)
class Scored:
    """One question answered by one system."""

    category: int
    recall: tuple[float, ...]
    hit: tuple[bool, ...]
    all: tuple[bool, ...]


def score(category: int, evidence: Sequence[str], retrieved: Sequence[str]) -> Scored:
    wanted = set(evidence)
    found = [len(wanted & set(retrieved[:k])) for k in KS]
    return Scored(
        category=category,
        recall=tuple(f / len(wanted) for f in found),
        hit=tuple(f > 0 for f in found),
        all=tuple(f == len(wanted) for f in found),
    )


@dataclass(frozen=True, slots=True)
class Summary:
    n: int
    recall: tuple[float, ...]
    hit: tuple[float, ...]
    all: tuple[float, ...]


def summarize(scored: Sequence[Scored]) -> Summary:
    if not scored:
        empty = tuple(float("nan") for _ in KS)
        return Summary(0, empty, empty, empty)
    return Summary(
        n=len(scored),
        recall=_mean([s.recall for s in scored]),
        hit=_mean([s.hit for s in scored]),
        all=_mean([s.all for s in scored]),
    )


def _mean(rows: Sequence[tuple[float, ...] | tuple[bool, ...]]) -> tuple[float, ...]:
    return tuple(float(x) for x in np.mean(np.asarray(rows, dtype=np.float64), axis=0))


@dataclass(slots=True)
class SystemRun:
    """Everything measured for one system over the whole run."""

    name: str
    scored: list[Scored] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    load_s: float = 0.0
    turns: int = 0

    def by_group(self) -> dict[str, Summary]:
        return {
            group: summarize([s for s in self.scored if s.category in codes])
            for group, codes in GROUPS.items()
        }

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.load_s if self.load_s else float("inf")

    def latency_ms(self, percentile: float) -> float:
        if not self.latencies_s:
            return float("nan")
        return float(np.percentile(self.latencies_s, percentile)) * 1000
