"""``os1 person ...``: people and their API tokens, managed on this machine's database."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

import typer

from os1.cli_base import JsonOpt, load_cli_settings, run_async
from os1.memory.accounts import create_token, list_tokens, revoke_token, rotate_tokens
from os1.runtime import open_store

person_app = typer.Typer(help="People and their API tokens.", no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="The person's name.")]


@person_app.command("add")
def add(
    name: Name,
    expires_days: Annotated[
        float | None,
        typer.Option(
            "--expires-days", min=0.001, max=36_500, help="The token stops working after this."
        ),
    ] = None,
) -> None:
    """Add a person (or take one the mind already knows) and print a new API token."""
    settings = load_cli_settings()
    expires = timedelta(days=expires_days) if expires_days is not None else None

    async def go() -> str:
        async with open_store(settings) as store:
            person = await store.ensure_person(name)
            return await create_token(store.engine, person, expires_in=expires)

    token = run_async(go())
    typer.echo(token)
    typer.echo(
        f"Keep this token: it is shown only now. Use it as a bearer token, e.g. the API key of "
        f"any OpenAI client with base URL http://{settings.host}:{settings.port}/v1 (where "
        "`os1 up` listens, unless given --host or --port) and model samantha.",
        err=True,
    )


@person_app.command("list")
def list_people(as_json: JsonOpt = False) -> None:
    """Everyone the mind knows, with how many active tokens each has."""
    settings = load_cli_settings()

    async def go() -> list[dict[str, object]]:
        async with open_store(settings) as store:
            rows = []
            for person in await store.list_people():
                found = await list_tokens(store.engine, person)
                active = sum(1 for t in found if t.state == "active")
                rows.append({"name": person.name, "active_tokens": active})
            return rows

    rows = run_async(go())
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(f"{row['name']}\t{row['active_tokens']} active token(s)")


@person_app.command("tokens")
def tokens(name: Name, as_json: JsonOpt = False) -> None:
    """The person's tokens (never the secrets themselves: only ids and dates)."""
    settings = load_cli_settings()

    async def go() -> list[dict[str, object]]:
        async with open_store(settings) as store:
            found = await list_tokens(store.engine, await store.get_person(name))
            return [asdict(t) | {"state": t.state} for t in found]

    rows = run_async(go())
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    for row in rows:
        until = f" until {row['expires_at']:%Y-%m-%d %H:%M}" if row["expires_at"] else ""
        label = f"\t{row['label']}" if row["label"] else ""
        made = f"made {row['created_at']:%Y-%m-%d %H:%M}"
        typer.echo(f"{row['id']}\t{row['state']}{until}\t{made}{label}")


@person_app.command("revoke")
def revoke(name: Name, token_id: Annotated[str, typer.Argument(help="From `tokens`.")]) -> None:
    """Revoke one token: it stops working at once."""
    settings = load_cli_settings()

    async def go() -> None:
        async with open_store(settings) as store:
            await revoke_token(store.engine, await store.get_person(name), token_id)

    run_async(go())
    typer.echo(f"revoked {token_id}")


@person_app.command("rotate")
def rotate(name: Name) -> None:
    """Revoke all of the person's tokens and print a new one."""
    settings = load_cli_settings()

    async def go() -> str:
        async with open_store(settings) as store:
            return await rotate_tokens(store.engine, await store.get_person(name))

    typer.echo(run_async(go()))


@person_app.command("remove")
def remove(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the person and everything stored about them."""
    settings = load_cli_settings()

    async def known() -> None:  # before asking: a typo is "no person named", not a question
        async with open_store(settings) as store:
            await store.get_person(name)

    async def go() -> None:
        async with open_store(settings) as store:
            await store.delete_person(await store.get_person(name))

    run_async(known())
    if not yes:
        typer.confirm(f"Delete {name} and everything OS1 remembers of them?", abort=True)
    run_async(go())
    typer.echo(f"removed {name}")
