"""The storage suite: runs on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fixtures_store import _admin, open_store
from sqlalchemy import text

from os1.errors import NotFoundError, UserInputError
from os1.memory.db import HEAD, head_revision, make_engine, migrate
from os1.memory.models import NewTurn, Role
from os1.memory.store import SqlStore

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def turn(content: str, minutes: int = 0, role: Role = "user", ext: str | None = None) -> NewTurn:
    when = T0 + timedelta(minutes=minutes)
    return NewTurn(role=role, content=content, time=when, external_id=ext)


async def test_turns_are_committed_and_recalled(any_store: SqlStore) -> None:
    alice = await any_store.ensure_person("alice")
    conv = await any_store.start_conversation(alice)
    await any_store.add_turn(conv, turn("My sister Anna lives in Lisbon", 0))
    await any_store.add_turn(conv, turn("I had pizza for lunch today", 1))
    items = await any_store.recall(alice, "where does my sister live?", 5)
    assert items[0].text == "My sister Anna lives in Lisbon"
    assert items[0].source_ids == [items[0].id.removeprefix("turn:")]


async def test_people_are_isolated(any_store: SqlStore) -> None:
    alice = await any_store.ensure_person("alice")
    bob = await any_store.ensure_person("bob")
    await any_store.add_turn(await any_store.start_conversation(bob), turn("bob's secret is 4242"))
    await any_store.add_turn(await any_store.start_conversation(alice), turn("hello there"))
    items = await any_store.recall(alice, "bob's secret is 4242", 10)
    assert all("4242" not in i.text for i in items)


async def test_newer_statement_ranks_first(any_store: SqlStore) -> None:
    alice = await any_store.ensure_person("alice")
    conv = await any_store.start_conversation(alice)
    await any_store.add_turn(conv, turn("I live in Lisbon", 0))
    await any_store.add_turn(conv, turn("I live in Berlin", 60 * 24 * 20))
    items = await any_store.recall(alice, "where do I live", 2)
    assert [i.text for i in items] == ["I live in Berlin", "I live in Lisbon"]


async def test_import_is_idempotent_and_forget_removes_everything(any_store: SqlStore) -> None:
    alice = await any_store.ensure_person("alice")
    batch = [
        ("s1", turn("I adopted a cat named Miso", 0, ext="a1")),
        ("s1", turn("Nice!", 1, role="assistant", ext="a2")),
        ("s2", turn("Miso knocked over my plant", 90, ext="a3")),
        ("s2", turn("I bought a new lamp", 95, ext="a4")),
    ]
    first = await any_store.import_turns(alice, batch)
    again = await any_store.import_turns(alice, batch)
    assert (first.imported, again.imported, again.skipped_existing) == (4, 0, 4)
    miso_turn = int((await any_store.recall(alice, "cat Miso", 1))[0].id.removeprefix("turn:"))
    await any_store.add_fact(alice, "profile", "pet", "a cat named Miso", [miso_turn])
    deleted = await any_store.forget(alice, "Miso")
    assert deleted == 3  # both turns that name Miso, and the reply to the first
    dump = await any_store.export(alice)
    assert "Miso" not in repr(dump)
    assert [t["content"] for t in dump["turns"]] == ["I bought a new lamp"]
    assert dump["facts"] == []
    recalled = await any_store.recall(alice, "Miso cat plant lamp", 10)
    assert [i.text for i in recalled] == ["I bought a new lamp"]


async def test_forget_all_and_blank_query(any_store: SqlStore) -> None:
    alice = await any_store.ensure_person("alice")
    conv = await any_store.start_conversation(alice)
    await any_store.add_turn(conv, turn("one"))
    with pytest.raises(UserInputError):
        await any_store.forget(alice, "  ?! ")
    assert await any_store.forget(alice, None) == 1
    assert (await any_store.export(alice))["turns"] == []


async def test_facts_supersede(any_store: SqlStore) -> None:
    alice = await any_store.ensure_person("alice")
    await any_store.add_fact(alice, "profile", "city", "Lisbon", [])
    await any_store.add_fact(alice, "profile", "city", "Berlin", [])
    assert [f.value for f in await any_store.list_facts(alice)] == ["Berlin"]
    history = await any_store.list_facts(alice, current=False)
    assert [f.value for f in history] == ["Lisbon", "Berlin"]
    assert history[0].superseded_at is not None


async def test_missing_person_and_bad_names(any_store: SqlStore) -> None:
    with pytest.raises(NotFoundError):
        await any_store.get_person("nobody")
    for bad in ["", "x" * 65, "a\x00b", "tab\there"]:
        with pytest.raises(UserInputError):
            await any_store.ensure_person(bad)


async def test_relationship_counts(any_store: SqlStore) -> None:
    alice = await any_store.ensure_person("alice")
    conv = await any_store.start_conversation(alice)
    now = datetime.now(UTC)
    await any_store.add_turn(conv, NewTurn(role="user", content="hi", time=now))
    await any_store.add_turn(conv, NewTurn(role="assistant", content="hello", time=now))
    rel = await any_store.relationship(alice)
    assert (rel.turns, rel.conversations, rel.days_active) == (1, 1, 1)
    assert 0 < rel.closeness < 0.15
    assert rel.closeness_label == "just met"


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    async with store.engine.connect() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        secure = (await conn.execute(text("PRAGMA secure_delete"))).scalar_one()
    await store.engine.dispose()
    assert (mode, secure) == ("wal", 1)


def test_the_head_known_without_alembic_is_alembics_head() -> None:
    """A new migration script must move :data:`HEAD`, or a database at the old head would be
    taken as current and never upgraded."""
    assert head_revision() == HEAD


def test_a_database_at_head_is_opened_without_alembic(tmp_path: Path) -> None:
    """Alembic and its scripts load only for a database behind :data:`HEAD`."""
    probe = (
        "import asyncio, sys\n"
        "from os1.memory.db import make_engine, migrate\n"
        "async def main():\n"
        f"    engine = make_engine('sqlite+aiosqlite:///{tmp_path / 'at.db'}')\n"
        "    await migrate(engine)\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
        "print(any(m.split('.')[0] == 'alembic' for m in sys.modules))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]  # made, then only opened


async def test_concurrent_first_starts_migrate_once(pg_url: str, tmp_path: Path) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'race.db'}"
    for url in (sqlite_url, pg_url):
        engines = [make_engine(url) for _ in range(3)]
        await asyncio.gather(*(migrate(e) for e in engines))
        async with engines[0].connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        for engine in engines:
            await engine.dispose()
        assert [tuple(v) for v in version] == [(head_revision(),)]


async def test_pooled_connections_the_server_closed_are_replaced_before_use(pg_url: str) -> None:
    """Pooled connections are checked by whether their socket is open, not by a ping: after the
    server ends every session (as a restart does), the next reads and writes still work."""
    store = await open_store(pg_url)
    try:
        theo = await store.ensure_person("theo")
        conv = await store.start_conversation(theo)
        await asyncio.gather(*(store.list_turns(theo, 5) for _ in range(4)))  # pool several
        database = pg_url.rsplit("/", 1)[1]
        await _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )
        await asyncio.sleep(0.2)  # the closed sockets reach the event loop
        for i in range(6):
            await store.add_turn(conv, turn(f"still here {i}", i))
            assert len(await store.list_turns(theo, 10)) == i + 1
    finally:
        await store.close(10)
        await store.engine.dispose()


async def test_a_turn_on_postgresql_costs_no_transaction_round_trips(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing a turn, recalling and reading the prompt's context are single statements or
    reads: none of them wraps its statements in BEGIN and COMMIT or ROLLBACK, and no pooled
    connection is pinged, each of which would be a round trip to the server."""
    import asyncpg.connection

    store = await open_store(pg_url)
    simple: list[str] = []
    plain_execute = asyncpg.connection.Connection.execute
    plain_fetchrow = asyncpg.connection.Connection.fetchrow

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        simple.append(query)
        return await plain_execute(self, query, *args, **kwargs)

    async def fetchrow(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        simple.append(query)
        return await plain_fetchrow(self, query, *args, **kwargs)

    try:
        theo = await store.ensure_person("theo")
        conv = await store.start_conversation(theo)
        await store.add_turn(conv, turn("I adopted a cat named Miso"))
        assert await store.settle(30)
        monkeypatch.setattr(asyncpg.connection.Connection, "execute", execute)
        monkeypatch.setattr(asyncpg.connection.Connection, "fetchrow", fetchrow)
        await store.add_turn(conv, turn("Miso sleeps on the piano", 1))
        assert await store.recall(theo, "Where does Miso sleep?", 5)
        await store.prompt_context(theo, conv, 10)
        assert await store.settle(30)  # the vector is written
        assert simple == []
    finally:
        monkeypatch.undo()
        await store.close(10)
        await store.engine.dispose()


async def _index_entries(store: SqlStore) -> set[int]:
    """The turn ids the SQLite full-text index holds (PostgreSQL's lives in the turns row)."""
    async with store.engine.connect() as conn:
        return set((await conn.execute(text("SELECT rowid FROM turn_fts"))).scalars())


async def test_a_memory_deleted_while_it_is_edited_is_not_written_back(
    any_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit that read the turn just before a delete took it answers 'not found' and writes
    nothing: no index entry, no vector for a turn that is gone."""
    alice = await any_store.ensure_person("alice")
    said = await any_store.add_turn(await any_store.start_conversation(alice), turn("blue door"))
    await any_store.settle()
    read_before = await any_store.get_turn(alice, said.id)
    await any_store.delete_turn(alice, said.id)

    async def stale(person: Any, turn_id: int) -> Any:
        return read_before

    monkeypatch.setattr(any_store, "get_turn", stale)
    with pytest.raises(NotFoundError):
        await any_store.edit_turn(alice, said.id, "red door")
    monkeypatch.undo()
    async with any_store.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM turns"))).scalar() == 0
        assert (await conn.execute(text("SELECT count(*) FROM turn_vectors"))).scalar() == 0
    if any_store.engine.dialect.name == "sqlite":
        assert await _index_entries(any_store) == set()
    # A vector that comes for a turn deleted meanwhile is dropped, not an error.
    row = {"turn_id": said.id, "person_id": alice.id, "model": "m", "vector": b"", "parts": b""}
    assert await any_store._write_vectors_of_turns_still_there([row]) == []


async def test_deleting_a_person_takes_turns_stored_meanwhile_and_their_index_entries(
    any_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = await any_store.ensure_person("alice"), await any_store.ensure_person("bob")
    conv = await any_store.start_conversation(alice)
    bobs = await any_store.start_conversation(bob)
    await any_store.add_turn(bobs, turn("bob's own words"))

    async def nothing_yet(person: Any, query: Any) -> int:
        return 0  # as if the turn below came in after the forgetting

    late = await any_store.add_turn(conv, turn("stored while alice was being deleted"))
    monkeypatch.setattr(any_store, "forget", nothing_yet)
    await any_store.delete_person(alice)
    monkeypatch.undo()
    with pytest.raises(NotFoundError, match="is gone"):
        await any_store.add_turn(conv, turn("one more, too late"))
    with pytest.raises(NotFoundError):
        await any_store.start_conversation(alice)
    if any_store.engine.dialect.name == "sqlite":
        assert late.id not in await _index_entries(any_store)
    # Everyone else goes on storing turns.
    assert (await any_store.add_turn(bobs, turn("still here"))).content == "still here"


async def test_a_stale_index_entry_never_blocks_a_new_turn(tmp_path: Path) -> None:
    """SQLite hands the id of a deleted last turn out again; an index entry left under it
    (by an older version, or a crash) is replaced by the new turn's, not a refusal of it."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'os1.db'}")
    try:
        alice = await store.ensure_person("alice")
        conv = await store.start_conversation(alice)
        first = await store.add_turn(conv, turn("first"))
        async with store.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO turn_fts(rowid, content) VALUES (:id, 'orphan words')"),
                {"id": first.id + 1},
            )
        second = await store.add_turn(conv, turn("second words"))
        assert second.id == first.id + 1
        found = await store.recall(alice, "orphan", 5)
        assert [i.text for i in found] == []
        assert (await store.recall(alice, "second words", 5))[0].text == "second words"
    finally:
        await store.close(30)
        await store.engine.dispose()
