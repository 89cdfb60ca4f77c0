"""``os1 peer ...`` against a live OS1 instance on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from a2a_helpers import instance
from typer.testing import CliRunner

from os1.cli import app
from os1.federation.peers import add_peer, issue_token
from os1.runtime import open_store
from os1.settings import Settings


async def _token_for(settings: Settings, name: str) -> str:
    async with open_store(settings) as store:
        return await issue_token(
            store.engine, await add_peer(store, name, "http://a.invalid", None, None)
        )


def test_peer_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In process, a command must not reconfigure this test process's logging.
    monkeypatch.setattr("os1.cli_base.configure_logging", lambda *a, **k: None)
    env = {
        "OS1_HOME": str(tmp_path / "a"),
        "OS1_BRAIN": "fake",
        "OS1_EMBEDDER": "none",
        "OS1_INTERVIEW": "false",
        "OS1_CONFIG": "",
    }
    runner = CliRunner()

    def os1(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.stdout

    with instance(tmp_path / "b", "b", embedder="none") as b:
        token = asyncio.run(_token_for(b.settings, "a"))
        assert os1("peer", "add", "b", b.url, "--token", token).startswith("added b: Samantha")
        [row] = json.loads(os1("peer", "list", "--json"))
        assert row == {"name": "b", "url": b.url, "allowed": True, "has_token": True}
        assert os1("peer", "talk", "b", "hello there") == (
            "Samantha: hello there\nb: I hear you: hello there\n"
        )
        lines = os1("peer", "talk", "b", "let us chat", "--turns", "2").splitlines()
        assert [line.split(":")[0] for line in lines] == ["Samantha", "b", "Samantha", "b"]
        three = os1("peer", "talk", "b", "ask b: how is your day?", "--person", "theo")
        assert three.splitlines()[:2] == [
            "theo: ask b: how is your day?",
            "b: I hear you: how is your day?",
        ]
        assert three.splitlines()[2].startswith("Samantha: ")
        # From inside a chat, too: the peer's answer, then the mind's words on one line.
        chat = runner.invoke(
            app, ["chat", "--person", "theo"], input="ask b: what is new?\nhello\n", env=env
        )
        assert chat.exit_code == 0, (chat.output, chat.exception)
        assert "note: b said: I hear you: what is new?" in chat.stderr
        replies = chat.stdout.splitlines()
        assert len(replies) == 2 and replies[1] == "I hear you: hello"
        assert os1("peer", "token", "b").startswith("os1peer_")
        assert "theo shares with b: facts" in os1(
            "peer", "share", "b", "--person", "theo", "--kind", "facts"
        )
        assert "denied" in os1("peer", "deny", "b")
        assert "allowed" in os1("peer", "allow", "b")
        os1("peer", "remove", "b")
        assert json.loads(os1("peer", "list", "--json")) == []
