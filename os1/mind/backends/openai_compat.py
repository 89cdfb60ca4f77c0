"""Any OpenAI-compatible chat server (vLLM, llama.cpp's server, LM Studio, Ollama, OpenAI).

Speaks ``POST {base_url}/chat/completions`` with ``stream: true`` over httpx, reads the
server-sent events and yields the content deltas. Every httpx failure becomes an
:class:`os1.errors.LLMError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import httpx

from os1.errors import ConfigError, LLMStreamBroken, LLMTimeout, LLMUnavailable
from os1.mind.llm import BrainInfo, Message, Sampling

if TYPE_CHECKING:
    from os1.settings import Settings

RemoteKind = Literal["openai", "ollama"]

#: How much of a server's error body is repeated to a person.
ERROR_BODY_CHARS = 200


class OpenAICompatLLM:
    """A chat model behind an OpenAI-compatible HTTP API.

    ``model=None`` asks the server: the first id from ``GET {base_url}/models`` is used and
    remembered. ``timeout`` bounds connecting and the wait for each streamed chunk.
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
        self._client: httpx.AsyncClient | None = None

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
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def stream(self, messages: Sequence[Message], sampling: Sampling) -> AsyncIterator[str]:
        model = await self.resolve_model()
        url = f"{self.base_url}/chat/completions"
        body = request_body(model, messages, sampling)
        started = False
        try:
            async with self._http().stream("POST", url, json=body) as response:
                started = True
                await self._check_status(response)
                async for piece in response_pieces(response):
                    yield piece
        except httpx.TimeoutException as exc:
            raise self._timeout_error(exc) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            if started:
                raise LLMStreamBroken(
                    f"the connection to the language model at {self.base_url} broke "
                    f"mid-reply: {reason(exc)}"
                ) from exc
            raise self._unreachable_error(exc) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._unreachable_error(exc) from exc

    async def resolve_model(self) -> str:
        """The model to ask for: the configured one, else the server's first listed model."""
        if self.model is None:
            self.model = await self._first_listed_model()
        return self.model

    async def _first_listed_model(self) -> str:
        url = f"{self.base_url}/models"
        try:
            response = await self._http().get(url)
        except httpx.TimeoutException as exc:
            raise self._timeout_error(exc) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._unreachable_error(exc) from exc
        if response.status_code in (401, 403):
            raise LLMUnavailable(
                f"the language model at {self.base_url} refused the API key "
                f"(HTTP {response.status_code}: {error_detail(response)}); check OS1_LLM_API_KEY"
            )
        if response.status_code >= 400:
            problem = f"HTTP {response.status_code}: {error_detail(response)}"
        else:
            model = first_model_id(response)
            if model is not None:
                return model
            problem = "the server listed no models"
        raise LLMUnavailable(
            f"cannot find out which model to use at {url} ({problem}); "
            "set OS1_LLM_MODEL to the model's name"
        )

    async def _check_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        hint = " (check OS1_LLM_API_KEY)" if response.status_code in (401, 403) else ""
        raise LLMUnavailable(
            f"the language model at {self.base_url} refused the request: "
            f"HTTP {response.status_code}: {error_detail(response)}{hint}"
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            limits = httpx.Limits(
                max_connections=self.connections, max_keepalive_connections=self.connections
            )
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), headers=headers, limits=limits
            )
        return self._client

    def _timeout_error(self, exc: httpx.TimeoutException) -> LLMTimeout:
        what = "could not connect" if isinstance(exc, httpx.ConnectTimeout) else "sent nothing"
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


async def response_pieces(response: httpx.Response) -> AsyncIterator[str]:
    """The reply's text pieces: from server-sent events, or from a plain JSON completion."""
    if response.headers.get("content-type", "").startswith("application/json"):
        await response.aread()
        yield whole_completion(response)
        return
    async for piece in sse_pieces(response.aiter_lines()):
        yield piece


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


def whole_completion(response: httpx.Response) -> str:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError) as exc:
        raise LLMStreamBroken(
            f"the language model sent an unexpected answer: {shorten(response.text)!r}"
        ) from exc
    if not isinstance(content, str):
        raise LLMStreamBroken("the language model's answer has no text")
    return content


def first_model_id(response: httpx.Response) -> str | None:
    try:
        model = response.json()["data"][0]["id"]
    except (ValueError, LookupError, TypeError):
        return None
    return model if isinstance(model, str) and model else None


def error_detail(response: httpx.Response) -> str:
    """The server's own error message when it sent one, else the start of the body."""
    try:
        payload = response.json()
    except ValueError:
        return shorten(response.text) or response.reason_phrase
    text = error_text(payload) if isinstance(payload, dict) else None
    return shorten(text or response.text)


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
