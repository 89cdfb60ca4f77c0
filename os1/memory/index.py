"""One person's recall index, held in memory: BM25 postings over word stems, and a matrix of
turn embeddings, with what ranking needs to know of each turn (speaker, time, neighbours).

Every statistic is the person's own: document frequencies and lengths count only that person's
turns, so nothing another person said can change how one person's memories score. The index is
append-only; an edit or deletion makes the owner rebuild it (see ``os1.memory.cache``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import simsimd

from os1.memory import terms as lex
from os1.memory.asking import asking_share
from os1.memory.places import says_where
from os1.memory.when import named_span, says_when

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


def _half_is_fast() -> bool:
    """Whether SimSIMD has vectorised half-precision kernels for this CPU (x86 since Haswell
    (AVX2 and F16C), Arm with NEON or SVE half precision)."""
    found = simsimd.get_capabilities()
    return any(
        found.get(name) for name in ("haswell", "skylake", "sapphire", "neon_f16", "sve_f16")
    )


#: How the index holds embeddings: half precision where the CPU computes with it quickly. A
#: dot product of two unit vectors held so is within about 1e-4 of float32's, and scoring reads
#: half the memory: for a person with 100,000 turns ranking every vector is memory-bound, and
#: most of recall's time. Elsewhere float32, which numpy's BLAS computes quickly everywhere.
STORED: type[np.floating[Any]] = np.float16 if _half_is_fast() else np.float32

#: Okapi BM25 parameters: the usual k1; a lighter length normalisation than the usual 0.75,
#: since turns are short and a long turn is seldom long for padding (tuned, see recall.py).
K1 = 1.2
B = 0.5
#: How much a turn's best part counts in its similarity to a question, against the whole
#: turn's (tune split: 0.3-0.7 within 0.4 points of each other; see ``cosine``).
PART_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Entry:
    """What the index keeps of a turn."""

    id: int
    conversation_id: int
    role: str
    speaker: str | None
    time: float  # seconds since the epoch
    text: str


class _Grow:
    """A numpy array that grows by doubling, so appends cost amortised O(1). Only the first
    ``size`` rows hold anything: the spare capacity is left uninitialised."""

    def __init__(self, dtype: type, width: int = 0) -> None:
        shape = (16, width) if width else (16,)
        self.data: npt.NDArray[Any] = np.empty(shape, dtype=dtype)
        self.size = 0

    def extend(self, rows: npt.ArrayLike) -> None:
        values = np.asarray(rows, dtype=self.data.dtype)
        need = self.size + len(values)
        if need > len(self.data):
            capacity = max(need, 2 * len(self.data))
            grown = np.empty((capacity, *self.data.shape[1:]), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : need] = values
        self.size = need

    @property
    def view(self) -> npt.NDArray[Any]:
        return self.data[: self.size]


class PersonIndex:
    def __init__(self, person_id: int, dim: int) -> None:
        self.person_id = person_id
        self.dim = dim
        self.ids = _Grow(np.int64)
        self.times = _Grow(np.float64)
        self.lengths = _Grow(np.float32)
        self.speaker_codes = _Grow(np.int32)
        self.user_turn = _Grow(np.bool_)
        #: Position of the turn before / after in the same conversation, or -1.
        self.prev = _Grow(np.int64)
        self.next = _Grow(np.int64)
        self.vectors = _Grow(STORED, width=max(dim, 1))
        self.has_vector = _Grow(np.bool_)
        #: The vectors of long turns' parts (``embedqueue.parts``), and the position of the
        #: turn each belongs to; whether a turn's parts are in.
        self.part_vectors = _Grow(STORED, width=max(dim, 1))
        self.part_owner = _Grow(np.int64)
        self.has_parts = _Grow(np.bool_)
        self.position: dict[int, int] = {}
        self.speakers: list[str] = []
        self._speaker_code: dict[str, int] = {}
        self._postings: dict[str, tuple[list[int], list[int]]] = {}
        self._arrays: dict[str, tuple[Ints, Floats]] = {}
        self._last_in_conversation: dict[int, int] = {}
        #: Entries in all postings together (one per distinct stem of each turn).
        self._posting_entries = 0
        self.total_length = 0.0
        self.max_id = 0
        self.max_vector_id = 0
        #: A hash of each turn's words, to spot turns that say the same thing.
        self.text_hash = _Grow(np.int64)
        #: Whether the turn names a time ("last week", "in March"): see ``when.says_when``.
        self.says_when = _Grow(np.bool_)
        #: Whether the turn names a place ("in Boston"): see ``places.says_where``.
        self.says_where = _Grow(np.bool_)
        #: The span of time the turn names ("last night", "in May"), resolved against when it
        #: was said, as timestamps; NaN when it names none (see ``when.named_span``).
        self.named_from = _Grow(np.float64)
        self.named_to = _Grow(np.float64)
        #: The share of the turn's words that ask a question: see ``asking.asking_share``.
        self.asking = _Grow(np.float32)

    def __len__(self) -> int:
        return self.ids.size

    # -- building ---------------------------------------------------------------------------
    def add(self, entries: Iterable[Entry]) -> None:
        """Append turns, in id order. The arrays grow once per call, not once per turn."""
        batch = list(entries)
        if not batch:
            return
        start = len(self)
        lengths: list[int] = []
        prev: list[int] = []
        following = [-1] * len(batch)
        hashes: list[int] = []
        words: list[list[str]] = []
        for at, entry in enumerate(batch, start):
            self.position[entry.id] = at
            tokens = lex.words(entry.text)
            words.append(tokens)
            stems = lex.content_terms(tokens)
            self._post(at, stems)
            lengths.append(len(stems))
            before = self._last_in_conversation.get(entry.conversation_id, -1)
            self._last_in_conversation[entry.conversation_id] = at
            if before >= start:
                following[before - start] = at
            elif before >= 0:
                self.next.data[before] = at
            prev.append(before)
            hashes.append(hash(" ".join(tokens)))
        self.max_id = max(self.max_id, max(e.id for e in batch))
        self.ids.extend([e.id for e in batch])
        self.times.extend([e.time for e in batch])
        self.lengths.extend(lengths)
        self.speaker_codes.extend([self._code(e.speaker) for e in batch])
        self.user_turn.extend([e.role == "user" for e in batch])
        self.prev.extend(prev)
        self.next.extend(following)
        self.vectors.extend(np.zeros((len(batch), max(self.dim, 1)), dtype=STORED))
        self.has_vector.extend(np.zeros(len(batch), dtype=np.bool_))
        self.has_parts.extend(np.zeros(len(batch), dtype=np.bool_))
        self.text_hash.extend(hashes)
        timed = [says_when(e.text, w) for e, w in zip(batch, words, strict=True)]
        self.says_when.extend(timed)
        self.says_where.extend([says_where(e.text) for e in batch])
        self.asking.extend([asking_share(e.text) for e in batch])
        named = [
            named_span(e.text, e.time) if t else None for e, t in zip(batch, timed, strict=True)
        ]
        self.named_from.extend([span[0] if span else np.nan for span in named])
        self.named_to.extend([span[1] if span else np.nan for span in named])

    def _post(self, at: int, stems: list[str]) -> None:
        """Add the turn at position ``at`` to the postings of its stems."""
        counts = Counter(stems)
        postings = self._postings
        for s, n in counts.items():
            posting = postings.get(s)
            if posting is None:
                postings[s] = ([at], [n])
            else:
                posting[0].append(at)
                posting[1].append(n)
        if self._arrays:  # scoring made arrays of some postings; those are stale now
            for s in counts:
                self._arrays.pop(s, None)
        self._posting_entries += len(counts)
        self.total_length += len(stems)

    def _code(self, speaker: str | None) -> int:
        if not speaker:
            return -1
        key = speaker.strip().lower()
        if key not in self._speaker_code:
            self._speaker_code[key] = len(self.speakers)
            self.speakers.append(key)
        return self._speaker_code[key]

    def set_vectors(
        self, ids: Sequence[int], vectors: Floats, parts: Sequence[Floats] | None = None
    ) -> None:
        """Store the vectors of turns in the index, and those of their parts (one array per
        turn, most of them empty); ids it does not hold are skipped."""
        if len(ids) != len(vectors) or (parts is not None and len(parts) != len(ids)):
            raise ValueError("set_vectors needs one vector (and one array of parts) per id")
        found = [self.position.get(turn_id, -1) for turn_id in ids]
        given = np.flatnonzero(np.asarray(found, dtype=np.int64) >= 0)
        if not len(given):
            return
        at = np.asarray(found, dtype=np.int64)[given]
        self.vectors.data[at] = np.asarray(vectors, dtype=np.float32)[given].astype(STORED)
        self.has_vector.data[at] = True
        self.max_vector_id = max(self.max_vector_id, int(self.ids.data[at].max()))
        if parts is not None:
            self._set_parts([(found[i], parts[i]) for i in given.tolist()])

    def _set_parts(self, given: Sequence[tuple[int, Floats]]) -> None:
        owners: list[int] = []
        rows: list[Floats] = []
        for position, vectors in given:
            if len(vectors) and not self.has_parts.data[position]:
                self.has_parts.data[position] = True
                owners += [position] * len(vectors)
                rows.append(np.asarray(vectors, dtype=STORED))
        if rows:
            self.part_vectors.extend(np.concatenate(rows))
            self.part_owner.extend(owners)

    def missing_vectors(self, limit: int) -> list[int]:
        """Ids of the newest turns (at most ``limit``) that have no vector yet."""
        waiting = np.flatnonzero(~self.has_vector.view)[-limit:]
        return [int(i) for i in self.ids.view[waiting]]

    # -- scoring ----------------------------------------------------------------------------
    def bm25(self, query_terms: Sequence[tuple[str, float]]) -> Floats:
        """Okapi BM25 of every turn for weighted query stems (zero where nothing matches)."""
        n = len(self)
        scores = np.zeros(n, dtype=np.float32)
        if not n:
            return scores
        avg = max(self.total_length / n, 1.0)
        lengths = self.lengths.view
        for term, weight in query_terms:
            arrays = self._posting_arrays(term)
            if arrays is None:
                continue
            docs, tfs = arrays
            idf = math.log(1.0 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            norm = K1 * (1.0 - B + B * lengths[docs] / avg)
            scores[docs] += weight * idf * tfs * (K1 + 1.0) / (tfs + norm)
        return scores

    def _posting_arrays(self, term: str) -> tuple[Ints, Floats] | None:
        cached = self._arrays.get(term)
        if cached is not None:
            return cached
        posting = self._postings.get(term)
        if posting is None:
            return None
        arrays = (np.asarray(posting[0], dtype=np.int64), np.asarray(posting[1], dtype=np.float32))
        self._arrays[term] = arrays
        return arrays

    def document_frequency(self, term: str) -> int:
        posting = self._postings.get(term)
        return 0 if posting is None else len(posting[0])

    def cosine(self, query: Floats) -> Floats:
        """Cosine similarity of every turn with the query vector (vectors are normalised);
        turns still waiting for their embedding score 0. A turn in parts scores the mean of
        its whole vector's similarity and its best part's (when that is higher): "what did
        she adopt?" matches the part of a long turn about the kitten better than the whole
        turn, which is also about the move and the new job."""
        if not len(self):
            return np.zeros(0, dtype=np.float32)
        query = np.asarray(query, dtype=self.vectors.data.dtype).reshape(1, -1)
        scores = dots(self.vectors.view, query)
        scores[~self.has_vector.view] = 0.0
        if self.part_owner.size:
            best = scores.copy()
            np.maximum.at(best, self.part_owner.view, dots(self.part_vectors.view, query))
            scores = ((1.0 - PART_SHARE) * scores + PART_SHARE * best).astype(np.float32)
        return scores

    def speaker_code(self, name: str) -> int:
        return self._speaker_code.get(name.strip().lower(), -1)

    def speaker_words(self) -> dict[str, set[int]]:
        """Each word of each speaker's name, and the speakers it names."""
        out: dict[str, set[int]] = {}
        for code, name in enumerate(self.speakers):
            for word in lex.words(name):
                out.setdefault(word, set()).add(code)
        return out

    def nbytes(self) -> int:
        """A rough size of the index in memory."""
        postings = self._posting_entries * 16
        vectors = self.vectors.data.nbytes + self.part_vectors.data.nbytes
        return int(vectors + postings + 80 * len(self) + 80 * len(self._postings))


def dots(matrix: npt.NDArray[Any], query: npt.NDArray[Any]) -> Floats:
    """The dot product of each row of ``matrix`` with ``query`` (one row, the same type), in
    float32. numpy has no fast half-precision product (about 15 times as slow as its float32
    one), so SimSIMD's vectorised kernels compute it: about 2.5 times as fast as numpy's
    float32 product over the same vectors, having half the bytes to read."""
    if not len(matrix):
        return np.zeros(0, dtype=np.float32)
    if matrix.dtype == np.float32:
        return np.asarray(matrix @ query.reshape(-1), dtype=np.float32)
    product = simsimd.cdist(query, matrix, metric="dot", out_dtype="float32")
    return np.asarray(product, dtype=np.float32).reshape(-1)
