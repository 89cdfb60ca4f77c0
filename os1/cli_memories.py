"""``os1 memories ...``, ``os1 facts ...`` and ``os1 profile``: what the mind remembers of a
person, to list, correct and delete. ``os1.cli`` registers them."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer

from os1.cli_base import JsonOpt, PersonOpt, load_cli_settings, run_async
from os1.memory.models import Fact, Turn
from os1.memory.validation import check_message
from os1.runtime import open_store

memories_app = typer.Typer(
    help="Everything remembered of a person, turn by turn: list, correct, delete.",
    no_args_is_help=True,
)
facts_app = typer.Typer(
    help="Facts and preferences drawn from what a person said: list, correct, delete.",
    no_args_is_help=True,
)

MemoryId = Annotated[
    int, typer.Argument(min=1, max=2**63 - 1, help="The memory's id (see `memories list`).")
]
FactId = Annotated[
    int, typer.Argument(min=1, max=2**63 - 1, help="The fact's id (see `facts list`).")
]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "id": turn.id,
        "conversation_id": turn.conversation_id,
        "role": turn.role,
        "speaker": turn.speaker,
        "content": turn.content,
        "time": turn.time.isoformat(),
        "source_id": turn.source_id,
    }


def fact_json(fact: Fact) -> dict[str, Any]:
    out = asdict(fact)
    out["source_turn_ids"] = list(fact.source_turn_ids)
    out["created_at"] = fact.created_at.isoformat()
    out["superseded_at"] = fact.superseded_at.isoformat() if fact.superseded_at else None
    out["current"] = fact.current
    return out


@memories_app.command("list")
def list_memories(
    person: PersonOpt,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="How many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The person's turns, newest first."""
    settings = load_cli_settings()

    async def go() -> list[Turn]:
        async with open_store(settings) as store:
            return await store.list_turns(await store.get_person(person), limit)

    turns = run_async(go())
    if as_json:
        typer.echo(json.dumps([turn_json(t) for t in turns], ensure_ascii=False))
        return
    for t in turns:
        who = t.speaker or t.role
        typer.echo(f"{t.id}\t{t.time:%Y-%m-%d %H:%M}\t{who}: {_one_line(t.content)}")
    if not turns:
        typer.echo(f"Nothing remembered of {person} yet.")


@memories_app.command("edit")
def edit_memory(
    person: PersonOpt,
    memory_id: MemoryId,
    text: Annotated[str, typer.Argument(help="What the memory should say.")],
) -> None:
    """Correct what a memory says; facts drawn from the old text are dropped."""
    settings = load_cli_settings()
    content = check_message(text, settings.max_message_chars)

    async def go() -> Turn:
        async with open_store(settings) as store:
            return await store.edit_turn(await store.get_person(person), memory_id, content)

    edited = run_async(go())
    typer.echo(f"memory {edited.id} now says: {_one_line(edited.content)}")


@memories_app.command("delete")
def delete_memory(person: PersonOpt, memory_id: MemoryId) -> None:
    """Forget one memory (and the reply to it) and everything drawn from it."""
    settings = load_cli_settings()

    async def go() -> None:
        async with open_store(settings) as store:
            await store.delete_turn(await store.get_person(person), memory_id)

    run_async(go())
    typer.echo(f"deleted memory {memory_id} and everything drawn from it")


@facts_app.command("list")
def list_facts(
    person: PersonOpt,
    history: Annotated[
        bool, typer.Option("--history", help="Also the facts that ended, and why.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The facts the mind holds about the person, oldest first."""
    settings = load_cli_settings()

    async def go() -> list[Fact]:
        async with open_store(settings) as store:
            return await store.list_facts(await store.get_person(person), current=not history)

    found = run_async(go())
    if as_json:
        typer.echo(json.dumps([fact_json(f) for f in found], ensure_ascii=False))
        return
    for f in found:
        line = f"{f.id}\t{f.kind}\t{f.key}: {f.value}"
        if f.superseded_at is not None:
            newer = f", now fact {f.replaced_by}" if f.replaced_by else ""
            line += f"\t({f.ended_reason or 'ended'} {f.superseded_at:%Y-%m-%d}{newer})"
        typer.echo(line)
    if not found:
        typer.echo(f"No facts about {person} yet.")


@facts_app.command("edit")
def edit_fact(
    person: PersonOpt,
    fact_id: FactId,
    value: Annotated[str, typer.Argument(help="What the fact should say.")],
) -> None:
    """Correct a current fact: a new version replaces it; the old one stays in the history."""
    settings = load_cli_settings()

    async def go() -> Fact:
        async with open_store(settings) as store:
            return await store.correct_fact(await store.get_person(person), fact_id, value)

    fact = run_async(go())
    if fact.id == fact_id:
        typer.echo(f"fact {fact_id} already says that")
        return
    typer.echo(f"fact {fact_id} corrected: fact {fact.id} {fact.key}: {fact.value}")


@facts_app.command("delete")
def delete_fact(person: PersonOpt, fact_id: FactId) -> None:
    """Delete a fact for good, with its whole history."""
    settings = load_cli_settings()

    async def go() -> int:
        async with open_store(settings) as store:
            return await store.delete_fact(await store.get_person(person), fact_id)

    count = run_async(go())
    typer.echo(f"deleted fact {fact_id} ({count} version{'s' if count != 1 else ''})")


def profile(person: PersonOpt, as_json: JsonOpt = False) -> None:
    """The short profile of the person, kept current as facts are distilled."""
    settings = load_cli_settings()

    async def go() -> dict[str, Any]:
        async with open_store(settings) as store:
            found = await store.get_profile(await store.get_person(person))
        return {
            "profile": found.text if found else None,
            "updated_at": found.updated_at.isoformat() if found else None,
        }

    result = run_async(go())
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    elif result["profile"] is None:
        typer.echo(
            f"No profile of {person} yet: it is written as facts are distilled after replies, "
            "by default only when the brain is a model server (OS1_LLM_URL, Ollama), not the "
            "small built-in model; OS1_DISTILL=on distills with any brain."
        )
    else:
        typer.echo(result["profile"])
