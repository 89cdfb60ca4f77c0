"""Choosing the brain from settings; Ollama detection runs against a real local server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openai_server import OpenAIServer

from os1.errors import ConfigError
from os1.mind import brains
from os1.mind.backends.embedded import NEEDS_LLAMA_CPP, EmbeddedLLM
from os1.mind.backends.ollama import detect_ollama, model_names
from os1.mind.backends.openai_compat import OpenAICompatLLM
from os1.mind.brains import choose_brain
from os1.mind.fake import FakeLLM
from os1.mind.llm import LLM, Sampling, complete
from os1.mind.llm import Message as M
from os1.settings import Settings


@pytest.fixture
def dead_root(dead_url: str) -> str:
    return dead_url.removesuffix("/v1")


@pytest.fixture
def make(dead_root: str) -> Any:
    """Settings with every brain-related field given, so the environment cannot leak in."""

    def make_settings(**fields: Any) -> Settings:
        defaults: dict[str, Any] = {
            "brain": "auto",
            "llm_url": None,
            "llm_model": None,
            "llm_api_key": None,
            "llm_gguf": None,
            "llm_threads": None,
            "ollama_url": dead_root,
            "llm_timeout": 5.0,
        }
        return Settings(**{**defaults, **fields})

    return make_settings


@pytest.fixture
def no_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(brains, "smollm2_path", lambda: None)


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + bytes(60))
    return path


@pytest.fixture
def llama_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(brains, "llama_cpp_available", lambda: True)


@pytest.fixture
def llama_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(brains, "llama_cpp_available", lambda: False)


@pytest.fixture
def ollama(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.ollama = True
    openai_server.models = ["smollm2:135m", "llama3.2:1b"]
    return openai_server


async def chosen(settings: Settings) -> LLM | None:
    brain = await choose_brain(settings)
    if brain is not None:
        await brain.aclose()
    return brain


async def test_fake(make: Any) -> None:
    assert isinstance(await chosen(make(brain="fake")), FakeLLM)


async def test_offline(make: Any) -> None:
    assert await chosen(make(brain="offline", llm_url="http://127.0.0.1:1/v1")) is None


async def test_openai(make: Any) -> None:
    brain = await chosen(make(brain="openai", llm_url="http://127.0.0.1:9/v1", llm_model="m"))
    assert isinstance(brain, OpenAICompatLLM)
    assert brain.describe().detail == "http://127.0.0.1:9/v1"


async def test_openai_needs_a_url(make: Any) -> None:
    with pytest.raises(ConfigError, match="OS1_LLM_URL"):
        await choose_brain(make(brain="openai"))


async def test_ollama_takes_its_first_model_and_answers(make: Any, ollama: OpenAIServer) -> None:
    brain = await choose_brain(make(brain="ollama", ollama_url=ollama.root_url))
    assert isinstance(brain, OpenAICompatLLM)
    try:
        info = brain.describe()
        assert (info.kind, info.model, info.detail) == ("ollama", "smollm2:135m", ollama.base_url)
        reply = await complete(brain, [M("user", "hi")], Sampling())
        assert reply == "Server heard: hi"
        assert ollama.requests[-1]["model"] == "smollm2:135m"
    finally:
        await brain.aclose()


async def test_ollama_uses_the_named_model(make: Any, ollama: OpenAIServer) -> None:
    brain = await chosen(make(brain="ollama", ollama_url=ollama.root_url, llm_model="llama3.2:1b"))
    assert brain is not None and brain.describe().model == "llama3.2:1b"


async def test_ollama_not_running(make: Any, dead_root: str) -> None:
    with pytest.raises(ConfigError, match=f"no Ollama answers at {dead_root}"):
        await choose_brain(make(brain="ollama"))


async def test_ollama_without_models(make: Any, ollama: OpenAIServer) -> None:
    ollama.models = []
    with pytest.raises(ConfigError, match="has no models; pull one"):
        await choose_brain(make(brain="ollama", ollama_url=ollama.root_url))


async def test_a_server_that_is_not_ollama(make: Any, openai_server: OpenAIServer) -> None:
    with pytest.raises(ConfigError, match="no Ollama answers"):
        await choose_brain(make(brain="ollama", ollama_url=openai_server.root_url))


async def test_detect_ollama(ollama: OpenAIServer, dead_root: str) -> None:
    assert await detect_ollama(ollama.root_url) == ["smollm2:135m", "llama3.2:1b"]
    assert await detect_ollama(ollama.root_url + "/") == ["smollm2:135m", "llama3.2:1b"]
    assert await detect_ollama(dead_root) is None
    assert await detect_ollama("not a url") is None
    ollama.ollama = False
    assert await detect_ollama(ollama.root_url) is None


def test_model_names_wants_the_ollama_shape() -> None:
    assert model_names({"models": [{"name": "a"}, {"size": 3}, "b"]}) == ["a"]
    assert model_names({"data": []}) is None
    assert model_names(["a"]) is None


async def test_embedded_with_a_gguf(make: Any, gguf: Path, llama_installed: None) -> None:
    brain = await chosen(make(brain="embedded", llm_gguf=gguf, llm_threads=3))
    assert isinstance(brain, EmbeddedLLM)
    assert (brain.model_path, brain.n_threads, brain.n_ctx) == (gguf, 3, 4096 + 400)
    assert brain.describe().model == "tiny.gguf"


async def test_embedded_context_is_at_least_2048(
    make: Any, gguf: Path, llama_installed: None
) -> None:
    brain = await chosen(make(brain="embedded", llm_gguf=gguf, context_tokens=512))
    assert isinstance(brain, EmbeddedLLM) and brain.n_ctx == 2048


async def test_embedded_falls_back_to_smollm2(
    make: Any, gguf: Path, llama_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(brains, "smollm2_path", lambda: gguf)
    brain = await chosen(make(brain="embedded"))
    assert isinstance(brain, EmbeddedLLM)
    assert brain.describe().small


async def test_embedded_with_nothing_to_run(make: Any, no_smollm2: None) -> None:
    with pytest.raises(ConfigError, match="set OS1_LLM_GGUF"):
        await choose_brain(make(brain="embedded"))


async def test_embedded_without_llama_cpp(make: Any, gguf: Path, llama_missing: None) -> None:
    with pytest.raises(ConfigError) as caught:
        await choose_brain(make(brain="embedded", llm_gguf=gguf))
    assert str(caught.value) == NEEDS_LLAMA_CPP


async def test_missing_gguf_file(make: Any, tmp_path: Path, llama_installed: None) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match=f"OS1_LLM_GGUF points at {missing}"):
        await choose_brain(make(llm_gguf=missing))


async def test_auto_prefers_the_url(make: Any, gguf: Path, ollama: OpenAIServer) -> None:
    settings = make(llm_url=ollama.base_url, llm_gguf=gguf, ollama_url=ollama.root_url)
    brain = await chosen(settings)
    assert brain is not None and brain.describe().kind == "openai"


async def test_auto_then_the_gguf(
    make: Any, gguf: Path, ollama: OpenAIServer, llama_installed: None
) -> None:
    brain = await chosen(make(llm_gguf=gguf, ollama_url=ollama.root_url))
    assert isinstance(brain, EmbeddedLLM) and brain.model_path == gguf


async def test_auto_then_ollama(make: Any, ollama: OpenAIServer, llama_installed: None) -> None:
    brain = await chosen(make(ollama_url=ollama.root_url))
    assert brain is not None
    assert (brain.describe().kind, brain.describe().model) == ("ollama", "smollm2:135m")


async def test_auto_skips_an_ollama_without_models(
    make: Any, ollama: OpenAIServer, no_smollm2: None
) -> None:
    ollama.models = []
    assert await chosen(make(ollama_url=ollama.root_url)) is None


async def test_auto_then_smollm2(
    make: Any, gguf: Path, llama_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(brains, "smollm2_path", lambda: gguf)
    brain = await chosen(make())
    assert isinstance(brain, EmbeddedLLM)
    info = brain.describe()
    assert (info.kind, info.small) == ("embedded", True)


async def test_auto_skips_smollm2_without_llama_cpp(
    make: Any, gguf: Path, llama_missing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(brains, "smollm2_path", lambda: gguf)
    assert await chosen(make()) is None


async def test_auto_with_nothing_is_offline(make: Any, no_smollm2: None) -> None:
    assert await chosen(make()) is None
