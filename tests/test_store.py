"""The storage suite: runs on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures_store import open_store
from sqlalchemy import text

from os1.errors import NotFoundError, UserInputError
from os1.memory.db import head_revision, make_engine, migrate
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
