"""A question, read for recall: the stems to search for, the people it names, the time it means.

A speaker named in the question ("What did Caroline paint?") is a strong hint about *who said*
the answer, but a weak one about its words: people seldom say their own name. So a speaker's
name leaves the word query and becomes a preference for that speaker's turns instead. For the
same reason the question is embedded twice when it names a speaker, as asked and with the names
taken out (``without_speakers``), and recall uses the mean of the two vectors: with the name
alone, the embedding leans towards turns that merely address that person ("Hey Caroline!").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from os1.memory import terms as lex
from os1.memory.expand import related
from os1.memory.index import PersonIndex
from os1.memory.models import Role
from os1.memory.neighbours import WordNeighbours
from os1.memory.places import asks_where
from os1.memory.when import asks_when, spans

#: Weight of a word brought in by query expansion, against 1 for the question's own words.
EXPANSION_WEIGHT = 0.35
#: A word, with the possessive that may follow it ("Caroline's").
_WORD_AND_POSSESSIVE = re.compile(r"([^\W_]+)(?:['\u2019]s\b)?", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[tuple[str, float], ...]
    speakers: frozenset[int] = frozenset()
    spans: tuple[tuple[float, float], ...] = field(default=())
    #: The question asks when something happened.
    asks_when: bool = False
    #: The question asks where something happened or is.
    asks_where: bool = False
    #: Whose turns the question asks about when it names nobody: ``"user"`` for "I" and "my"
    #: (the person asking, whose turns are the user's), ``"assistant"`` for "you" and "your".
    role: Role | None = None


def analyze(text: str, index: PersonIndex, neighbours: WordNeighbours | None = None) -> Query:
    """``text`` read for recall over ``index``; with ``neighbours``, its words also bring in
    the nearest words the person has used (:mod:`os1.memory.neighbours`)."""
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
    own = list(weights)
    for word in kept:
        for other in related(word):
            weights.setdefault(lex.stem(other), EXPANSION_WEIGHT)
    if neighbours is not None:
        neighbours.expand(weights, own, lambda term: index.document_frequency(term) > 0)
    newest = float(index.times.view.max()) if len(index) else datetime.now(UTC).timestamp()
    now = datetime.fromtimestamp(newest, UTC)
    found = tuple((a.timestamp(), b.timestamp()) for a, b in spans(text, now))
    return Query(
        text,
        tuple(weights.items()),
        frozenset(speakers),
        found,
        asks_when(text),
        asks_where(text),
        None if speakers else _pronoun_role(text, tokens),
    )


#: Pronouns that tell whose turns a question is about, the asker's first.
FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself"})
SECOND_PERSON = frozenset({"you", "your", "yours", "yourself"})


#: "Do you remember ...?", "Can you tell ...?": a request to the mind, not a question about
#: what the mind said.
_REQUEST = re.compile(
    r"\b(?:do|did|can|could|would|will)\s+you\s+(?:remember|recall|know|tell|find|look)\b"
)


#: "You told me ...", "What did you suggest ...?": about what the mind said, whatever else the
#: question says of the person.
_MIND_SAID = re.compile(
    r"\b(?:you\s+(?:told|said|recommended|suggested|mentioned|wrote|gave|showed)"
    r"|did\s+you\s+(?:tell|say|recommend|suggest|mention|write|give|show))\b"
)


def _pronoun_role(text: str, tokens: list[str]) -> Role | None:
    """What is asked about, from the pronouns that stand where a speaker's name would: "What
    did I paint?" the person's own turns, "What did you suggest?" the mind's. What the mind
    said comes first ("You told me about a restaurant: which one?"), then the person's own
    pronouns ("Can you remind me what I said?")."""
    said, lowered = set(tokens), text.lower()
    if said & SECOND_PERSON and _MIND_SAID.search(lowered):
        return "assistant"
    if said & FIRST_PERSON:
        return "user"
    if said & SECOND_PERSON and not _REQUEST.search(lowered):
        return "assistant"
    return None


def without_speakers(text: str, index: PersonIndex) -> str:
    """``text`` with every word of a speaker's name (and its possessive) taken out, spaces
    collapsed; ``text`` itself when it names no speaker."""
    names = index.speaker_words()
    if not names:
        return text
    named = False

    def drop(match: re.Match[str]) -> str:
        nonlocal named
        if match.group(1).lower() in names:
            named = True
            return ""
        return match.group(0)

    kept = _WORD_AND_POSSESSIVE.sub(drop, text)
    return " ".join(kept.split()) if named else text
