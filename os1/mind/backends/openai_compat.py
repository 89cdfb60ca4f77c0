"""Any OpenAI-compatible chat server (vLLM, llama.cpp's server, LM Studio, Ollama, OpenAI).

Speaks ``POST {base_url}/chat/completions`` with ``stream: true`` over aiohttp, reads the
server-sent events and yields the content deltas. Every transport failure becomes an
:class:`os1.errors.LLMError`.

aiohttp, not httpx, because a reply streams in one small event per token and every event costs
a read: at 30 tokens/s, 256 replies at once, aiohttp's client spent about 40 µs of CPU per token
where httpx spent about 155 (httpx wraps each read in anyio cancel scopes and timeouts). With
thousands of conversations that was the largest part of a turn's CPU in the server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from os1.errors import ConfigError, LLMStreamBroken, LLMTimeout, LLMUnavailable
from os1.mind.llm import BrainInfo, Message, Sampling

if TYPE_CHECKING:
    from os1.settings import Settings

RemoteKind = Literal["openai", "ollama"]

#: How much of a server's error body is repeated to a person.
ERROR_BODY_CHARS = 200
#: The most of an error body that is read at all.
ERROR_BODY_READ = 64 * 1024
#: The longest line of a stream (one event), and the largest plain JSON answer, in bytes.
MAX_LINE = 4 * 2**20
MAX_ANSWER = 32 * 2**20


class OpenAICompatLLM:
    """A chat model behind an OpenAI-compatible HTTP API.

    ``model=None`` asks the server: the first id from ``GET {base_url}/models`` is used and
    remembered. ``timeout`` bounds connecting (waiting for a free connection included) and the
    wait for each streamed chunk.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        kind: RemoteKind = "openai",
        connections: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: Connections to the server kept open and reused; as many as calls run at once
        #: (``OS1_LLM_CONCURRENCY``), so no call waits for one or opens a fresh one.
        self.connections = connections
        self.model = model
        self.timeout = timeout
        self.kind: RemoteKind = kind
        self._api_key = api_key
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatLLM:
        if not settings.llm_url:
            raise ConfigError(
                "the openai brain needs OS1_LLM_URL, the server's base URL ending in /v1"
            )
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            settings.llm_url,
            model=settings.llm_model,
            api_key=key or None,
            timeout=settings.llm_timeout,
            connections=settings.llm_concurrency,
        )

    def describe(self) -> BrainInfo:
        return BrainInfo(
            kind=self.kind, model=self.model or "(server default)", detail=self.base_url
        )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def stream(self, messages: Sequence[Message], sampling: Sampling) -> AsyncIterator[str]:
        model = await self.resolve_model()
        url = f"{self.base_url}/chat/completions"
        body = request_body(model, messages, sampling)
        started = False
        try:
            async with self._http().post(url, json=body) as response:
                started = True
                await self._check_status(response)
                async for piece in response_pieces(response):
                    yield piece
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors (and ClientErrors)
            raise self._timeout_error(exc) from exc
        except (aiohttp.ClientError, HttpProcessingError, ValueError) as exc:
            # ValueError: a URL aiohttp cannot use; HttpProcessingError: a malformed answer, or
            # a line longer than MAX_LINE.
            if started:
                raise LLMStreamBroken(
                    f"the connection to the language model at {self.base_url} broke "
                    f"mid-reply: {reason(exc)}"
                ) from exc
            raise self._unreachable_error(exc) from exc

    async def resolve_model(self) -> str:
        """The model to ask for: the configured one, else the server's first listed model."""
        if self.model is None:
            self.model = await self._first_listed_model()
        return self.model

    async def _first_listed_model(self) -> str:
        url = f"{self.base_url}/models"
        try:
            async with self._http().get(url) as response:
                status, reason_phrase = response.status, response.reason or ""
                text = await read_text(response, MAX_ANSWER)
        except TimeoutError as exc:
            raise self._timeout_error(exc) from exc
        except (aiohttp.ClientError, HttpProcessingError, ValueError) as exc:
            raise self._unreachable_error(exc) from exc
        if status in (401, 403):
            raise LLMUnavailable(
                f"the language model at {self.base_url} refused the API key "
                f"(HTTP {status}: {error_detail(text, reason_phrase)}); check OS1_LLM_API_KEY"
            )
        if status >= 400:
            problem = f"HTTP {status}: {error_detail(text, reason_phrase)}"
        else:
            model = first_model_id(text)
            if model is not None:
                return model
            problem = "the server listed no models"
        raise LLMUnavailable(
            f"cannot find out which model to use at {url} ({problem}); "
            "set OS1_LLM_MODEL to the model's name"
        )

    async def _check_status(self, response: aiohttp.ClientResponse) -> None:
        if response.status < 400:
            return
        text = await read_text(response, ERROR_BODY_READ)
        hint = " (check OS1_LLM_API_KEY)" if response.status in (401, 403) else ""
        raise LLMUnavailable(
            f"the language model at {self.base_url} refused the request: "
            f"HTTP {response.status}: {error_detail(text, response.reason or '')}{hint}"
        )

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.timeout, sock_connect=self.timeout, sock_read=self.timeout
            )
            self._session = aiohttp.ClientSession(
                headers=headers,
                timeout=timeout,
                connector=aiohttp.TCPConnector(limit=self.connections, limit_per_host=0),
                read_bufsize=MAX_LINE,
                raise_for_status=False,
            )
        return self._session

    def _timeout_error(self, exc: TimeoutError) -> LLMTimeout:
        connecting = isinstance(exc, aiohttp.ConnectionTimeoutError)
        what = "could not connect" if connecting else "sent nothing"
        return LLMTimeout(
            f"the language model at {self.base_url} {what} within {self.timeout:g} s "
            "(OS1_LLM_TIMEOUT)"
        )

    def _unreachable_error(self, exc: Exception) -> LLMUnavailable:
        return LLMUnavailable(f"cannot reach the language model at {self.base_url}: {reason(exc)}")


def request_body(model: str, messages: Sequence[Message], sampling: Sampling) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "stream": True,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
    }


async def response_pieces(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The reply's text pieces: from server-sent events, or from a plain JSON completion."""
    if response.content_type == "application/json":
        yield whole_completion(await read_text(response, MAX_ANSWER))
        return
    async for piece in sse_pieces(lines_of(response.content)):
        yield piece


async def lines_of(content: aiohttp.StreamReader) -> AsyncIterator[str]:
    """The body's lines, decoded, without their line ends."""
    async for line in content:
        yield line.decode("utf-8", "replace").rstrip("\r\n")


async def read_text(response: aiohttp.ClientResponse, limit: int) -> str:
    """At most ``limit`` bytes of the body, decoded (a hostile server's endless body is cut)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        part = await response.content.read(limit - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    data = b"".join(parts)
    try:
        return data.decode(response.charset or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", "replace")


async def sse_pieces(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Content deltas from ``data:`` lines; the stream must end in ``[DONE]`` or a finish reason."""
    finished = False
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        choice = first_choice(parse_chunk(data))
        content = choice.get("delta", {}).get("content")
        if isinstance(content, str) and content:
            yield content
        finished = finished or bool(choice.get("finish_reason"))
    if not finished:
        raise LLMStreamBroken("the language model's stream ended before the reply was complete")


def parse_chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise LLMStreamBroken(
            f"the language model sent a malformed chunk: {shorten(data)!r}"
        ) from exc
    if not isinstance(chunk, dict):
        raise LLMStreamBroken(f"the language model sent a malformed chunk: {shorten(data)!r}")
    if "error" in chunk:
        detail = error_text(chunk) or shorten(data)
        raise LLMStreamBroken(f"the language model failed mid-reply: {detail}")
    return chunk


def first_choice(chunk: dict[str, Any]) -> dict[str, Any]:
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def whole_completion(text: str) -> str:
    try:
        content = json.loads(text)["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError) as exc:
        raise LLMStreamBroken(
            f"the language model sent an unexpected answer: {shorten(text)!r}"
        ) from exc
    if not isinstance(content, str):
        raise LLMStreamBroken("the language model's answer has no text")
    return content


def first_model_id(text: str) -> str | None:
    try:
        model = json.loads(text)["data"][0]["id"]
    except (ValueError, LookupError, TypeError):
        return None
    return model if isinstance(model, str) and model else None


def error_detail(body: str, reason_phrase: str = "") -> str:
    """The server's own error message when it sent one, else the start of the body (else the
    status line's reason)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return shorten(body) or reason_phrase
    text = error_text(payload) if isinstance(payload, dict) else None
    return shorten(text or body) or reason_phrase


def error_text(payload: dict[str, Any]) -> str | None:
    """``{"error": {"message": ...}}`` (OpenAI), ``{"error": "..."}`` (Ollama) or ``detail``."""
    error = payload.get("error", payload.get("detail"))
    if isinstance(error, dict):
        error = error.get("message")
    return error if isinstance(error, str) and error else None


def reason(exc: Exception) -> str:
    return shorten(str(exc)) or type(exc).__name__


def shorten(text: str, limit: int = ERROR_BODY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
