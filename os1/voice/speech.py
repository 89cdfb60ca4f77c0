"""From a streamed reply to speakable chunks, and from played audio back to heard words.

Pure functions over text: :class:`Chunker` cuts the reply as it streams so the first chunk is
short (a clause) and can be spoken while the rest is still being written; :func:`heard` says
which words a listener heard when playback stopped partway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Ends of sentences and of clauses, each followed by white space.
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s")
_CLAUSE_END = re.compile(r"[,;:\u2014\u2013]\s|\s[-\u2013\u2014]\s")
#: Markup and symbols a voice should not read out.
_UNSPOKEN = re.compile(r"[*_#`~^<>{}\[\]|\\]+|[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")
_SPACES = re.compile(r"\s+")
#: The first chunk is cut at a clause end once it has this many words; later ones at sentence
#: ends, or at a clause end once this long.
FIRST_WORDS = 2
LONG_WORDS = 28


def speakable(text: str) -> str:
    """``text`` without markup and emoji, spaces collapsed."""
    return _SPACES.sub(" ", _UNSPOKEN.sub(" ", text)).strip()


class Chunker:
    """Feed reply pieces with :meth:`feed`; it gives back the chunks ready to be spoken.
    :meth:`flush` gives the rest once the reply is complete."""

    def __init__(self) -> None:
        self._buffer = ""
        self._first = True

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        chunks: list[str] = []
        while (cut := self._cut()) is not None:
            chunk, self._buffer = self._buffer[:cut], self._buffer[cut:]
            self._first = False
            if text := speakable(chunk):
                chunks.append(text)
        return chunks

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        text = speakable(rest)
        return [text] if text else []

    def _cut(self) -> int | None:
        sentence = _SENTENCE_END.search(self._buffer)
        clause_words = FIRST_WORDS if self._first else LONG_WORDS
        for clause in _CLAUSE_END.finditer(self._buffer):
            if sentence is not None and sentence.end() <= clause.end():
                break
            if len(self._buffer[: clause.end()].split()) >= clause_words:
                return clause.end()
        return sentence.end() if sentence is not None else None


@dataclass(frozen=True, slots=True)
class Spoken:
    """One chunk sent to the listener: its text and how many seconds of audio it made."""

    text: str
    seconds: float


def heard(chunks: Sequence[Spoken], played_s: float) -> str:
    """The words of ``chunks`` heard in the first ``played_s`` seconds of their audio: whole
    chunks, then the share of the next one's words that its played share of audio covers
    (speech runs at a fairly even pace within a chunk)."""
    words: list[str] = []
    left = played_s
    for chunk in chunks:
        chunk_words = chunk.text.split()
        if left >= chunk.seconds:
            words += chunk_words
            left -= chunk.seconds
            continue
        if left > 0 and chunk.seconds > 0:
            words += _share(chunk_words, left / chunk.seconds)
        break
    return " ".join(words)


def _share(words: list[str], fraction: float) -> list[str]:
    """The words whose middle falls within the first ``fraction`` of the chunk, counting
    length in characters (with a space after each word)."""
    total = sum(len(w) + 1 for w in words)
    kept, position = [], 0
    for word in words:
        if (position + (len(word) + 1) / 2) / total > fraction:
            break
        kept.append(word)
        position += len(word) + 1
    return kept
