"""Questions that ask *where*, and turns that name a place, told apart by rule.

"Where did she go in June?", "Which city did he move to?": the answer is most often a turn that
names a place ("we drove to Tampa", "I was in Boston"), and recall prefers such turns for such
questions, as it prefers turns naming a time for a question asking when (``when.py``). A place
is read from its shape alone, a capitalised word after a word that leads to places ("in", "to",
"at", "from", "near", "visited"...), not from a list of places: a list would never hold every
village, street and café a person talks about.
"""

from __future__ import annotations

import re

_ASKS_WHERE = re.compile(
    r"^\W*where\b|\bwhere (?:did|do|does|is|was|were|has|had|will|can|could)\b"
    r"|\b(?:what|which) (?:(?:us|u\.s\.) )?(?:city|cities|state|states|country|countries|place|"
    r"places|town|towns|location|part of)\b",
    re.I,
)
#: A capitalised word after a word that leads to a place. Not case-insensitive: the capital
#: is what marks a name.
_SAYS_WHERE = re.compile(
    r"\b(?:[Ii]n|[Tt]o|[Aa]t|[Ff]rom|[Nn]ear|[Vv]isit|[Vv]isited|[Vv]isiting|[Aa]round|"
    r"[Aa]cross)\s+(?:the\s+)?[A-Z][a-z]+"
)


def asks_where(question: str) -> bool:
    """Whether ``question`` asks where something happened or is."""
    return _ASKS_WHERE.search(question) is not None


def says_where(text: str) -> bool:
    """Whether ``text`` names a place, by the shape "in Boston", "to the Alps", "visited Rome"."""
    return _SAYS_WHERE.search(text) is not None
