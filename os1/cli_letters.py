"""``os1 letters ...``: the letters studio from the command line.

A writer (``--writer``, default: your login) keeps clients, each client's correspondents, their
occasions and the names, places and history their letters mention; writes letters in versions
(typed, dictated, or drafted by the mind from notes), compares and approves them, marks them
sent, renders them in the client's hand and gathers them into a book. ``os1.cli`` registers it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from os1.cli_base import JsonOpt, default_person, load_cli_settings, read_text, run_async
from os1.errors import ConfigError, LLMError, NotFoundError, UserInputError
from os1.handwriting import need_hand_extra
from os1.letters import checks
from os1.letters.checks import MAX_TEXT
from os1.letters.models import ClientEdit, Correspondence, Letter, LetterDoc, Mention, Version
from os1.memory.models import Person
from os1.mind.llm import LLM
from os1.runtime import open_store
from os1.settings import Settings
from os1.voice import need_voice_extra

if TYPE_CHECKING:  # loaded by the commands that use them, so that others start sooner
    from os1.letters.studio import Studio
    from os1.voice.audio import Samples

T = TypeVar("T")
P = TypeVar("P")

letters_app = typer.Typer(
    help="The letters studio: clients, correspondences, letters in versions, paper and books.",
    no_args_is_help=True,
)
client_app = typer.Typer(help="The writer's clients and their voice.", no_args_is_help=True)
correspondent_app = typer.Typer(help="A client's correspondents.", no_args_is_help=True)
occasion_app = typer.Typer(help="Anniversaries, birthdays and other dates.", no_args_is_help=True)
mention_app = typer.Typer(
    help="Names, places and shared history to remember.", no_args_is_help=True
)
version_app = typer.Typer(help="A letter's versions.", no_args_is_help=True)
letters_app.add_typer(client_app, name="client")
letters_app.add_typer(correspondent_app, name="correspondent")
letters_app.add_typer(occasion_app, name="occasion")
letters_app.add_typer(mention_app, name="mention")
letters_app.add_typer(version_app, name="version")

WriterOpt = Annotated[
    str | None, typer.Option("--writer", "-w", help="The writer (default: your login).")
]
ClientArg = Annotated[str, typer.Argument(help="The client's name.")]
ToArg = Annotated[str, typer.Argument(help="The correspondent's name.")]
LetterArg = Annotated[int, typer.Argument(help="The letter's id (see `os1 letters list`).")]
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Read the text from this file ('-' or none: stdin)."),
]
DictatedOpt = Annotated[bool, typer.Option("--dictated", help="The text was dictated.")]
RecordingOpt = Annotated[
    Path | None,
    typer.Option(
        "--in", help="A WAV recording of the letter read aloud: its words become the text."
    ),
]
_DATE = re.compile(r"^(?:(\d{4})-)?(\d{1,2})-(\d{1,2})$")


def studio_run(
    writer: str | None,
    work: Callable[[Studio, Person], Awaitable[T]],
    *,
    create: bool = False,
    settings: Settings | None = None,
) -> T:
    """Run ``work`` on the writer's studio. ``create`` makes the writer an OS1 person when
    they are not one yet (adding a client); otherwise an unknown writer is an error."""
    settings = settings or load_cli_settings()

    async def go() -> T:
        async with open_store(settings) as store:
            name = writer or default_person()
            try:
                person = await (store.ensure_person(name) if create else store.get_person(name))
            except NotFoundError as exc:
                if writer is not None:
                    raise
                raise NotFoundError(
                    f"no letters yet: nobody named {name!r} (your login, the default writer) "
                    "writes here; start with 'os1 letters client add NAME', or name the writer "
                    "with --writer"
                ) from exc
            from os1.letters.studio import Studio

            return await work(Studio(store.engine), person)

    return run_async(go())


def with_brain(
    writer: str | None,
    check: Callable[[Studio, Person], Awaitable[P]],
    work: Callable[[Studio, Person, P, LLM | None], Awaitable[T]],
    *,
    optional: bool = False,
) -> T:
    """As :func:`studio_run`, with the language model the settings choose (or None). ``check``
    runs first, before the model is loaded: a missing letter fails at once and no model waits
    on it; what it returns is handed to ``work``. With ``optional`` (work that can do without
    a model), a model that cannot be had (ConfigError, LLMError) is None rather than an error."""
    settings = load_cli_settings()

    async def go(studio: Studio, person: Person) -> T:
        from os1.mind.brains import choose_brain

        checked = await check(studio, person)
        try:
            llm = await choose_brain(settings)
        except (ConfigError, LLMError):
            if not optional:
                raise
            llm = None
        try:
            return await work(studio, person, checked, llm)
        finally:
            if llm is not None:
                await llm.aclose()

    return studio_run(writer, go, settings=settings)


def with_ears(
    writer: str | None,
    recording: Path,
    check: Callable[[Studio, Person], Awaitable[P]],
    work: Callable[[Studio, Person, P, str], Awaitable[T]],
) -> T:
    """As :func:`studio_run`, for a letter dictated in ``recording``: the audio is read and
    ``check`` runs before speech recognition is loaded; ``work`` is given the words heard."""
    from os1.letters import dictation
    from os1.voice.kit import STT_BACKENDS

    settings = load_cli_settings()
    need_voice_extra(settings.voice_stt)
    samples = dictation.recording(recording, str(recording))

    async def go(studio: Studio, person: Person) -> T:
        checked = await check(studio, person)
        stt = await asyncio.to_thread(STT_BACKENDS[settings.voice_stt], settings.voice_threads or 0)

        async def hear(piece: Samples) -> str:
            return await asyncio.to_thread(stt.transcribe, piece)

        text = await dictation.transcribe(samples, hear, str(recording))
        return await work(studio, person, checked, text)

    return studio_run(writer, go, settings=settings)


def parse_date(value: str) -> tuple[int | None, int, int]:
    """``YYYY-MM-DD`` or ``MM-DD``, as (year or None, month, day); the calendar checks come
    later."""
    found = _DATE.match(value.strip())
    if found is None:
        raise UserInputError(f"not a date: {value!r} (use YYYY-MM-DD, or MM-DD for any year)")
    year, month, day = found.groups()
    return (int(year) if year else None), int(month), int(day)


def full_date(value: str | None) -> date | None:
    if value is None:
        return None
    year, month, day = parse_date(value)
    if year is None:
        raise UserInputError(f"not a full date: {value!r} (use YYYY-MM-DD)")
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise UserInputError(f"not a date: {value!r} (use YYYY-MM-DD)") from exc


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, ensure_ascii=False, indent=2))


def _where(to: Correspondence) -> str:
    return f"{to.client} → {to.name}"


# -- clients --------------------------------------------------------------------------------
@client_app.command("add")
def client_add(
    name: ClientArg,
    writer: WriterOpt = None,
    hand: Annotated[str | None, typer.Option(help="A learned hand (os1 hand learn).")] = None,
    stock_hand: Annotated[
        str | None, typer.Option("--stock-hand", help="Stock hand until one is learned.")
    ] = None,
    address: Annotated[
        list[str] | None, typer.Option("--address", help="Their address line (repeatable).")
    ] = None,
    phrase: Annotated[
        list[str] | None, typer.Option("--phrase", help="A phrase they use (repeatable).")
    ] = None,
    never: Annotated[
        list[str] | None, typer.Option("--never", help="Something they never say (repeatable).")
    ] = None,
    notes: Annotated[str, typer.Option(help="Notes about the client.")] = "",
) -> None:
    """Add a client, with their voice and hand."""
    made = studio_run(
        writer,
        lambda s, w: s.add_client(
            w,
            name,
            hand=hand,
            stock_hand=stock_hand,
            address=address or (),
            phrases=phrase or (),
            never_say=never or (),
            notes=notes,
        ),
        create=True,
    )
    typer.echo(f"added client {made.name}")


@client_app.command("list")
def client_list(writer: WriterOpt = None, as_json: JsonOpt = False) -> None:
    """The writer's clients."""
    found = studio_run(writer, lambda s, w: s.list_clients(w))
    if as_json:
        echo_json([asdict(c) for c in found])
        return
    for c in found:
        typer.echo(f"{c.name}\thand: {c.hand or c.stock_hand or '-'}")
    if not found:
        typer.echo("No clients yet. Add one with: os1 letters client add NAME")


@client_app.command("show")
def client_show(name: ClientArg, writer: WriterOpt = None, as_json: JsonOpt = False) -> None:
    """A client, their voice and their correspondents."""

    async def go(s: Studio, w: Person) -> dict[str, Any]:
        client = await s.get_client(w, name)
        return asdict(client) | {
            "correspondents": [asdict(c) for c in await s.list_correspondences(w, client.name)]
        }

    shown = studio_run(writer, go)
    if as_json:
        echo_json(shown)
        return
    typer.echo(shown["name"])
    typer.echo(f"hand: {shown['hand'] or '-'}  stock hand: {shown['stock_hand'] or '-'}")
    typer.echo("phrases: " + ("; ".join(shown["phrases"]) or "-"))
    typer.echo("never says: " + ("; ".join(shown["never_say"]) or "-"))
    if shown["notes"]:
        typer.echo(f"notes: {shown['notes']}")
    for c in shown["correspondents"]:
        relation = f" ({c['relation']})" if c["relation"] else ""
        typer.echo(f"  {c['id']}\t{c['name']}{relation}")


@client_app.command("edit")
def client_edit(
    name: ClientArg,
    writer: WriterOpt = None,
    new_name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    hand: Annotated[str | None, typer.Option(help="A learned hand ('' clears it).")] = None,
    stock_hand: Annotated[str | None, typer.Option("--stock-hand", help="A stock hand.")] = None,
    address: Annotated[
        list[str] | None, typer.Option("--address", help="Replace their address lines.")
    ] = None,
    phrase: Annotated[
        list[str] | None, typer.Option("--phrase", help="Replace the phrases (repeatable).")
    ] = None,
    never: Annotated[
        list[str] | None, typer.Option("--never", help="Replace what they never say.")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Replace the notes.")] = None,
) -> None:
    """Change a client: only the fields given change."""
    edit = ClientEdit(
        name=new_name,
        hand=hand,
        stock_hand=stock_hand,
        address=tuple(address) if address else None,
        phrases=tuple(phrase) if phrase else None,
        never_say=tuple(never) if never else None,
        notes=notes,
    )
    done = studio_run(writer, lambda s, w: s.edit_client(w, name, edit))
    typer.echo(f"updated client {done.name}")


@client_app.command("remove")
def client_remove(
    name: ClientArg,
    writer: WriterOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a client with all their correspondences and letters."""
    if not yes:
        typer.confirm(f"Remove {name} with every letter written for them?", abort=True)
    studio_run(writer, lambda s, w: s.remove_client(w, name))
    typer.echo(f"removed client {name}")


# -- correspondents -------------------------------------------------------------------------
@correspondent_app.command("add")
def correspondent_add(
    client: ClientArg,
    name: ToArg,
    writer: WriterOpt = None,
    address: Annotated[
        list[str] | None, typer.Option("--address", help="An address line (repeatable).")
    ] = None,
    relation: Annotated[str, typer.Option(help="Who they are to the client.")] = "",
    notes: Annotated[str, typer.Option(help="Notes about them.")] = "",
    since: Annotated[str | None, typer.Option(help="Writing since (YYYY-MM-DD).")] = None,
) -> None:
    """Add a correspondent of the client's."""
    began = full_date(since)
    made = studio_run(
        writer,
        lambda s, w: s.add_correspondence(
            w, client, name, address=address or (), relation=relation, notes=notes, since=began
        ),
    )
    typer.echo(f"added correspondence {made.id}: {_where(made)}")


@correspondent_app.command("list")
def correspondent_list(
    client: Annotated[str | None, typer.Argument(help="Only this client's.")] = None,
    writer: WriterOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The writer's correspondences, or one client's."""
    found = studio_run(writer, lambda s, w: s.list_correspondences(w, client))
    if as_json:
        echo_json([asdict(c) for c in found])
        return
    for c in found:
        typer.echo(f"{c.id}\t{_where(c)}\t{c.relation or '-'}")
    if not found:
        typer.echo("No correspondents yet.")


@correspondent_app.command("remove")
def correspondent_remove(
    client: ClientArg,
    name: ToArg,
    writer: WriterOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a correspondence with its letters, occasions and mentions."""
    if not yes:
        typer.confirm(f"Remove {client}'s letters to {name}?", abort=True)

    async def go(s: Studio, w: Person) -> None:
        await s.remove_correspondence(w, (await s.find_correspondence(w, client, name)).id)

    studio_run(writer, go)
    typer.echo(f"removed {client} → {name}")


# -- occasions and mentions -----------------------------------------------------------------
@occasion_app.command("add")
def occasion_add(
    client: ClientArg,
    name: ToArg,
    on: Annotated[str, typer.Option("--date", help="MM-DD, or YYYY-MM-DD when it began.")],
    label: Annotated[str, typer.Option(help="What it is, e.g. 'Wedding anniversary'.")],
    kind: Annotated[str, typer.Option(help="anniversary, birthday or other.")] = "other",
    writer: WriterOpt = None,
) -> None:
    """Add an occasion that comes back each year."""
    year, month, day = parse_date(on)

    async def go(s: Studio, w: Person) -> int:
        to = await s.find_correspondence(w, client, name)
        return (await s.add_occasion(w, to.id, kind, label, month, day, year)).id

    typer.echo(f"added occasion {studio_run(writer, go)}")


@occasion_app.command("list")
def occasion_list(
    client: ClientArg, name: ToArg, writer: WriterOpt = None, as_json: JsonOpt = False
) -> None:
    """A correspondence's occasions."""

    async def go(s: Studio, w: Person) -> list[Any]:
        to = await s.find_correspondence(w, client, name)
        return await s.list_occasions(w, to.id)

    found = studio_run(writer, go)
    if as_json:
        echo_json([asdict(o) for o in found])
        return
    for o in found:
        since = f" since {o.year}" if o.year else ""
        typer.echo(f"{o.id}\t{o.month:02d}-{o.day:02d}\t{o.kind}\t{o.label}{since}")


@occasion_app.command("remove")
def occasion_remove(
    occasion_id: Annotated[int, typer.Argument(help="From `occasion list`.")],
    writer: WriterOpt = None,
) -> None:
    """Remove an occasion."""
    studio_run(writer, lambda s, w: s.remove_occasion(w, occasion_id))
    typer.echo(f"removed occasion {occasion_id}")


@mention_app.command("add")
def mention_add(
    client: ClientArg,
    name: ToArg,
    text: Annotated[str, typer.Argument(help="The name, place or memory.")],
    kind: Annotated[str, typer.Option(help="name, place or history.")] = "history",
    letter: Annotated[int | None, typer.Option(help="The letter it came from.")] = None,
    writer: WriterOpt = None,
) -> None:
    """Remember a name, place or piece of shared history in a correspondence."""

    async def go(s: Studio, w: Person) -> int:
        to = await s.find_correspondence(w, client, name)
        return (await s.add_mention(w, to.id, kind, text, letter)).id

    typer.echo(f"added mention {studio_run(writer, go)}")


@mention_app.command("list")
def mention_list(
    client: ClientArg, name: ToArg, writer: WriterOpt = None, as_json: JsonOpt = False
) -> None:
    """What a correspondence remembers."""

    async def go(s: Studio, w: Person) -> list[Any]:
        return await s.list_mentions(w, (await s.find_correspondence(w, client, name)).id)

    found = studio_run(writer, go)
    if as_json:
        echo_json([asdict(m) for m in found])
        return
    for m in found:
        source = f"\t(letter {m.letter_id})" if m.letter_id else ""
        typer.echo(f"{m.id}\t{m.kind}\t{m.text}{source}")


@mention_app.command("edit")
def mention_edit(
    mention_id: Annotated[int, typer.Argument(help="From `mention list`.")],
    text: Annotated[str | None, typer.Option(help="The new text.")] = None,
    kind: Annotated[str | None, typer.Option(help="name, place or history.")] = None,
    writer: WriterOpt = None,
) -> None:
    """Correct a mention, one drawn from a letter as any other."""
    done = studio_run(writer, lambda s, w: s.edit_mention(w, mention_id, text, kind))
    typer.echo(f"mention {done.id}\t{done.kind}\t{done.text}")


@mention_app.command("remove")
def mention_remove(
    mention_id: Annotated[int, typer.Argument(help="From `mention list`.")],
    writer: WriterOpt = None,
) -> None:
    """Forget a mention."""
    studio_run(writer, lambda s, w: s.remove_mention(w, mention_id))
    typer.echo(f"removed mention {mention_id}")


@letters_app.command("upcoming")
def upcoming(
    writer: WriterOpt = None,
    days: Annotated[int, typer.Option(help="How many days ahead (0-366).")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Occasions in the next DAYS days, soonest first."""
    found = studio_run(writer, lambda s, w: s.upcoming(w, days))
    if as_json:
        echo_json([asdict(u) for u in found])
        return
    for u in found:
        when = "today" if u.days == 0 else f"in {u.days} day{'s' if u.days != 1 else ''}"
        years = f" ({u.years} years)" if u.years else ""
        typer.echo(f"{u.on}\t{when}\t{u.client} → {u.correspondent}: {u.occasion.label}{years}")
    if not found:
        typer.echo(f"Nothing in the next {days} days.")


# -- letters and versions -------------------------------------------------------------------
def letter_json(letter: Letter) -> dict[str, Any]:
    return asdict(letter)


def version_json(version: Version) -> dict[str, Any]:
    return asdict(version)


@letters_app.command("new")
def new(
    client: ClientArg,
    name: ToArg,
    title: Annotated[str, typer.Option(help="The letter's title.")],
    writer: WriterOpt = None,
    file: FileOpt = None,
    dictated: DictatedOpt = False,
    recording: RecordingOpt = None,
    use_mind: Annotated[
        bool, typer.Option("--draft", help="Ask the mind to draft it from --notes.")
    ] = False,
    notes: Annotated[str | None, typer.Option(help="What the letter should say.")] = None,
) -> None:
    """Start a letter: typed (a file or stdin), read aloud (--in FILE.wav), or by the mind.

    A recording's words, as OS1's speech recognition hears them, are the first version."""
    if use_mind != (notes is not None):
        raise UserInputError("--draft and --notes go together: the mind drafts from notes")
    if use_mind and (file is not None or dictated or recording is not None):
        raise UserInputError("give either --draft with --notes, or the letter's text")
    if recording is not None and file is not None:
        raise UserInputError("give either --in (a recording) or --file (a text)")

    async def where(s: Studio, w: Person) -> Correspondence:
        checks.line(title, "the title")
        if notes is not None:
            checks.text(notes, "the notes", checks.MAX_NOTES)
        return await s.find_correspondence(w, client, name)

    async def drafted(
        s: Studio, w: Person, to: Correspondence, llm: LLM | None
    ) -> tuple[Letter, Version]:
        return await s.draft_letter(w, to.id, title, notes or "", llm)

    async def heard(s: Studio, w: Person, to: Correspondence, text: str) -> tuple[Letter, Version]:
        return await s.new_letter(w, to.id, title, text, "dictated")

    async def typed(s: Studio, w: Person) -> tuple[Letter, Version]:
        to = await s.find_correspondence(w, client, name)
        return await s.new_letter(w, to.id, title, text, "dictated" if dictated else "writer")

    if use_mind:
        letter, first = with_brain(writer, where, drafted)
    elif recording is not None:
        letter, first = with_ears(writer, recording, where, heard)
    else:
        text = read_text(file, most=MAX_TEXT, what="the letter")
        letter, first = studio_run(writer, typed)
    typer.echo(f"letter {letter.id}, version {first.number} ({first.source})")
    if first.source == "mind" or recording is not None:
        typer.echo(first.text, nl=False)


@letters_app.command("draft")
def draft(
    letter_id: LetterArg,
    notes: Annotated[str, typer.Option(help="What the letter should say.")],
    writer: WriterOpt = None,
) -> None:
    """A new version drafted by the mind from NOTES, in the client's voice."""

    async def check(s: Studio, w: Person) -> Letter:
        checks.text(notes, "the notes", checks.MAX_NOTES)
        return await s.open_letter(w, letter_id)

    made = with_brain(writer, check, lambda s, w, _letter, llm: s.draft(w, letter_id, notes, llm))
    typer.echo(f"letter {letter_id}, version {made.number} (mind)")
    typer.echo(made.text)


@letters_app.command("dictate")
def dictate(
    letter_id: LetterArg,
    recording: Annotated[
        Path, typer.Option("--in", help="A WAV recording of the letter read aloud.")
    ],
    writer: WriterOpt = None,
) -> None:
    """A new version read aloud: the words of a WAV recording (the `voice` extra).

    OS1's speech recognition hears the recording; its words are saved as a dictated version."""
    made = with_ears(
        writer,
        recording,
        lambda s, w: s.open_letter(w, letter_id),
        lambda s, w, _letter, text: s.add_version(w, letter_id, text, "dictated"),
    )
    typer.echo(f"letter {letter_id}, version {made.number} (dictated)")
    typer.echo(made.text, nl=False)


@version_app.command("add")
def version_add(
    letter_id: LetterArg,
    writer: WriterOpt = None,
    file: FileOpt = None,
    dictated: DictatedOpt = False,
) -> None:
    """A new version in the writer's words (a file or stdin)."""
    text = read_text(file, most=MAX_TEXT, what="the letter")
    made = studio_run(
        writer,
        lambda s, w: s.add_version(w, letter_id, text, "dictated" if dictated else "writer"),
    )
    typer.echo(f"letter {letter_id}, version {made.number} ({made.source})")


@letters_app.command("versions")
def versions(letter_id: LetterArg, writer: WriterOpt = None, as_json: JsonOpt = False) -> None:
    """A letter's versions, oldest first, with what each mind draft drew on."""
    found = studio_run(writer, lambda s, w: s.versions(w, letter_id))
    if as_json:
        echo_json([version_json(v) for v in found])
        return
    for v in found:
        used = ""
        if v.source == "mind":
            d = v.drew_on
            used = f"\tdrew on letters {list(d.letters)}, mentions {list(d.mentions)}"
        typer.echo(
            f"{v.number}\t{v.created_at:%Y-%m-%d %H:%M}\t{v.source}\t{len(v.text)} chars{used}"
        )


@letters_app.command("diff")
def diff(
    letter_id: LetterArg,
    a: Annotated[int, typer.Argument(help="The older version.")],
    b: Annotated[int, typer.Argument(help="The newer version.")],
    writer: WriterOpt = None,
) -> None:
    """A unified diff between two versions."""
    text = studio_run(writer, lambda s, w: s.diff(w, letter_id, a, b))
    typer.echo(text or f"versions {a} and {b} say the same", nl=not text)


@letters_app.command("approve")
def approve(
    letter_id: LetterArg,
    number: Annotated[int | None, typer.Argument(help="The version (default: newest).")] = None,
    writer: WriterOpt = None,
) -> None:
    """Approve a version as the letter to send."""
    done = studio_run(writer, lambda s, w: s.approve(w, letter_id, number))
    typer.echo(f"letter {letter_id}: version {done.approved_version} approved")


@letters_app.command("sent")
def sent(
    letter_id: LetterArg,
    writer: WriterOpt = None,
    on: Annotated[str | None, typer.Option(help="When (YYYY-MM-DD; default today).")] = None,
    use_mind: Annotated[
        bool,
        typer.Option(
            "--mind", help="Ask the language model for the names and places (default: by rule)."
        ),
    ] = False,
) -> None:
    """Mark an approved letter as sent, and remember the names and places it mentions."""
    when = full_date(on)

    async def by_rule(s: Studio, w: Person) -> tuple[Letter, list[Mention]]:
        return await s.send(w, letter_id, when)

    async def by_mind(
        s: Studio, w: Person, _letter: Letter, llm: LLM | None
    ) -> tuple[Letter, list[Mention]]:
        return await s.send(w, letter_id, when, llm)

    if use_mind:  # sending never needs a model: without one to be had, the rules answer
        done, added = with_brain(
            writer, lambda s, w: s.sendable(w, letter_id), by_mind, optional=True
        )
    else:
        done, added = studio_run(writer, by_rule)
    typer.echo(f"letter {letter_id} sent on {done.sent_on}")
    if added:
        typer.echo("remembered: " + "; ".join(f"{m.text} ({m.kind})" for m in added))


@letters_app.command("show")
def show(
    letter_id: LetterArg,
    writer: WriterOpt = None,
    version: Annotated[
        int | None, typer.Option(help="This version (default: the approved one, else newest).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A letter and one version's text."""

    async def go(s: Studio, w: Person) -> tuple[Letter, Correspondence, Version]:
        letter = await s.get_letter(w, letter_id)
        to = await s.get_correspondence(w, letter.correspondence_id)
        return letter, to, await s.version(w, letter_id, version or letter.approved_version)

    letter, to, chosen = studio_run(writer, go)
    if as_json:
        echo_json(letter_json(letter) | {"correspondence": asdict(to), "version": asdict(chosen)})
        return
    typer.echo(f"{letter.title} — {_where(to)} — {letter.status}, version {chosen.number}")
    typer.echo(chosen.text)


@letters_app.command("list")
def list_letters(
    writer: WriterOpt = None,
    client: Annotated[str | None, typer.Option(help="Only this client's.")] = None,
    status: Annotated[str | None, typer.Option(help="draft, approved or sent.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The writer's letters, oldest first."""

    async def go(s: Studio, w: Person) -> list[tuple[Letter, Correspondence]]:
        found = await s.list_letters(w, client=client, status=status)
        ways = {c.id: c for c in await s.list_correspondences(w)}
        return [(letter, ways[letter.correspondence_id]) for letter in found]

    rows = studio_run(writer, go)
    if as_json:
        echo_json([letter_json(lt) | {"client": c.client, "to": c.name} for lt, c in rows])
        return
    for letter, to in rows:
        typer.echo(f"{letter.id}\t{letter.status}\t{_where(to)}\t{letter.title}")
    if not rows:
        typer.echo("No letters yet.")


# -- paper and the book ---------------------------------------------------------------------
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="The file to write.")]
PaperOpt = Annotated[str, typer.Option("--paper", help="Paper size: letter or a4.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Same seed, same handwriting.")]


def _docs(
    writer: str | None, settings: Settings, ids: list[int] | None, client: str | None
) -> list[LetterDoc]:
    """The letters for a book: the ids given, in that order, else every approved or sent
    letter of the writer (or of one client), oldest first."""

    return studio_run(writer, lambda s, w: s.book_docs(w, ids or (), client), settings=settings)


@letters_app.command("render")
def render(
    letter_id: LetterArg,
    out: OutOpt,
    writer: WriterOpt = None,
    paper: PaperOpt = "letter",
    envelope: Annotated[bool, typer.Option("--envelope", help="Also the envelope.")] = False,
    size_pt: Annotated[
        float, typer.Option("--size-pt", min=6, max=72, help="Writing size, points.")
    ] = 16.0,
    dpi: Annotated[int, typer.Option(min=50, max=600, help="Resolution of PNG pages.")] = 300,
    seed: SeedOpt = 0,
) -> None:
    """An approved letter in the client's hand.

    The format follows the ending of --out: .pdf, .png, .plot.svg or .gcode. A client with no
    learned hand writes in their stock hand."""
    need_hand_extra()
    from os1.letters.book import hand_for, learned_hands
    from os1.letters.paper import render_letter

    settings = load_cli_settings()
    doc = studio_run(writer, lambda s, w: s.letter_doc(w, letter_id), settings=settings)
    hand = hand_for(doc, learned_hands([doc], settings.home))
    written = render_letter(
        doc, out, hand=hand, paper=paper, size_pt=size_pt, dpi=dpi, seed=seed, envelope=envelope
    )
    for path in written:
        typer.echo(f"wrote {path}")


@letters_app.command("book")
def book(
    out: OutOpt,
    writer: WriterOpt = None,
    letter: Annotated[
        list[int] | None, typer.Option("--letter", help="A letter to include (repeatable).")
    ] = None,
    client: Annotated[str | None, typer.Option(help="Every approved letter of a client.")] = None,
    title: Annotated[str, typer.Option(help="The book's title.")] = "Letters",
    author: Annotated[str | None, typer.Option(help="Default: the writer.")] = None,
    face: Annotated[str, typer.Option(help="handwriting or typeset.")] = "handwriting",
    paper: PaperOpt = "letter",
    seed: SeedOpt = 0,
) -> None:
    """A book of letters, as one PDF.

    The letters given with --letter, in that order, or else every approved letter of the writer
    (or of --client), oldest first."""
    need_hand_extra()
    from os1.letters.book import FACES, learned_hands, make_book

    if face not in FACES:
        raise UserInputError(f"unknown face {face!r}: use one of {', '.join(FACES)}")
    if letter and client:
        raise UserInputError("give either --letter or --client")
    settings = load_cli_settings()
    docs = _docs(writer, settings, letter, client)
    if not docs:
        raise UserInputError("no approved letters to make a book of")
    hands = learned_hands(docs, settings.home) if face == "handwriting" else {}
    made = make_book(
        docs,
        out,
        title=title,
        author=author or writer or default_person(),
        hands=hands,
        face=face,
        paper=paper,
        seed=seed,
    )
    typer.echo(f"{made}: {len(docs)} letter{'s' if len(docs) != 1 else ''}")
