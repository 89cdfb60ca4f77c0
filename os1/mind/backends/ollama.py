"""A local Ollama: found through its own API, spoken to through its OpenAI-compatible one."""

from __future__ import annotations

from typing import Any

import httpx

from os1.mind.backends.openai_compat import OpenAICompatLLM


async def detect_ollama(url: str, timeout: float = 0.5) -> list[str] | None:  # noqa: ASYNC109
    """The names of the models an Ollama at ``url`` has, or None when no Ollama answers there.

    ``timeout`` bounds each step of the one request (connect, read), as httpx does.
    """
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(f"{url.rstrip('/')}/api/tags")
        payload = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError):
        return None
    return model_names(payload)


def model_names(payload: Any) -> list[str] | None:
    """Names from an ``/api/tags`` answer (``{"models": [{"name": ...}]}``); None if not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("models"), list):
        return None
    models: list[Any] = payload["models"]
    return [m["name"] for m in models if isinstance(m, dict) and isinstance(m.get("name"), str)]


def ollama_llm(url: str, model: str | None, timeout: float = 120.0) -> OpenAICompatLLM:
    """A brain talking to the Ollama at ``url`` through its ``/v1`` endpoints."""
    return OpenAICompatLLM(f"{url.rstrip('/')}/v1", model=model, timeout=timeout, kind="ollama")
