"""``os1 chat`` at a real terminal (a pseudo-terminal), as a person types at it."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX terminal")


class Terminal:
    """A child process on a pseudo-terminal: what it prints, and keys sent to it."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            # The terminal becomes the child's controlling one, so Ctrl-C is a SIGINT to it.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never came; the terminal shows:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break
        if text not in self.seen:
            raise AssertionError(f"{text!r} never came; the terminal shows:\n{self.seen}")
        at = self.seen.index(text) + len(text)
        before, self.seen = self.seen[:at], self.seen[at:]
        return before

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Terminal]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env.update(OS1_HOME=str(tmp_path / "home"), OS1_BRAIN="fake", OS1_EMBEDDER="none")
    env.update(TERM="dumb", COLUMNS="100")
    args = [sys.executable, "-m", "os1", "chat", "--person", "theo", "--skip-interview"]
    terminal = Terminal(args, env)
    try:
        yield terminal
    finally:
        terminal.close()


def memories(home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env.update(OS1_HOME=str(home), OS1_EMBEDDER="none")
    listed = subprocess.run(
        [sys.executable, "-m", "os1", "memories", "list", "--person", "theo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return listed.stdout


def test_ctrl_c_at_the_prompt_leaves_at_once(chat: Terminal) -> None:
    chat.expect("you>")
    chat.type("\x03")  # Ctrl-C, as the terminal sends it
    assert chat.process.wait(timeout=15) == 0


def test_commands_are_never_sent_or_stored(chat: Terminal, tmp_path: Path) -> None:
    chat.expect("you>")
    chat.type("/stauts\r")
    assert "unknown command /stauts" in chat.expect("you>")
    chat.type("/status now\r")
    assert "/status takes nothing after it" in chat.expect("you>")
    chat.type("/status\r")
    assert "right now" in chat.expect("you>")
    chat.type("//slash at the start\r")  # the way to send one
    chat.expect("you>")
    chat.type("/quit\r")
    assert chat.process.wait(timeout=15) == 0
    stored = memories(tmp_path / "home")
    assert "/slash at the start" in stored
    assert "stauts" not in stored and "status" not in stored


def test_a_streamed_reply_breaks_lines_between_words_at_the_terminals_width() -> None:
    import io

    from rich.console import Console

    from os1.terminal import _said_by

    screen = io.StringIO()
    out = Console(file=screen, width=30, color_system=None, force_terminal=False)
    reply = (
        "No worries. I'm here for you, Theo. You can talk to me anytime: we're all in this "
        "together.\n  - an indented line\nSupercalifragilisticexpialidocious-and-more-besides "
        "ends it."
    )
    lines = _said_by("Samantha", out)
    for at in range(0, len(reply), 3):  # as a model streams it, a few characters at a time
        lines.write(reply[at : at + 3])
    lines.write("\n")
    shown = screen.getvalue().splitlines()
    assert shown[0].startswith("Samantha: No worries.")
    too_long = [line for line in shown if len(line) > 30]
    assert too_long == ["Supercalifragilisticexpialidocious-and-more-besides"]  # one word alone
    assert "  - an indented line" in shown  # the text's own line starts keep their spaces
    words = " ".join(shown).split()
    assert words == ["Samantha:", *reply.split()]  # nothing lost, no word cut


@pytest.mark.parametrize(
    "reply",
    [
        "Here is a list:\tone\ttwo\tthree\tfour\tfive and more words after the tabs.",
        "\u6211\u559c\u6b22\u4f60\u3000\u6211\u559c\u6b22\u4f60\u3000\u6211\u559c\u6b22\u4f60"
        "\u3000\u6211\u559c\u6b22\u4f60\u3000\u6211\u559c\u6b22\u4f60\u3000end",
        "x" * 19 + " \nnext paragraph, after a space that fell at the edge",
        "It is 100\u00a0km away, and 250\u00a0km back again, by the long road home.",
        "Say :smile: and :100: as they are typed, not as pictures.",
    ],
    ids=["tabs", "wide-spaces", "space-at-the-edge", "no-break-spaces", "emoji-codes"],
)
def test_wrapping_keeps_every_line_within_the_width_and_the_text_as_written(reply: str) -> None:
    import io

    from rich.cells import cell_len
    from rich.console import Console

    from os1.terminal import _said_by

    screen = io.StringIO()
    out = Console(file=screen, width=30, color_system=None, force_terminal=False)
    lines = _said_by("Samantha", out)
    for at in range(0, len(reply), 2):
        lines.write(reply[at : at + 2])
    lines.write("\n")
    shown = screen.getvalue().splitlines()
    assert all(cell_len(line) <= 30 for line in shown), shown
    assert "" not in shown  # no blank line the text did not have
    assert " ".join(shown).split() == ["Samantha:", *reply.replace("\t", " ").split()], shown
    joined = [unit for unit in reply.split(" ") if "\u00a0" in unit]
    assert all(any(unit.strip(",.") in line for line in shown) for unit in joined), shown
