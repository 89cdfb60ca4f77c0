"""Tokens on SQLite and PostgreSQL: revoking by an id that cannot be one is a plain "not
found", whatever the id holds."""

from __future__ import annotations

import pytest

from os1.errors import NotFoundError
from os1.memory.accounts import create_token, list_tokens, person_for_token, revoke_token
from os1.memory.store import SqlStore


@pytest.mark.parametrize(
    "token_id",
    ["a\x00b", "\x00", "x" * 5000, "\u00e9t\u00e9", "", "../../tokens", "ABCDEF012345"],
    ids=["nul", "only-nul", "huge", "accents", "empty", "traversal", "upper-case"],
)
async def test_revoking_an_id_that_cannot_be_one_is_not_found(
    any_store: SqlStore, token_id: str
) -> None:
    theo = await any_store.ensure_person("theo")
    token = await create_token(any_store.engine, theo)
    with pytest.raises(NotFoundError) as missing:
        await revoke_token(any_store.engine, theo, token_id)
    assert len(str(missing.value)) < 120 and "\x00" not in str(missing.value)
    # nothing was revoked, and the database still answers
    assert [t.state for t in await list_tokens(any_store.engine, theo)] == ["active"]
    assert await person_for_token(any_store.engine, token) == theo


async def test_revoking_by_the_real_id_still_works(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    token = await create_token(any_store.engine, theo)
    (info,) = await list_tokens(any_store.engine, theo)
    await revoke_token(any_store.engine, theo, info.id)
    assert await person_for_token(any_store.engine, token) is None
    with pytest.raises(NotFoundError):
        await revoke_token(any_store.engine, theo, info.id)
