"""Peers in the store, on SQLite and PostgreSQL: the allow-list, tokens, sharing, forgetting."""

from __future__ import annotations

import pytest

from os1.errors import NotFoundError, UserInputError
from os1.federation import privacy
from os1.federation.peers import (
    add_peer,
    get_peer,
    grants_to,
    issue_token,
    list_peers,
    peer_for_token,
    remove_peer,
    set_allowed,
    set_sharing,
    sharing_of,
)
from os1.memory.accounts import create_token, person_for_token
from os1.memory.store import SqlStore


async def test_peers_tokens_and_sharing(any_store: SqlStore) -> None:
    store, engine = any_store, any_store.engine
    peer = await add_peer(store, "Athena", "http://athena.example:8316/", None, "their-token")
    assert (peer.name, peer.url, peer.allowed, peer.token) == (
        "athena",
        "http://athena.example:8316",
        True,
        "their-token",
    )
    again = await add_peer(store, "athena", "http://athena.example:9000", '{"name": "A"}', None)
    assert again.id == peer.id and again.token == "their-token" and again.card
    # A peer is remembered like a person, with a row of its own.
    assert any(p.name == "athena (peer)" for p in await store.list_people())

    token = await issue_token(engine, peer)
    assert (await peer_for_token(engine, token)) == await get_peer(engine, "athena")
    assert await person_for_token(engine, token) is None  # opens no person's API
    theo = await store.ensure_person("theo")
    assert await peer_for_token(engine, await create_token(engine, theo)) is None
    assert await peer_for_token(engine, "os1peer_nope") is None

    denied = await set_allowed(engine, "athena", False)
    assert not denied.allowed and (await peer_for_token(engine, token)) == denied

    assert await sharing_of(engine, theo, peer) == set()
    await set_sharing(engine, theo, peer, {"facts", "name"})
    assert await sharing_of(engine, theo, peer) == {"facts", "name"}
    [(who, kinds)] = await grants_to(engine, peer)
    assert who.name == "theo" and kinds == {"facts", "name"}
    turn_person = await store.start_conversation(theo, "chat")
    del turn_person
    assert await privacy.gather(store, peer) == []  # nothing known about theo yet
    with pytest.raises(UserInputError):
        await set_sharing(engine, theo, peer, {"diary"})

    await remove_peer(store, "athena")
    assert await list_peers(engine) == []
    assert await peer_for_token(engine, token) is None
    with pytest.raises(NotFoundError):
        await get_peer(engine, "athena")
    with pytest.raises(UserInputError):
        await add_peer(store, "no spaces please", "http://x", None, None)
    with pytest.raises(UserInputError):
        await add_peer(store, "x", "ftp://x", None, None)
