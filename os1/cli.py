"""The ``os1`` command. With no subcommand it starts a chat.

Every command prints a one-line ``error: ...`` on failure and exits with the error's code:
2 bad input or settings, 3 not found, 4 language model failure, 1 anything else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from typer._click.exceptions import UsageError  # typer's own copy of click's, which it raises

from os1.cli_base import JsonOpt, PersonOpt, app, default_person, load_cli_settings, run_async
from os1.cli_hand import hand_app
from os1.cli_letters import letters_app
from os1.cli_memories import facts_app, memories_app, profile
from os1.cli_peers import peer_app
from os1.cli_people import person_app
from os1.cli_voice import talk
from os1.errors import NotFoundError, OS1Error, UserInputError
from os1.memory import presence
from os1.memory.db import one_line
from os1.memory.importer import MAX_LABEL, file_label, parse_jsonl, plain_text
from os1.memory.models import RecallItem
from os1.mind.persona import builtin_minds, mind_source, user_minds
from os1.runtime import open_runtime, open_store

MAX_IMPORT_BYTES = 512 * 1024 * 1024


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        ctx.invoke(chat)


@app.command()
def chat(
    person: Annotated[
        str | None, typer.Option("--person", "-p", help="Who is talking (default: your login).")
    ] = None,
    skip_interview: Annotated[
        bool, typer.Option("--skip-interview", help="Skip the first-run setup interview.")
    ] = False,
) -> None:
    """Talk with the mind. Reads one message per line when stdin is not a terminal."""
    from os1.terminal import run_chat

    settings = load_cli_settings()

    async def go() -> int:
        async with open_runtime(settings) as runtime:
            return await run_chat(
                runtime,
                default_person() if person is None else person,
                interview=False if skip_interview else None,
            )

    raise typer.Exit(run_async(go()))


@app.command()
def people(as_json: JsonOpt = False) -> None:
    """List the people the mind knows, with how well it knows each."""
    settings = load_cli_settings()

    async def go() -> list[dict[str, Any]]:
        async with open_store(settings) as store:
            return [asdict(await store.relationship(p)) for p in await store.list_people()]

    rows = run_async(go())
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("person", overflow="fold", max_width=16)
    for name in ("first met", "last seen"):
        table.add_column(name, no_wrap=True, min_width=10)
    for name in ("talks", "turns", "days"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("closeness", overflow="fold", min_width=12)
    for r in rows:
        table.add_row(
            r["person"],
            f"{r['first_met']:%Y-%m-%d}" if r["first_met"] else "-",
            f"{r['last_seen']:%Y-%m-%d}" if r["last_seen"] else "-",
            str(r["conversations"]),
            str(r["turns"]),
            str(r["days_active"]),
            f"{r['closeness']:.2f} {r['closeness_label']}",
        )
    if rows:
        Console().print(table)
        typer.echo("talks: conversations; days: days with at least one turn")
    else:
        typer.echo("Nobody yet. Start with: os1 chat --person NAME")


@app.command("relationship")
def relationship_cmd(person: PersonOpt, as_json: JsonOpt = False) -> None:
    """How well the mind knows the person, and how close they are."""
    settings = load_cli_settings()

    async def go() -> dict[str, Any]:
        async with open_store(settings) as store:
            return asdict(await store.relationship(await store.get_person(person)))

    rel = run_async(go())
    if as_json:
        typer.echo(json.dumps(rel, default=str, indent=2))
        return
    for key, value in rel.items():
        if isinstance(value, datetime):
            value = f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        elif isinstance(value, float):
            value = f"{value:.2f}"
        typer.echo(f"{key.replace('_', ' ')}: {value}")


@app.command("import")
def import_cmd(
    person: PersonOpt,
    file: Annotated[
        Path, typer.Argument(help="JSON Lines file, one turn per line; - reads stdin.")
    ],
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            help="Conversation for the lines without a session (default: the file's name; "
            "needed when reading stdin or a pipe).",
        ),
    ] = None,
) -> None:
    """Import a conversation history (idempotent by each line's id)."""
    settings = load_cli_settings()
    if session is not None:
        session = _session_label(session)
    stdin = str(file) == "-"
    data = _read_stdin() if stdin else _read_file(file)
    if session is None and not stdin and file.is_file():  # a pipe has no name to give
        session = file_label(str(file))
    batch = parse_jsonl(data, "stdin" if stdin else str(file), settings.max_message_chars, session)

    async def go() -> str:
        async with open_store(settings) as store:
            try:
                who, new = await store.get_person(person), ""
            except NotFoundError:
                who, new = await store.ensure_person(person), ", a new person"
            result = await store.import_turns(who, batch)
        return (
            f"imported {_count(result.imported, 'turn')} for {who.name}{new} "
            f"({result.skipped_existing} already known, "
            f"{_count(len(result.sessions), 'session')})"
        )

    typer.echo(run_async(go()))


def _session_label(label: str) -> str:
    if not label.strip() or len(label) > MAX_LABEL:
        raise UserInputError(f"--session: give a name of 1 to {MAX_LABEL} characters")
    try:
        return plain_text(label)
    except ValueError as exc:
        raise UserInputError(f"--session: {exc}") from exc


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _read_stdin() -> bytes:
    data = _stdin("the history, one turn a line,").buffer.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise UserInputError(f"stdin: larger than {MAX_IMPORT_BYTES // 2**20} MiB")
    return data


def _read_file(file: Path) -> bytes:
    """At most the limit and a byte: a device or a pipe has no size to look at first."""
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise UserInputError(f"{file}: larger than {MAX_IMPORT_BYTES // 2**20} MiB")
        return data
    except FileNotFoundError as exc:
        raise UserInputError(f"{file}: no such file") from exc
    except IsADirectoryError as exc:
        raise UserInputError(f"{file}: is a folder, not a file") from exc
    except OSError as exc:
        raise UserInputError(f"{file}: cannot read it ({exc.strerror})") from exc


def _recall_json(item: RecallItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "text": item.text,
        "time": item.time.isoformat(),
        "score": item.score,
        "source_ids": item.source_ids,
        "role": item.role,
        "speaker": item.speaker,
    }


@app.command()
def recall(
    person: PersonOpt,
    query: Annotated[
        str,
        typer.Argument(help="What to remember; - reads one query a line from stdin."),
    ],
    k: Annotated[int, typer.Option("--k", min=1, max=1000, help="How many items.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Show what the mind recalls about QUERY for the person, best first.

    With - as QUERY, each line of stdin is a query, answered as it comes, in one process: the
    embedding model and the person's index load once. With --json, each answer is one line
    (JSON Lines), and a query that cannot be asked gets `{"error": "..."}` on its line."""
    settings = load_cli_settings()
    if query != "-":
        _check_query(query, settings.max_message_chars)

    async def go() -> int:
        async with open_store(settings) as store:
            who = await store.get_person(person)
            if query != "-":
                _show_recalled(await store.recall(who, query, k), as_json)
                return 0
            refused = answered = 0
            for line in _stdin_lines(settings.max_message_chars):
                try:
                    _check_query(line, settings.max_message_chars)
                except UserInputError as exc:
                    refused += 1
                    if as_json:
                        typer.echo(json.dumps({"error": str(exc)}, ensure_ascii=False))
                    else:
                        typer.echo(f"error: {exc}", err=True)
                    continue
                _show_recalled(await store.recall(who, line, k), as_json, after=answered > 0)
                answered += 1
            return refused

    refused = run_async(go())
    if refused:
        raise UserInputError(f"{refused} quer{'y' if refused == 1 else 'ies'} could not be asked")


def _check_query(query: str, limit: int) -> None:
    if not query.strip():
        raise UserInputError("say what to recall: the query is empty")
    if len(query) > limit:
        raise UserInputError(f"the query is longer than {limit:,} characters")


def _stdin_lines(limit: int) -> Iterator[str]:
    """stdin's lines (ended by a newline alone, a CR before it dropped), as they come; bytes
    that are not UTF-8 become U+FFFD. A line longer than ``limit`` characters is not held
    whole: what comes of it is past the limit, for the caller to refuse, and the rest of it is
    skipped."""
    reader = _stdin("the queries, one a line,").buffer
    most = 4 * limit + 3  # bytes: four at most a character, and the line's end
    first = True
    while line := reader.readline(most):
        if not line.endswith(b"\n") and len(line) == most:
            while (rest := reader.readline(2**16)) and not rest.endswith(b"\n"):
                pass
        if first and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        first = False
        yield line.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8", "replace")


def _stdin(what: str) -> TextIO:
    """stdin, or a clear error where there is none (closed, as with ``<&-``)."""
    if sys.stdin is None:
        raise UserInputError(f"stdin is closed: give {what} on stdin")
    return sys.stdin


def _show_recalled(items: list[RecallItem], as_json: bool, *, after: bool = False) -> None:
    """One answer: a line of JSON, or a line an item (a blank line before it when ``after``
    another answer)."""
    if after and not as_json:
        typer.echo()
    if as_json:
        typer.echo(json.dumps([_recall_json(i) for i in items], ensure_ascii=False))
        return
    for item in items:
        who = item.speaker or item.role
        typer.echo(f"{item.score:.4f}  [{item.time:%Y-%m-%d %H:%M}] {who}: {item.text}")
    if not items:
        typer.echo("Nothing remembered about that.")


@app.command()
def reindex(
    person: Annotated[
        str | None,
        typer.Option("--person", "-p", help="Only this person (default: everyone)."),
    ] = None,
) -> None:
    """Embed the turns that lack a vector from the current embedder.

    That is, after changing OS1_EMBEDDER, after importing with OS1_EMBEDDER=none, and for
    vectors made before long turns were embedded in parts."""
    settings = load_cli_settings()

    async def go() -> list[tuple[str, int]]:
        async with open_store(settings) as store:
            if store.embedder is None:
                raise UserInputError("OS1_EMBEDDER is none: there is no embedder to index with")
            chosen = [await store.get_person(person)] if person else await store.list_people()
            return [(p.name, await store.reembed(p)) for p in chosen]

    done = run_async(go())
    for name, count in done:
        typer.echo(f"{name}: embedded {count:,} turn(s)")
    if not done:
        typer.echo("Nobody to index.")


@app.command()
def export(
    person: PersonOpt,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Everything stored about the person, as JSON."""
    settings = load_cli_settings()

    async def go() -> dict[str, Any]:
        async with open_store(settings) as store:
            return await store.export(await store.get_person(person))

    text = json.dumps(run_async(go()), ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot write {output}: {exc.strerror}") from exc


@app.command()
def forget(
    person: PersonOpt,
    query: Annotated[
        str | None, typer.Argument(help="Forget the turns that contain all these words.")
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="Forget everything.")] = False,
) -> None:
    """Delete matching turns and all that was drawn from them (index, embeddings, facts)."""
    if everything == (query is not None):
        raise UserInputError("give either a QUERY or --all")
    settings = load_cli_settings()

    async def go() -> int:
        async with open_store(settings) as store:
            return await store.forget(await store.get_person(person), None if everything else query)

    count = run_async(go())
    typer.echo(f"forgot {count} turn{'s' if count != 1 else ''} and everything drawn from them")


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Which brain answers, where memory lives, and who is talking right now."""
    settings = load_cli_settings()

    async def go() -> dict[str, Any]:
        async with open_runtime(settings) as runtime:
            info = runtime.llm.describe() if runtime.llm else None
            now = await presence.current(runtime.store.engine)
            return {
                "mind": runtime.mind.spec.name,
                "brain": asdict(info) if info else {"kind": "offline"},
                "database": runtime.store.engine.url.render_as_string(hide_password=True),
                "people": len(await runtime.store.list_people()),
                "conversations_now": now.conversations,
                "people_now": now.people,
            }

    result = run_async(go())
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    brain = result["brain"]
    now = presence.Presence(result["conversations_now"], result["people_now"])
    lines = [
        f"mind: {result['mind']}",
        f"brain: {_brain_line(brain)}",
        f"database: {result['database']}",
        f"people known: {result['people']}",
        f"right now: {now.phrase()} ({presence.counted(settings.presence_window)})",
    ]
    typer.echo("\n".join(lines))


def _brain_line(brain: dict[str, Any]) -> str:
    if brain["kind"] == "offline":
        return "offline (no language model: memory only)"
    small = " (a very small model: it mixes up facts)" if brain.get("small") else ""
    return f"{brain['kind']} model {brain['model']}{small}"


@app.command()
def minds(show: Annotated[str | None, typer.Option(help="Print this mind's file.")] = None) -> None:
    """List the minds, or print one's definition file to copy and change."""
    settings = load_cli_settings()
    if show:
        where, text = mind_source(show, settings.minds_dir)
        typer.echo(f"# {where}\n{text}")
        return
    for name in builtin_minds():
        typer.echo(f"{name} (built-in)")
    for name in user_minds(settings.minds_dir):
        typer.echo(f"{name} ({settings.minds_dir / (name + '.toml')})")


def main() -> None:
    """Entry point: run the app, turning OS1's errors, and mistakes in the command line, into
    one line and an exit code."""
    try:
        code = app(standalone_mode=False)
    except UsageError as exc:  # a missing or unknown option, a bad value
        help_hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        sys.stderr.write(f"error: {exc.format_message()}{help_hint}\n")
        sys.exit(UserInputError.exit_code)
    except typer.Abort:  # Ctrl-C or end of input at a prompt
        sys.stderr.write("\nstopped\n")
        sys.exit(1)
    except OS1Error as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except SQLAlchemyError as exc:  # the database itself: locked past the wait, gone, full
        sys.stderr.write(f"error: the database: {one_line(exc)}\n")
        sys.exit(1)
    except OSError as exc:  # a file to write that cannot be: a folder, no room, no right
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"error: {where}{exc.strerror or exc}\n")
        sys.exit(UserInputError.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


app.add_typer(person_app, name="person")
app.add_typer(memories_app, name="memories")
app.add_typer(facts_app, name="facts")
app.add_typer(hand_app, name="hand")
app.add_typer(letters_app, name="letters")
app.add_typer(peer_app, name="peer")
app.command("profile")(profile)
app.command("talk")(talk)


@app.command()
def up(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: OS1_HOST, or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port (default: OS1_PORT, or 8316)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="Server processes on the port, one per core (needs PostgreSQL and Redis; "
            "default: OS1_WORKERS, or 1).",
        ),
    ] = None,
    worker: Annotated[bool, typer.Option("--worker", hidden=True)] = False,
) -> None:
    """Start the server: OpenAI-compatible and native HTTP APIs, and WebSockets."""
    from os1.server.serve import serve

    settings = load_cli_settings(server=True)
    settings = settings.model_copy(
        update={
            "host": host or settings.host,
            "port": settings.port if port is None else port,
            "workers": workers or settings.workers,
        }
    )
    if settings.workers > 1 and not worker:
        from os1.server.workers import supervise

        raise typer.Exit(supervise(settings))
    raise typer.Exit(run_async(serve(settings, worker=worker), fast_loop=True))
