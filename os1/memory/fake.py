"""A deterministic embedder for fast unit tests: hashed bag of words, no model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from os1.memory.embed import Vectors

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    name = "hashing-test"
    near_duplicate: float | None = 0.97
    symmetric = True

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def _one(self, text: str) -> Vectors:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vec[int.from_bytes(digest, "little") % self.dim] += 1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    async def load(self) -> None:
        return None

    async def passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._one(t) for t in texts])

    async def query(self, text: str) -> Vectors:
        return self._one(text)

    def word_vectors(self) -> None:
        """None: hashed words have no neighbours."""
        return None
