"""A question, read for recall: the stems to search for, the people it names, the time it means.

A speaker named in the question ("What did Caroline paint?") is a strong hint about *who said*
the answer, but a weak one about its words: people seldom say their own name. So a speaker's
name leaves the word query and becomes a preference for that speaker's turns instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from os1.memory import terms as lex
from os1.memory.expand import related
from os1.memory.index import PersonIndex
from os1.memory.when import spans

#: Weight of a word brought in by query expansion, against 1 for the question's own words.
EXPANSION_WEIGHT = 0.35


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[tuple[str, float], ...]
    speakers: frozenset[int] = frozenset()
    spans: tuple[tuple[float, float], ...] = field(default=())


def analyze(text: str, index: PersonIndex) -> Query:
    tokens = lex.words(text)
    names = index.speaker_words()
    speakers: set[int] = set()
    kept: list[str] = []
    for word in tokens:
        if word in names:
            speakers |= names[word]
        else:
            kept.append(word)
    weights: dict[str, float] = {}
    for stem in lex.content_terms(kept):
        weights[stem] = 1.0
    for word in kept:
        for other in related(word):
            weights.setdefault(lex.stem(other), EXPANSION_WEIGHT)
    newest = float(index.times.view.max()) if len(index) else datetime.now(UTC).timestamp()
    now = datetime.fromtimestamp(newest, UTC)
    found = tuple((a.timestamp(), b.timestamp()) for a, b in spans(text, now))
    return Query(text, tuple(weights.items()), frozenset(speakers), found)
