"""Query expansion by rule: words that people use for the same life facts.

"Where do I live now?" should find "I moved to Berlin", which shares no word with it. Each group
below holds words that tend to answer each other's questions; a query word from a group brings
the rest of the group into the full-text query. The groups are about people's lives in general,
not about any one data set.
"""

from __future__ import annotations

GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "live lives living lived move moved moving relocate relocated home house apartment city",
        "work works working worked job career employed employer office boss hired fired quit",
        "name named call called",
        "married marry wife husband partner girlfriend boyfriend spouse engaged wedding",
        "like likes love loves favorite favourite enjoy enjoys prefer prefers",
        "study studies studying school college university degree class course",
        "pet dog dogs cat cats puppy kitten",
        "kid kids child children son daughter baby",
        "sick ill illness hospital doctor health injury injured",
        "trip travel travelled traveled vacation holiday visit visited",
        "birthday born age old",
        "hobby hobbies play plays playing",
    )
)

_INDEX: dict[str, frozenset[str]] = {}
for _group in GROUPS:
    for _word in _group:
        _INDEX[_word] = _INDEX.get(_word, frozenset()) | _group


def related(word: str) -> frozenset[str]:
    """The other words of ``word``'s groups."""
    return _INDEX.get(word, frozenset()) - {word}


def expand(words: list[str], limit: int = 48) -> list[str]:
    """``words`` followed by the related words of each, without repeats."""
    out = dict.fromkeys(words)
    for word in words:
        for related in sorted(_INDEX.get(word, ())):
            out.setdefault(related, None)
    return list(out)[:limit]
