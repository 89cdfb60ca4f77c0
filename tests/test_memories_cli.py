"""``os1 memories``, ``os1 facts`` and ``os1 profile``: list, correct and delete what the mind
remembers, in process (typer's runner) and once as a separate process for the exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openai_server import OpenAIServer
from typer.testing import CliRunner

import os1.cli as _commands  # importing it registers every command on the app
from os1 import cli_base
from os1.cli_base import app
from os1.errors import OS1Error
from os1.memory.models import FactOp, NewTurn
from os1.mind.distill import MARKER
from os1.runtime import open_store
from os1.settings import Settings


@dataclass
class Seeded:
    said: int  # theo's turn
    reply: int  # the reply to it
    fact: int  # theo's current fact
    bobs_turn: int
    bobs_fact: int


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in [k for k in os.environ if k.startswith("OS1_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OS1_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OS1_EMBEDDER", "none")
    monkeypatch.setattr(cli_base, "configure_logging", lambda *a, **k: None)
    return tmp_path / "home"


@pytest.fixture
def seeded(home: Path) -> Seeded:
    async def go() -> Seeded:
        async with open_store(Settings(home=home, embedder="none")) as store:
            ids = []
            for name, text in [("theo", "My sister lives in Lisbon"), ("bob", "my PIN is 9931")]:
                person = await store.ensure_person(name)
                conv = await store.start_conversation(person)
                now = datetime.now(UTC)
                said = await store.add_turn(conv, NewTurn("user", text, now))
                reply = await store.add_turn(conv, NewTurn("assistant", "Noted.", now))
                [fact] = await store.apply_fact_ops(
                    person,
                    [FactOp("ADD", None, "fact", "note", text, (said.id,))],
                    profile=f"{name} said: {text}.",
                )
                ids.append((said.id, reply.id, fact.id))
            return Seeded(*ids[0], ids[1][0], ids[1][2])

    return asyncio.run(go())


def os1(*args: str) -> tuple[int, str]:
    """Exit code and output, as ``os1.cli.main`` would give them."""
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, OS1Error):
        return result.exception.exit_code, f"error: {result.exception}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_memories_list_edit_delete(seeded: Seeded) -> None:
    code, out = os1("memories", "list", "--person", "theo", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [seeded.reply, seeded.said]
    assert rows[1]["content"] == "My sister lives in Lisbon" and rows[1]["role"] == "user"
    code, out = os1("memories", "list", "-p", "theo", "--limit", "1")
    assert code == 0 and out.startswith(f"{seeded.reply}\t") and "Lisbon" not in out

    code, out = os1("memories", "edit", "-p", "theo", str(seeded.said), "My sister lives in Porto")
    assert code == 0 and "now says: My sister lives in Porto" in out
    # The fact drawn from the old text is gone, and so is the profile.
    assert os1("facts", "list", "-p", "theo", "--history", "--json")[1].strip() == "[]"
    assert "No profile" in os1("profile", "-p", "theo")[1]

    code, out = os1("memories", "delete", "-p", "theo", str(seeded.said))
    assert code == 0 and "deleted memory" in out
    assert "Nothing remembered" in os1("memories", "list", "-p", "theo")[1]


def test_memories_list_newest_said_first_with_speakers_names(
    seeded: Seeded, tmp_path: Path
) -> None:
    """An imported history keeps its own dates: it lists below what was said today, although
    it was stored after it, and each line names who said it."""
    history = tmp_path / "old.jsonl"
    lines = [
        {
            "id": "a",
            "role": "user",
            "speaker": "Theo",
            "content": "We met in May.",
            "time": "2026-05-02T10:00:00Z",
        },
        {"id": "b", "role": "assistant", "content": "I remember.", "time": "2026-07-01T10:00:00Z"},
    ]
    history.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert os1("import", "--person", "theo", str(history))[0] == 0
    code, out = os1("memories", "list", "-p", "theo")
    said = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and [int(row[0]) for row in said[:2]] == [seeded.reply, seeded.said]
    assert [row[2] for row in said[2:]] == ["assistant: I remember.", "Theo: We met in May."]


def test_facts_list_correct_delete_and_profile(seeded: Seeded) -> None:
    code, out = os1("profile", "--person", "theo")
    assert (code, out.strip()) == (0, "theo said: My sister lives in Lisbon.")
    code, out = os1("facts", "list", "--person", "theo")
    assert code == 0 and out.strip() == f"{seeded.fact}\tfact\tnote: My sister lives in Lisbon"

    code, out = os1("facts", "edit", "-p", "theo", str(seeded.fact), "My sister lives in Porto")
    assert code == 0 and "corrected" in out
    history = json.loads(os1("facts", "list", "-p", "theo", "--history", "--json")[1])
    assert [(f["value"], f["current"], f["ended_reason"]) for f in history] == [
        ("My sister lives in Lisbon", False, "corrected"),
        ("My sister lives in Porto", True, None),
    ]
    assert history[0]["replaced_by"] == history[1]["id"]
    assert history[1]["source_turn_ids"] == [seeded.said]
    assert json.loads(os1("profile", "-p", "theo", "--json")[1]) == {
        "profile": None,
        "updated_at": None,
    }
    none_yet = os1("profile", "-p", "theo")[1]  # and says how one gets written
    assert "No profile of theo yet" in none_yet and "OS1_DISTILL=on" in none_yet
    text = os1("facts", "list", "-p", "theo", "--history")[1]
    assert f"(corrected {datetime.now(UTC):%Y-%m-%d}, now fact {history[1]['id']})" in text

    code, out = os1("facts", "edit", "-p", "theo", str(seeded.fact), "Oslo")
    assert code == 2 and "no longer current" in out
    code, out = os1("facts", "delete", "-p", "theo", str(seeded.fact))
    assert (code, out.strip()) == (0, f"deleted fact {seeded.fact} (2 versions)")
    assert "No facts about theo yet." in os1("facts", "list", "-p", "theo", "--history")[1]


def test_another_persons_ids_and_bad_input(seeded: Seeded) -> None:
    for args in [
        ("facts", "edit", "-p", "theo", str(seeded.bobs_fact), "hacked"),
        ("facts", "delete", "-p", "theo", str(seeded.bobs_fact)),
        ("memories", "edit", "-p", "theo", str(seeded.bobs_turn), "hacked"),
        ("memories", "delete", "-p", "theo", str(seeded.bobs_turn)),
        ("facts", "delete", "-p", "theo", str(2**40)),
    ]:
        assert os1(*args)[0] == 3, args
    assert os1("facts", "list", "-p", "nobody")[0] == 3
    for value in ["x" * 501, "two\nlines", "   "]:
        code, out = os1("facts", "edit", "-p", "theo", str(seeded.fact), value)
        assert code == 2 and out.startswith("error: the fact's value"), out
    assert os1("memories", "edit", "-p", "theo", str(seeded.said), " ")[0] == 2
    for bad in ["0", "-3", "abc"]:
        assert os1("facts", "delete", "-p", "theo", bad)[0] == 2
    # Bob's data is untouched.
    bobs = json.loads(os1("facts", "list", "-p", "bob", "--json")[1])
    assert [f["value"] for f in bobs] == ["my PIN is 9931"]
    assert "9931" in os1("memories", "list", "-p", "bob")[1]


def test_errors_are_one_line_with_exit_codes(seeded: Seeded, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env.update(OS1_HOME=str(home), OS1_EMBEDDER="none")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "os1", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    other = run("facts", "delete", "--person", "theo", str(seeded.bobs_fact))
    assert (other.returncode, other.stderr) == (3, f"error: no fact {seeded.bobs_fact}\n")
    long = run("facts", "edit", "--person", "theo", str(seeded.fact), "x" * 501)
    assert long.returncode == 2 and long.stderr.count("\n") == 1


def test_chat_distills_before_it_exits_and_forget_undoes_it(
    home: Path, openai_server: OpenAIServer
) -> None:
    """A real model over HTTP: `os1 chat` waits for the distillation before it exits, and
    `os1 forget` takes the distilled fact and the profile away."""
    answer = {
        "operations": [{"op": "ADD", "kind": "fact", "key": "home_city", "value": "Berlin"}],
        "profile": "Theo lives in Berlin.",
    }
    openai_server.reply = json.dumps(answer)  # the chat reply and the distillation alike
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env.update(
        OS1_HOME=str(home),
        OS1_EMBEDDER="none",
        OS1_BRAIN="openai",
        OS1_LLM_URL=openai_server.base_url,
        OS1_INTERVIEW="false",
    )

    chat = subprocess.run(
        [sys.executable, "-m", "os1", "chat", "--person", "theo"],
        input="I moved to Berlin\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert chat.returncode == 0, chat.stderr
    assert len(openai_server.requests) == 2
    assert openai_server.messages[1][0]["content"].startswith(MARKER)
    facts = json.loads(os1("facts", "list", "--person", "theo", "--json")[1])
    assert [(f["key"], f["value"]) for f in facts] == [("home_city", "Berlin")]
    assert os1("profile", "--person", "theo")[1].strip() == "Theo lives in Berlin."

    assert os1("forget", "--person", "theo", "Berlin")[0] == 0
    assert json.loads(os1("facts", "list", "-p", "theo", "--history", "--json")[1]) == []
    assert "No profile" in os1("profile", "--person", "theo")[1]


def test_import_reads_no_more_than_its_limit_and_refuses_times_utc_cannot_hold(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device has no size to check first (``/dev/zero`` never ends): the read stops past the
    limit. A time at the calendar's edge that UTC cannot hold is a bad line, not a crash; in
    neither case is anyone created."""
    monkeypatch.setattr(_commands, "MAX_IMPORT_BYTES", 2**20)
    code, out = os1("import", "--person", "zed", "/dev/zero")
    assert code == 2 and "/dev/zero: larger than 1 MiB" in out, out
    for when in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        line = {"id": "1", "role": "user", "content": "x", "time": when}
        (tmp_path / "edge.jsonl").write_text(json.dumps(line) + "\n")
        code, out = os1("import", "--person", "zed", str(tmp_path / "edge.jsonl"))
        assert code == 2 and "edge.jsonl:1: time: lies outside the years 1 to 9999" in out, out
    assert "Nobody yet" in CliRunner().invoke(app, ["people"]).output


def test_a_database_failure_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy.exc import OperationalError

    def locked(**_: object) -> None:
        raise OperationalError("INSERT INTO turns ...", {}, Exception("database is locked"))

    monkeypatch.setattr(_commands, "app", locked)
    with pytest.raises(SystemExit) as stopped:
        _commands.main()
    assert stopped.value.code == 1
    assert capsys.readouterr().err == "error: the database: database is locked\n"
