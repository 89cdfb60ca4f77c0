"""Language-model fixtures: a deterministic fake, and a real OpenAI-compatible server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from openai_server import OpenAIServer

from os1.mind.fake import FakeLLM


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture(scope="session")
def _openai_server_running() -> Iterator[OpenAIServer]:
    server = OpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openai_server(_openai_server_running: OpenAIServer) -> OpenAIServer:
    """The shared test server, reset to its defaults: mode ``ok``, no key, model ``test-model``.

    ``base_url`` ends in ``/v1``; ``root_url`` is the same server for Ollama's API (set
    ``ollama = True`` so it answers ``/api/tags``).
    """
    _openai_server_running.reset()
    return _openai_server_running


@pytest.fixture
def dead_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
