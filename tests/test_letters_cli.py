"""``os1 letters``: a round trip through the real command (subprocess), and every bad input a
writer can give answered with one clear line and an exit code, with nothing saved (in process,
through typer's runner)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from typer.testing import CliRunner

from os1.cli import app
from os1.errors import OS1Error
from os1.letters.paper import DEFAULT_STOCK, STOCK_HANDS
from os1.mind.brains import choose_brain
from os1.mind.llm import LLM
from os1.settings import Settings

LETTER = (
    "My sweet pea,\n\nI still think of Bologna, the arcades in the rain.\n\n"
    "Yours always,\nLoretta\n"
)


def run_os1(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env |= {"OS1_HOME": str(home), "OS1_BRAIN": "fake"}
    return subprocess.run(
        [sys.executable, "-m", "os1", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def invoke(
    home: Path,
    *args: str,
    stdin: bytes = b"",
    brain: str = "fake",
    more: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run a command in this process, as ``os1``'s entry point would: an OS1 error is one line
    and its exit code. ``more`` are further settings ({"OS1_OLLAMA_URL": ...})."""
    env = {"OS1_HOME": str(home), "OS1_BRAIN": brain, **(more or {})}
    result = CliRunner().invoke(app, ["letters", *args], input=stdin, env=env)
    if isinstance(result.exception, OS1Error):
        return result.exception.exit_code, str(result.exception)
    return result.exit_code, result.output


def ok(home: Path, *args: str, stdin: bytes = b"") -> str:
    code, out = invoke(home, *args, stdin=stdin)
    assert code == 0, out
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An OS1 home where the writer ``theo`` has the client Loretta writing to Roberta."""
    home = tmp_path / "home"
    ok(home, "client", "add", "Loretta", "-w", "theo", "--phrase", "my sweet pea")
    ok(home, "client", "edit", "Loretta", "-w", "theo", "--address", "4 Oak Lane")
    ok(
        home,
        *("correspondent", "add", "Loretta", "Roberta", "-w", "theo"),
        *("--address", "12 Elm Street", "--relation", "wife"),
    )
    return home


def letters_of(home: Path, writer: str = "theo") -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(ok(home, "list", "-w", writer, "--json"))
    return rows


def test_round_trip_through_the_command(home: Path, tmp_path: Path) -> None:
    made = run_os1(
        home, "letters", "new", "Loretta", "Roberta", "-w", "theo", "--title", "Fifty years",
        stdin=LETTER,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "letter 1, version 1 (writer)"
    approved = run_os1(home, "letters", "approve", "1", "-w", "theo")
    assert approved.returncode == 0, approved.stderr
    shown = run_os1(home, "letters", "show", "1", "-w", "theo", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["status"], data["approved_version"]) == ("approved", 1)
    assert data["version"]["text"] == LETTER
    assert data["correspondence"]["address"] == ["12 Elm Street"]
    if not STOCK_HANDS[DEFAULT_STOCK].path.is_file():
        pytest.skip("the stock handwriting font is not installed (scripts/system-packages)")
    out = tmp_path / "fifty.pdf"
    rendered = run_os1(home, "letters", "render", "1", "-w", "theo", "-o", str(out), "--envelope")
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.strip() == f"wrote {out}"
    pdf = pdfium.PdfDocument(out)
    try:
        assert len(pdf) == 2  # the letter, then the envelope
    finally:
        pdf.close()


def test_versions_diff_draft_and_upcoming_in_process(home: Path) -> None:
    ok(home, "new", "Loretta", "Roberta", "-w", "theo", "--title", "T", stdin=LETTER.encode())
    ok(home, "version", "add", "1", "-w", "theo", "--dictated", stdin=b"Dear Roberta,\nSnow.\n")
    drafted = ok(home, "draft", "1", "-w", "theo", "--notes", "Bologna, the arcades")
    assert drafted.startswith("letter 1, version 3 (mind)")
    rows = json.loads(ok(home, "versions", "1", "-w", "theo", "--json"))
    assert [(r["number"], r["source"]) for r in rows] == [
        (1, "writer"),
        (2, "dictated"),
        (3, "mind"),
    ]
    assert rows[2]["notes"] == "Bologna, the arcades"
    assert rows[2]["drew_on"] == {"letters": [], "mentions": [], "occasions": []}
    diff = ok(home, "diff", "1", "1", "2", "-w", "theo")
    assert "-I still think of Bologna, the arcades in the rain." in diff
    assert "+Snow." in diff
    ok(home, "approve", "1", "2", "-w", "theo")
    assert ok(home, "sent", "1", "-w", "theo", "--on", "2026-01-02").strip().endswith("2026-01-02")
    assert letters_of(home)[0]["status"] == "sent"

    ok(
        home,
        *("occasion", "add", "Loretta", "Roberta", "-w", "theo"),
        *("--date", "02-29", "--label", "Leap birthday", "--kind", "birthday"),
    )
    found = json.loads(ok(home, "upcoming", "-w", "theo", "--days", "366", "--json"))
    assert [u["occasion"]["label"] for u in found] == ["Leap birthday"]
    assert (found[0]["client"], found[0]["correspondent"]) == ("Loretta", "Roberta")


#: A brain that cannot be reached: nothing listens on port 9.
UNREACHABLE = {"OS1_BRAIN": "ollama", "OS1_OLLAMA_URL": "http://127.0.0.1:9"}


@pytest.fixture
def brains_chosen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time a command chooses its language model, the brain's name is added."""
    chosen: list[str] = []

    async def spy(settings: Settings) -> LLM | None:
        chosen.append(settings.brain)
        return await choose_brain(settings)

    monkeypatch.setattr("os1.mind.brains.choose_brain", spy)  # the commands look it up there
    return chosen


def test_sent_by_mind_checks_the_letter_before_any_model(
    home: Path, brains_chosen: list[str]
) -> None:
    ok(home, "new", "Loretta", "Roberta", "-w", "theo", "--title", "T", stdin=LETTER.encode())
    code, out = invoke(home, "sent", "1", "-w", "theo", "--mind", more=UNREACHABLE)
    assert (code, "not approved" in out) == (2, True), out
    assert brains_chosen == []  # refused before a model was looked for
    ok(home, "approve", "1", "-w", "theo")
    ok(home, "sent", "1", "-w", "theo")
    code, out = invoke(home, "sent", "1", "-w", "theo", "--mind", more=UNREACHABLE)
    assert (code, "already sent" in out) == (2, True), out
    assert brains_chosen == []


def test_sent_by_mind_without_a_model_to_be_had_sends_by_rule(
    home: Path, brains_chosen: list[str]
) -> None:
    text = "My sweet pea,\n\nWe drove to Monterey with Aunt Jo.\n\nYours always,\nLoretta\n"
    ok(home, "new", "Loretta", "Roberta", "-w", "theo", "--title", "T", stdin=text.encode())
    ok(home, "approve", "1", "-w", "theo")
    code, out = invoke(
        home, "sent", "1", "-w", "theo", "--mind", "--on", "2026-01-02", more=UNREACHABLE
    )
    assert code == 0, out
    assert out.splitlines() == [
        "letter 1 sent on 2026-01-02",
        "remembered: Monterey (place); Aunt Jo (name)",
    ]
    assert brains_chosen == ["ollama"]  # it was tried, and the rules answered
    assert letters_of(home)[0]["status"] == "sent"


def test_bad_input_gets_one_line_and_saves_nothing(home: Path, tmp_path: Path) -> None:
    ok(home, "new", "Loretta", "Roberta", "-w", "theo", "--title", "T", stdin=LETTER.encode())
    ok(home, "client", "add", "Someone", "-w", "paul")
    big, binary, latin = tmp_path / "big.txt", tmp_path / "nul.txt", tmp_path / "latin.txt"
    big.write_text("x" * 100_001, encoding="utf-8")
    binary.write_bytes(b"Dear \x00 Roberta")
    latin.write_bytes("Cher Andr\u00e9".encode("latin-1"))
    invisible = tmp_path / "invisible.txt"
    invisible.write_text("\u200b\ufe0f\n", encoding="utf-8")
    new = ("new", "Loretta", "Roberta", "-w", "theo", "--title", "T2")
    occasion = ("occasion", "add", "Loretta", "Roberta", "-w", "theo", "--label", "L", "--date")
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("client", "add", " ", "-w", "theo"), 2, "cannot be empty"),
        (("client", "add", "Bad\x1bName", "-w", "theo"), 2, "control characters"),
        (("client", "add", "Loretta", "-w", "theo"), 2, "already has a client"),
        (("client", "add", "X", "-w", "theo", "--hand", "../etc"), 2, "hand's name"),
        (("client", "show", "Nobody", "-w", "theo"), 3, "no client named 'Nobody'"),
        (("client", "list", "-w", "stranger"), 3, "no person named 'stranger'"),
        (("list",), 3, "no letters yet"),  # the login writes nothing here
        (("correspondent", "add", "Loretta", "", "-w", "theo"), 2, "cannot be empty"),
        (("correspondent", "add", "Loretta", "Sam", "-w", "theo", "--since", "1975"), 2, "date"),
        ((*new, "--file", str(big)), 2, "too long"),
        ((*new, "--file", str(binary)), 2, "control characters"),
        ((*new, "--file", str(latin)), 2, "not UTF-8"),
        ((*new, "--file", str(invisible)), 2, "nothing visible"),
        ((*new, "--file", str(tmp_path / "missing.txt")), 2, "no such file"),
        ((*new, "--file", str(tmp_path)), 2, "is a folder"),
        ((*new, "--draft"), 2, "go together"),
        ((*new, "--notes", "hi"), 2, "go together"),
        (("new", "Loretta", "Nobody", "-w", "theo", "--title", "T2"), 3, "no correspondent"),
        (("version", "add", "1", "-w", "theo", "--file", str(big)), 2, "too long"),
        ((*occasion, "02-30"), 2, "no day 30"),
        ((*occasion, "soon"), 2, "not a date"),
        ((*occasion, "01-01", "--kind", "wedding"), 2, "one of"),
        (("mention", "add", "Loretta", "Roberta", "x" * 501, "-w", "theo"), 2, "at most 500"),
        (
            ("mention", "add", "Loretta", "Roberta", "Bologna", "-w", "theo", "--letter", "9"),
            3,
            "no letter 9",
        ),
        (("upcoming", "-w", "theo", "--days", "400"), 2, "between 0 and 366"),
        (("list", "-w", "theo", "--status", "lost"), 2, "one of"),
        (("show", "99", "-w", "theo"), 3, "no letter 99"),
        (("show", str(2**40), "-w", "theo"), 3, "no letter"),
        (("show", "1", "-w", "paul"), 3, "no letter 1"),
        (("approve", "1", "-w", "paul"), 3, "no letter 1"),
        (("diff", "1", "1", "5", "-w", "theo"), 3, "no version 5"),
        (("sent", "1", "-w", "theo"), 2, "not approved"),
        (("sent", "1", "-w", "theo", "--on", "2025-13-01"), 2, "not a date"),
        (("render", "1", "-w", "theo", "-o", str(tmp_path / "x.pdf")), 2, "not approved"),
        (("book", "-w", "theo", "-o", str(tmp_path / "b.pdf")), 2, "no approved letters"),
        (("book", "-w", "theo", "-o", str(tmp_path / "b.pdf"), "--face", "gothic"), 2, "face"),
    ]
    for args, code, message in cases:
        got, out = invoke(home, *args)
        assert (got, message in out) == (code, True), (args, got, out)
        assert "\n" not in out.strip(), (args, out)

    # No model: a clear error (exit 4), and no letter appears.
    got, out = invoke(home, *new, "--draft", "--notes", "hello", brain="offline")
    assert got == 4 and "drafting needs a language model" in out
    assert [r["title"] for r in letters_of(home)] == ["T"]
    assert len(json.loads(ok(home, "versions", "1", "-w", "theo", "--json"))) == 1
    clients = json.loads(ok(home, "client", "list", "-w", "theo", "--json"))
    assert [c["name"] for c in clients] == ["Loretta"]
    assert json.loads(ok(home, "correspondent", "list", "-w", "theo", "--json"))[0]["name"] == (
        "Roberta"
    )
    assert letters_of(home, "paul") == []
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "b.pdf").exists()
