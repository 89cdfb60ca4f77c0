"""Words to index and to search by: lower-cased, stop words dropped, reduced to their stems.

"painting", "paints" and "painted" all become "paint", so a question finds a turn that used
another form of its word. Stemming is the Snowball English stemmer (``snowballstemmer``, which
runs the C stemmers of PyStemmer when it is installed, as it is with OS1: the same stems about
17 times as fast), with a cache in front of it: a conversation reuses the same few thousand
words over and over.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from os1.memory.fulltext import STOPWORDS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STEMMER = snowballstemmer.stemmer("english")
#: Longer "words" are noise (hashes, base64) and are not indexed.
MAX_WORD = 40


def words(text: str) -> list[str]:
    """Lower-cased word tokens, stop words and one-letter tokens included, in order."""
    found: list[str] = _WORD.findall(text.lower())
    if max(map(len, found), default=0) <= MAX_WORD:  # nearly always: nothing to drop
        return found
    return [w for w in found if len(w) <= MAX_WORD]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def content_terms(tokens: list[str]) -> list[str]:
    """The stems of the tokens that carry meaning, in order, repeats kept."""
    return [stem(w) for w in tokens if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
