"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from openai_server import OpenAIServer
from pydantic import SecretStr

from os1.errors import ConfigError, LLMStreamBroken, LLMTimeout, LLMUnavailable
from os1.mind.backends.openai_compat import (
    OpenAICompatLLM,
    error_detail,
    sse_pieces,
)
from os1.mind.llm import LLM, Message, Sampling, complete
from os1.settings import Settings

HELLO = [Message("system", "Be kind."), Message("user", "hello there, old friend")]


@pytest.fixture
async def llm(openai_server: OpenAIServer) -> AsyncIterator[OpenAICompatLLM]:
    brain = OpenAICompatLLM(openai_server.base_url, model="test-model", timeout=5)
    yield brain
    await brain.aclose()


async def pieces(brain: LLM, messages: list[Message] = HELLO) -> list[str]:
    return [piece async for piece in brain.stream(messages, Sampling(max_tokens=50))]


async def test_streams_the_reply_in_pieces(llm: OpenAICompatLLM) -> None:
    got = await pieces(llm)
    assert len(got) > 3
    assert "".join(got) == "Server heard: hello there, old friend"


async def test_sends_a_standard_streaming_request(
    llm: OpenAICompatLLM, openai_server: OpenAIServer
) -> None:
    await complete(llm, HELLO, Sampling(temperature=0.5, max_tokens=77, top_p=0.8))
    body = openai_server.requests[-1]
    assert body["model"] == "test-model"
    assert body["stream"] is True
    assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0.5, 77, 0.8)
    assert openai_server.messages[-1] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "hello there, old friend"},
    ]


async def test_scripted_reply(llm: OpenAICompatLLM, openai_server: OpenAIServer) -> None:
    openai_server.reply = "Of course I remember you."
    assert await complete(llm, HELLO, Sampling()) == "Of course I remember you."


async def test_resolves_the_model_from_the_server_once(openai_server: OpenAIServer) -> None:
    openai_server.models = ["alpha-7b", "beta-13b"]
    brain = OpenAICompatLLM(openai_server.base_url)
    try:
        assert brain.describe().model == "(server default)"
        await pieces(brain)
        await pieces(brain)
        assert [body["model"] for body in openai_server.requests] == ["alpha-7b", "alpha-7b"]
        assert brain.describe().model == "alpha-7b"
    finally:
        await brain.aclose()


async def test_model_listing_that_fails_asks_for_os1_llm_model(
    openai_server: OpenAIServer,
) -> None:
    openai_server.models = []
    brain = OpenAICompatLLM(openai_server.base_url)
    try:
        with pytest.raises(LLMUnavailable, match="OS1_LLM_MODEL"):
            await pieces(brain)
    finally:
        await brain.aclose()


async def test_unknown_model_is_refused_with_the_servers_message(
    openai_server: OpenAIServer,
) -> None:
    brain = OpenAICompatLLM(openai_server.base_url, model="no-such-model")
    try:
        with pytest.raises(LLMUnavailable, match=r"HTTP 404: The model `no-such-model` does not"):
            await pieces(brain)
    finally:
        await brain.aclose()


async def test_sends_the_api_key(openai_server: OpenAIServer) -> None:
    openai_server.require_key = "sk-secret"
    brain = OpenAICompatLLM(openai_server.base_url, api_key="sk-secret")
    try:
        assert "".join(await pieces(brain)).startswith("Server heard:")
        assert openai_server.auth_headers == ["Bearer sk-secret"]
    finally:
        await brain.aclose()


async def test_missing_api_key_is_unavailable(
    llm: OpenAICompatLLM, openai_server: OpenAIServer
) -> None:
    openai_server.require_key = "sk-secret"
    with pytest.raises(LLMUnavailable) as caught:
        await pieces(llm)
    message = str(caught.value)
    assert "HTTP 401: Incorrect API key provided." in message
    assert "OS1_LLM_API_KEY" in message


@pytest.mark.parametrize(
    ("mode", "error", "says"),
    [
        ("error500", LLMUnavailable, "HTTP 500: the model crashed while thinking"),
        ("truncated", LLMStreamBroken, "ended before the reply was complete"),
        ("garbage", LLMStreamBroken, "malformed chunk"),
        # An endless event line is a broken stream, not held in memory.
        ("huge", LLMStreamBroken, "broke mid-reply"),
    ],
)
async def test_a_server_that_fails_or_sends_nonsense_is_one_clear_error(
    llm: OpenAICompatLLM,
    openai_server: OpenAIServer,
    mode: str,
    error: type[Exception],
    says: str,
) -> None:
    openai_server.mode = mode
    with pytest.raises(error, match=says):
        await pieces(llm)


async def test_connection_dropped_mid_reply_is_stream_broken(
    llm: OpenAICompatLLM, openai_server: OpenAIServer
) -> None:
    openai_server.mode = "die_midstream"
    got: list[str] = []
    with pytest.raises(LLMStreamBroken, match="broke mid-reply"):
        async for piece in llm.stream(HELLO, Sampling()):
            got.append(piece)
    assert got == ["Server ", "heard: "]


async def test_dead_port_is_unavailable(dead_url: str) -> None:
    brain = OpenAICompatLLM(dead_url, model="m", timeout=2)
    try:
        with pytest.raises(LLMUnavailable, match=f"cannot reach the language model at {dead_url}"):
            await pieces(brain)
    finally:
        await brain.aclose()


async def test_dead_port_while_resolving_the_model_is_unavailable(dead_url: str) -> None:
    brain = OpenAICompatLLM(dead_url, timeout=2)
    try:
        with pytest.raises(LLMUnavailable, match="cannot reach"):
            await pieces(brain)
    finally:
        await brain.aclose()


async def test_slow_first_chunk_times_out(openai_server: OpenAIServer) -> None:
    openai_server.mode, openai_server.delay = "slow", 2.0
    brain = OpenAICompatLLM(openai_server.base_url, model="test-model", timeout=0.2)
    try:
        with pytest.raises(LLMTimeout, match=r"within 0\.2 s \(OS1_LLM_TIMEOUT\)"):
            await pieces(brain)
    finally:
        await brain.aclose()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


async def test_server_that_never_answers_times_out(silent_url: str) -> None:
    brain = OpenAICompatLLM(silent_url, model="m", timeout=0.2)
    try:
        with pytest.raises(LLMTimeout):
            await pieces(brain)
    finally:
        await brain.aclose()


async def test_invalid_url_is_unavailable() -> None:
    brain = OpenAICompatLLM("http://exa mple.invalid:99999/v1", model="m")
    try:
        with pytest.raises(LLMUnavailable, match="cannot reach"):
            await pieces(brain)
    finally:
        await brain.aclose()


async def test_stopping_early_leaves_the_brain_usable(llm: OpenAICompatLLM) -> None:
    stream = llm.stream(HELLO, Sampling())
    assert await anext(stream) == "Server "
    await stream.aclose()  # type: ignore[attr-defined]
    assert await complete(llm, HELLO, Sampling()) == "Server heard: hello there, old friend"


def test_from_settings(openai_server: OpenAIServer) -> None:
    settings = Settings(
        llm_url=openai_server.base_url,
        llm_model="test-model",
        llm_api_key=SecretStr("sk-1"),
        llm_timeout=9,
    )
    brain = OpenAICompatLLM.from_settings(settings)
    info = brain.describe()
    assert (info.kind, info.model, info.detail) == ("openai", "test-model", openai_server.base_url)
    assert brain.timeout == 9
    assert isinstance(brain, LLM)


def test_from_settings_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="OS1_LLM_URL"):
        OpenAICompatLLM.from_settings(Settings(llm_url=None))


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def test_sse_ignores_comments_and_accepts_a_finish_reason_without_done() -> None:
    chunk = '{"choices": [{"delta": {"content": "hi"}, "finish_reason": null}]}'
    end = '{"choices": [{"delta": {}, "finish_reason": "stop"}]}'
    got = [p async for p in sse_pieces(lines(": keep-alive", "", f"data: {chunk}", f"data:{end}"))]
    assert got == ["hi"]


async def test_sse_error_object_mid_stream_is_stream_broken() -> None:
    with pytest.raises(LLMStreamBroken, match="out of memory"):
        await anext(sse_pieces(lines('data: {"error": {"message": "out of memory"}}')))


async def test_plain_json_answer_to_a_streaming_request_is_accepted(
    llm: OpenAICompatLLM, openai_server: OpenAIServer
) -> None:
    openai_server.mode = "json"
    assert await pieces(llm) == ["Server heard: hello there, old friend"]


def test_error_detail_is_short() -> None:
    assert len(error_detail("<html>" + "x" * 5000)) <= 200
    assert error_detail('{"error": "model is loading"}') == "model is loading"
    assert error_detail('{"error": {"message": "no such model"}}') == "no such model"
    assert error_detail("", "Bad Gateway") == "Bad Gateway"
