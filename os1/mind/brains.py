"""Picking the language model from settings: ``OS1_BRAIN`` names a chooser in ``CHOOSERS``.

``auto`` takes the first that is there: OS1_LLM_URL, then OS1_LLM_GGUF, then a local Ollama with
a model pulled, then the embedded SmolLM2 (``os1[brain]``), else none, and OS1 runs offline.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from os1.errors import ConfigError
from os1.mind.backends.embedded import (
    NEEDS_LLAMA_CPP,
    EmbeddedLLM,
    is_small_model,
    llama_cpp_available,
    smollm2_path,
)
from os1.mind.fake import FakeLLM
from os1.mind.llm import LLM
from os1.settings import Settings

#: The embedded model's context never goes below this many tokens.
MIN_EMBEDDED_CONTEXT = 2048

Chooser = Callable[[Settings], Awaitable[LLM | None]]


async def choose_brain(settings: Settings) -> LLM | None:
    """The language model ``settings`` ask for; None means offline (no model to be had)."""
    return await CHOOSERS[settings.brain](settings)


async def fake_brain(settings: Settings) -> LLM | None:
    return FakeLLM()


async def offline_brain(settings: Settings) -> LLM | None:
    return None


# The HTTP clients are imported when a brain needs them: a command that asks no model (``os1
# recall``, say) starts without them.


async def openai_brain(settings: Settings) -> LLM | None:
    from os1.mind.backends.openai_compat import OpenAICompatLLM

    return OpenAICompatLLM.from_settings(settings)


async def ollama_brain(settings: Settings) -> LLM | None:
    from os1.mind.backends.ollama import detect_ollama, ollama_llm

    names = await detect_ollama(settings.ollama_url)
    if names is None:
        raise ConfigError(f"no Ollama answers at {settings.ollama_url} (OS1_OLLAMA_URL)")
    if not names:
        raise ConfigError(
            f"the Ollama at {settings.ollama_url} has no models; pull one first, "
            "for example `ollama pull smollm2`"
        )
    return ollama_llm(settings.ollama_url, settings.llm_model or names[0], settings.llm_timeout)


async def embedded_brain(settings: Settings) -> LLM | None:
    if settings.llm_gguf is not None:
        return gguf_brain(settings, settings.llm_gguf)
    path = smollm2_path()
    if path is None:
        raise ConfigError(
            "the embedded brain needs a model: set OS1_LLM_GGUF to a GGUF file, "
            "or pip install 'os1[brain]' for SmolLM2"
        )
    return gguf_brain(settings, path, small=True)


async def auto_brain(settings: Settings) -> LLM | None:
    from os1.mind.backends.ollama import detect_ollama, ollama_llm

    if settings.llm_url:
        return await openai_brain(settings)
    if settings.llm_gguf is not None:
        return gguf_brain(settings, settings.llm_gguf)
    names = await detect_ollama(settings.ollama_url)
    if names:
        return ollama_llm(settings.ollama_url, settings.llm_model or names[0], settings.llm_timeout)
    path = smollm2_path()
    if path is not None and llama_cpp_available():
        return gguf_brain(settings, path, small=True)
    return None


def gguf_brain(settings: Settings, path: Path, small: bool | None = None) -> EmbeddedLLM:
    """An embedded model for ``path``; ConfigError when it cannot run here."""
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(f"OS1_LLM_GGUF points at {path}, which is not a file")
    if not llama_cpp_available():
        raise ConfigError(NEEDS_LLAMA_CPP)
    return EmbeddedLLM(
        path,
        n_ctx=max(MIN_EMBEDDED_CONTEXT, settings.context_tokens + settings.max_reply_tokens),
        n_threads=settings.llm_threads or os.cpu_count(),
        small=is_small_model(path) if small is None else small,
    )


CHOOSERS: dict[str, Chooser] = {
    "auto": auto_brain,
    "openai": openai_brain,
    "ollama": ollama_brain,
    "embedded": embedded_brain,
    "offline": offline_brain,
    "fake": fake_brain,
}
