"""``os1 peer ...``: other minds over A2A: the allow-list, tokens, sharing, and talking."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from os1.cli_base import JsonOpt, load_cli_settings, run_async
from os1.federation.peers import (
    SHARE_KINDS,
    add_peer,
    get_peer,
    issue_token,
    list_peers,
    remove_peer,
    set_allowed,
    set_sharing,
)
from os1.runtime import open_runtime, open_store

peer_app = typer.Typer(help="Other minds over A2A: peers, tokens, sharing, talking.")
Name = Annotated[str, typer.Argument(help="The peer's name on this instance.")]


@peer_app.command("add")
def add(
    name: Name,
    url: Annotated[str, typer.Argument(help="The peer's base URL (its Agent Card is fetched).")],
    token: Annotated[
        str | None, typer.Option(help="The token the peer issued to this instance.")
    ] = None,
) -> None:
    """Resolve the peer's Agent Card, store it and allow-list the peer."""
    settings = load_cli_settings()

    async def go() -> str:
        from os1.federation import client  # the A2A client, loaded when used

        card = await client.fetch_card(url, settings.a2a_timeout)
        async with open_store(settings) as store:
            peer = await add_peer(store, name, url, client.card_json(card), token)
        skills = ", ".join(s.name for s in card.skills) or "none"
        return f"added {peer.name}: {card.name} ({card.description}); skills: {skills}"

    typer.echo(run_async(go()))
    typer.echo(
        f"To let {name} talk to this instance too, issue it a token: os1 peer token {name}",
        err=True,
    )


@peer_app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """The peers, allowed or not, and whether this instance holds a token for each."""
    settings = load_cli_settings()

    async def go() -> list[dict[str, object]]:
        async with open_store(settings) as store:
            return [
                {
                    "name": p.name,
                    "url": p.url,
                    "allowed": p.allowed,
                    "has_token": p.token is not None,
                }
                for p in await list_peers(store.engine)
            ]

    rows = run_async(go())
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        state = "allowed" if row["allowed"] else "denied"
        token = "token held" if row["has_token"] else "no token"
        typer.echo(f"{row['name']}\t{row['url']}\t{state}\t{token}")


@peer_app.command("remove")
def remove(name: Name) -> None:
    """Remove the peer, the tokens issued to it and all remembered of it."""
    settings = load_cli_settings()

    async def go() -> None:
        async with open_store(settings) as store:
            await remove_peer(store, name)

    run_async(go())
    typer.echo(f"removed {name}")


def _allow(name: str, allowed: bool) -> None:
    settings = load_cli_settings()

    async def go() -> None:
        async with open_store(settings) as store:
            await set_allowed(store.engine, name, allowed)

    run_async(go())
    typer.echo(f"{name} is {'allowed' if allowed else 'denied'}")


@peer_app.command("allow")
def allow(name: Name) -> None:
    """Put the peer on the allow-list: its messages are answered."""
    _allow(name, True)


@peer_app.command("deny")
def deny(name: Name) -> None:
    """Take the peer off the allow-list: its messages get 403."""
    _allow(name, False)


@peer_app.command("token")
def token(name: Name) -> None:
    """Issue a token for the peer to present to this instance (shown only now)."""
    settings = load_cli_settings()

    async def go() -> str:
        async with open_store(settings) as store:
            return await issue_token(store.engine, await get_peer(store.engine, name))

    typer.echo(run_async(go()))
    typer.echo(f"Give it to {name}'s operator: os1 peer add NAME URL --token TOKEN", err=True)


@peer_app.command("share")
def share(
    name: Name,
    person: Annotated[str, typer.Option("--person", "-p", help="Whose sharing this is.")],
    kind: Annotated[
        list[str] | None,
        typer.Option(help=f"What may be shared: {', '.join(SHARE_KINDS)}; none: nothing."),
    ] = None,
) -> None:
    """Set exactly what the mind may tell the peer about a person (default: nothing)."""
    settings = load_cli_settings()

    async def go() -> set[str]:
        async with open_store(settings) as store:
            who = await store.get_person(person)
            peer = await get_peer(store.engine, name)
            return await set_sharing(store.engine, who, peer, set(kind or []))

    kinds = run_async(go())
    typer.echo(f"{person} shares with {name}: {', '.join(sorted(kinds)) or 'nothing'}")


@peer_app.command("talk")
def talk(
    name: Name,
    message: Annotated[str, typer.Argument(help="What to say.")],
    turns: Annotated[
        int, typer.Option(min=1, max=100, help="Rounds to go on talking (mind to mind).")
    ] = 1,
    person: Annotated[
        str | None,
        typer.Option("--person", "-p", help="Consult the peer for this person (a three-way talk)."),
    ] = None,
) -> None:
    """Send the peer a message and print its reply; with --turns, the mind goes on talking;
    with --person, the person consults the peer in a conversation of their own."""
    settings = load_cli_settings()
    if person is not None:
        run_async(_consult(name, message, person))
        return

    async def go() -> None:
        from os1.federation.talk import talk as talk_with

        async with open_runtime(settings) as runtime:
            peer = await get_peer(runtime.store.engine, name)
            rounds = min(turns, settings.a2a_max_turns)
            async for said in talk_with(
                runtime.mind,
                peer,
                message,
                turns=rounds,
                max_tokens=settings.a2a_max_tokens,
                wait=settings.a2a_timeout,
            ):
                if said.text:
                    typer.echo(f"{said.speaker}: {said.text}")
                if said.stopped:
                    typer.echo(f"({said.stopped})", err=True)

    run_async(go())


async def _consult(name: str, message: str, person: str) -> None:
    from os1.federation import consult as three

    settings = load_cli_settings()
    async with open_runtime(settings) as runtime:
        store = runtime.store
        peer = await get_peer(store.engine, name)
        who = await store.ensure_person(person)
        conversation = await store.start_conversation(who, "chat")
        session = runtime.mind.resume(who, conversation)
        request = three.parse(message, [peer.name]) or three.Request(peer.name, message)
        result = await three.consult(session, peer, message, request, wait=settings.a2a_timeout)
    typer.echo(f"{who.name}: {result.asked.content}")
    typer.echo(f"{peer.name}: {result.answer.content}")
    if result.reply:
        typer.echo(f"{runtime.mind.spec.name}: {result.reply}")
