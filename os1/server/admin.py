"""People and their tokens, for the admin token (``OS1_ADMIN_TOKEN``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from os1.errors import NotFoundError
from os1.memory.accounts import create_token, list_tokens, revoke_token, rotate_tokens
from os1.server.auth import Admin, State
from os1.server.errors import COMMON_RESPONSES, APIError
from os1.server.schemas import (
    PRINTABLE,
    Deleted,
    NewToken,
    PersonCreate,
    PersonOut,
    TokenCreate,
    TokenOut,
)

PersonName = Annotated[str, Path(min_length=1, max_length=64, pattern=PRINTABLE)]

router = APIRouter(
    prefix="/v1/people", responses=COMMON_RESPONSES, dependencies=[Admin], tags=["admin"]
)


@router.get("", response_model=list[PersonOut])
async def list_people(state: State) -> list[PersonOut]:
    people = await state.runtime.store.list_people()
    return [PersonOut(name=p.name, created_at=p.created_at) for p in people]


@router.post("", response_model=NewToken, status_code=201)
async def add_person(body: PersonCreate, state: State) -> NewToken:
    """Add a person and make their first token (shown only here)."""
    store = state.runtime.store
    try:
        await store.get_person(body.name.strip())
    except NotFoundError:
        pass
    else:
        raise APIError(409, f"{body.name!r} exists; make a token with POST .../tokens", "exists")
    person = await store.ensure_person(body.name)
    token = await create_token(store.engine, person, expires_in=_days(body.expires_in_days))
    return NewToken(person=person.name, token=token)


def _days(days: float | None) -> timedelta | None:
    return timedelta(days=days) if days is not None else None


@router.get("/{name}/tokens", response_model=list[TokenOut])
async def tokens(name: PersonName, state: State) -> list[TokenOut]:
    store = state.runtime.store
    found = await list_tokens(store.engine, await store.get_person(name))
    return [TokenOut.of(t) for t in found]


@router.post("/{name}/tokens", response_model=NewToken, status_code=201)
async def new_token(name: PersonName, state: State, body: TokenCreate | None = None) -> NewToken:
    store = state.runtime.store
    person = await store.get_person(name)
    expires = _days(body.expires_in_days) if body else None
    token = await create_token(store.engine, person, expires_in=expires)
    return NewToken(person=person.name, token=token)


@router.post("/{name}/tokens/rotate", response_model=NewToken, status_code=201)
async def rotate(name: PersonName, state: State) -> NewToken:
    """Revoke all of the person's tokens and make a new one."""
    store = state.runtime.store
    person = await store.get_person(name)
    return NewToken(person=person.name, token=await rotate_tokens(store.engine, person))


@router.delete("/{name}/tokens/{token_id}", response_model=Deleted)
async def revoke(name: PersonName, token_id: str, state: State) -> Deleted:
    store = state.runtime.store
    await revoke_token(store.engine, await store.get_person(name), token_id)
    return Deleted()


@router.delete("/{name}", response_model=Deleted)
async def remove_person(name: PersonName, state: State) -> Deleted:
    """Delete a person and everything stored about them."""
    store = state.runtime.store
    await store.delete_person(await store.get_person(name))
    return Deleted()
