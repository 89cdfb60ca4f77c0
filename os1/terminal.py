"""``os1 chat`` in a terminal, or fed one message per line on standard input.

Interactive: a prompt, replies streamed as they are written (lines broken between words at the
terminal's width), ``/quit`` (or Ctrl-C, or Ctrl-D) at the prompt to leave. A line that starts
with ``/`` is a command: an unknown one is refused, never sent or stored; ``//`` at the start
sends the rest as a message beginning with ``/``. Piped (stdin not a terminal): each line is
one message, each reply is printed on one line of stdout (its line breaks become spaces), notes
and errors go to stderr, and the program exits at end of input. A line that is not valid UTF-8,
holds binary data or is too long stops the run with a one-line error (exit 2); what came before
it is kept whole, and nothing of it is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import BinaryIO

from rich.cells import cell_len
from rich.console import Console

from os1.errors import LLMError, UserInputError
from os1.federation import consult as three
from os1.federation.errors import PeerError
from os1.federation.peers import get_peer, list_peers
from os1.memory import presence
from os1.mind.conversation import Session, brain_notice
from os1.runtime import Runtime

QUIT = {"/quit", "/exit", "/bye"}
COMMANDS = QUIT | {"/help", "/status"}


def _help(name: str) -> str:
    return (
        f"Type a message and press Enter. /quit (or Ctrl-C) leaves; /status shows who {name} "
        "is talking with; start a message with // to begin it with /."
    )


async def _say(session: Session, text: str, out: Console | None, name: str) -> bool:
    """Send one message and print the reply as it streams; False if the model failed.
    ``ask PEER ...`` (or ``consult``, ``introduce me to``) naming a known peer consults it."""
    request = await _consultation(session, text)
    if request is not None:
        return await _consult(session, text, request, out, name)
    lines = _said_by(name, out) if out is not None else None
    try:
        async for piece in session.reply(text):
            if lines is not None:
                lines.write(piece)
            else:
                _write(_one_line(piece), out)
    except LLMError as exc:
        _end(lines, out)
        _error(f"the language model failed: {exc} (your message is saved)")
        return False
    except BaseException:  # Ctrl-C, say: what was written so far stays on the screen
        if lines is not None:
            lines.flush()
        raise
    _end(lines, out)
    return True


def _end(lines: _Wrapped | None, out: Console | None) -> None:
    """End a reply's line (showing its last word, if it is still held)."""
    if lines is not None:
        lines.write("\n")
    else:
        _write("\n", out)


async def _consultation(session: Session, text: str) -> three.Request | None:
    known = [p.name for p in await list_peers(session.mind.store.engine)]
    return three.parse(text, known) if known else None


async def _consult(
    session: Session, text: str, request: three.Request, out: Console | None, name: str
) -> bool:
    """A three-way talk: the peer's answer, then the mind's words on it. Piped, the mind's
    words are the line printed for the message, and the peer's answer is a note."""
    peer = await get_peer(session.mind.store.engine, request.peer)
    wait = session.mind.settings.a2a_timeout
    try:
        result = await three.consult(session, peer, text, request, wait=wait)
    except PeerError as exc:
        _error(f"{exc} (your message is saved)")
        return True
    except LLMError as exc:
        _error(f"the language model failed: {exc} (your message is saved)")
        return False
    if out is not None:
        _said_by(peer.name, out, "green").write(result.answer.content + "\n")
        if result.reply:
            _said_by(name, out).write(result.reply + "\n")
    else:
        _note(f"{peer.name} said: {_one_line(result.answer.content)}", out)
        _write(_one_line(result.reply) + "\n", out)
    return True


def _one_line(piece: str) -> str:
    """Piped replies stay on one line each, so a reader can pair replies with messages."""
    return piece.replace("\r", " ").replace("\n", " ")


#: Spaces that join what is either side of them ("100 km" with a no-break space).
NO_BREAK = frozenset("\u00a0\u2007\u202f")
#: Columns between tab stops.
TAB = 8


class _Wrapped:
    """Writes text to the terminal as it streams, breaking lines between words where the next
    word would run past the terminal's width (a word longer than a whole line is left to the
    terminal). A word shows once the space after it has come."""

    def __init__(self, out: Console, column: int) -> None:
        self.out, self.column, self.word = out, column, ""
        #: The line was broken here, not by the text: spaces that follow are dropped.
        self.broken = False

    def write(self, piece: str) -> None:
        shown: list[str] = []
        for char in piece:
            if not char.isspace() or char in NO_BREAK:
                self.word += char
                continue
            shown.append(self._word())
            if char == "\n":
                if not (self.broken and self.column == 0):  # else the line has just ended
                    shown.append("\n")
                self.column, self.broken = 0, False
                continue
            if self.broken and self.column == 0:
                continue
            gap = " " * (TAB - self.column % TAB) if char == "\t" else char
            if self.column + cell_len(gap) >= self.out.width:
                shown.append("\n")  # the space at the line's end becomes its break
                self.column, self.broken = 0, True
            else:
                shown.append(gap)
                self.column += cell_len(gap)
        _write("".join(shown), self.out)

    def flush(self) -> None:
        """Show the word held back, if any (the reply stopped before its end)."""
        _write(self._word(), self.out)

    def _word(self) -> str:
        word, self.word = self.word, ""
        if not word:
            return ""
        size = cell_len(word)
        if self.column > 0 and self.column + size > self.out.width:
            self.column, self.broken = size, False
            return "\n" + word
        self.column += size
        self.broken = False
        return word


def _said_by(name: str, out: Console, colour: str = "magenta") -> _Wrapped:
    """Prints ``name:``; what it says is then written with :meth:`_Wrapped.write`."""
    out.print(f"[bold {colour}]{name}:[/] ", end="")
    return _Wrapped(out, cell_len(name) + 2)


def _write(text: str, out: Console | None) -> None:
    if out is not None:
        out.print(text, end="", markup=False, highlight=False, emoji=False, soft_wrap=True)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def _note(message: str, out: Console | None) -> None:
    if out is not None:
        out.print(f"[dim]{message}[/]")
    else:
        sys.stderr.write(f"note: {message}\n")


async def run_chat(runtime: Runtime, person: str, *, interview: bool | None) -> int:
    """Run a chat; returns the exit code."""
    interactive = sys.stdin.isatty()
    out = Console(highlight=False) if interactive else None
    chosen_offline = runtime.settings.brain == "offline"
    notice = brain_notice(runtime.llm.describe() if runtime.llm else None, chosen_offline)
    if notice:
        _note(notice, out)
    if not interactive:
        interview = False  # scripted input is not someone answering questions
    async with await runtime.mind.open(person, interview=interview) as session:
        name = runtime.mind.spec.name
        opening = await session.opening()
        if opening:
            if out is not None:
                _said_by(name, out).write(opening + "\n")
            else:
                _write(opening + "\n", out)
        session_status = _status_line(runtime)
        if interactive:
            assert out is not None
            return await _interactive(session, out, name, session_status)
        return await _piped(session, sys.stdin.buffer, name)


def _status_line(runtime: Runtime) -> Callable[[], Awaitable[str]]:
    async def status() -> str:
        now = await presence.current(runtime.store.engine)
        info = runtime.llm.describe() if runtime.llm else None
        brain = f"{info.kind} model {info.model}" if info else "offline (no language model)"
        counts = presence.counted(runtime.settings.presence_window)
        return (
            f"{runtime.mind.spec.name} is in {now.phrase()} right now ({counts}). Brain: {brain}."
        )

    return status


async def _interactive(
    session: Session, out: Console, name: str, status: Callable[[], Awaitable[str]]
) -> int:
    out.print(f"[dim]{_help(name)}[/]")
    while True:
        try:
            line = await _typed(out, "[bold cyan]you>[/] ")
        except (EOFError, KeyboardInterrupt, asyncio.CancelledError):
            # Ctrl-D, or Ctrl-C (which asyncio turns into cancelling the chat): leave.
            out.print()
            return 0
        text = line.strip()
        if not text:
            continue
        if text.startswith("//"):
            line = line.lstrip()[1:]
        elif text.startswith("/"):
            if text in QUIT:
                return 0
            await _command(text, out, name, status)
            continue
        try:
            await _say(session, line, out, name)
        except UserInputError as exc:
            _error(str(exc))


async def _command(
    text: str, out: Console, name: str, status: Callable[[], Awaitable[str]]
) -> None:
    """Run a ``/command`` typed at the prompt. None takes arguments; a mistyped one is refused
    (and neither sent nor stored, so it cannot become an answer to the interview)."""
    command, *rest = text.split()
    if command not in COMMANDS:
        _error(f"unknown command {command}; /help lists them (start with // to send it)")
    elif rest:
        _error(f"{command} takes nothing after it")
    elif command == "/help":
        out.print(f"[dim]{_help(name)}[/]")
    elif command == "/status":
        out.print(f"[dim]{await status()}[/]")


async def _typed(out: Console, prompt: str) -> str:
    """A line typed at the prompt, read in a daemon thread of its own. asyncio's default
    thread pool would not do: at exit it waits for its threads, and one blocked in ``input()``
    kept the program alive after Ctrl-C until Enter was pressed."""
    loop = asyncio.get_running_loop()
    typed: asyncio.Future[str] = loop.create_future()

    def settle(line: str | None, error: BaseException | None) -> None:
        if typed.done():
            return
        if error is not None:
            typed.set_exception(error)
        else:
            typed.set_result(line or "")

    def read() -> None:
        line, error = None, None
        try:
            line = out.input(prompt)
        except BaseException as exc:  # EOFError at Ctrl-D, above all
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: the chat has ended
            loop.call_soon_threadsafe(settle, line, error)

    threading.Thread(target=read, name="os1-prompt", daemon=True).start()
    return await typed


async def _piped(session: Session, stream: BinaryIO, name: str) -> int:
    code = 0
    number = 0
    while True:
        raw = await asyncio.to_thread(stream.readline)
        if not raw:
            return code
        number += 1
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            _error(f"line {number}: not valid UTF-8; nothing of it was stored")
            return 2
        if not text.strip():
            continue
        try:
            ok = await _say(session, text, None, name)
        except UserInputError as exc:
            _error(f"line {number}: {exc}; nothing of it was stored")
            return 2
        if not ok:
            code = 4
