"""Store fixtures: in-memory SQLite for unit tests; a SQLite file and PostgreSQL for the
storage suite (``any_store`` runs a test on both)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from os1.memory.db import make_engine, migrate
from os1.memory.fake import HashingEmbedder
from os1.memory.store import SqlStore

PG_HOST = os.environ.get("OS1_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("OS1_TEST_PG_USER", "postgres")


async def open_store(url: str) -> SqlStore:
    engine = make_engine(url)
    await migrate(engine)
    return SqlStore(engine, HashingEmbedder())


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(host=PG_HOST, user=PG_USER, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _admin_sync(sql: str) -> None:
    """Run an admin statement from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin(sql)).result()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    name = f"os1_test_{uuid.uuid4().hex[:10]}"
    _admin_sync(f'CREATE DATABASE "{name}"')
    yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}/{name}"
    _admin_sync(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def store() -> AsyncIterator[SqlStore]:
    s = await open_store("sqlite+aiosqlite:///:memory:")
    yield s
    await s.close(30)
    await s.engine.dispose()


@pytest.fixture(params=["sqlite-file", "postgres"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """The same store tests on a SQLite file and on PostgreSQL (a fresh schema each test)."""
    if request.param == "sqlite-file":
        s = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'os1.db'}")
        yield s
        await s.close(30)
        await s.engine.dispose()
        return
    base: str = request.getfixturevalue("pg_url")
    schema_db = f"os1_t_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{schema_db}"')
    s = await open_store(base.rsplit("/", 1)[0] + "/" + schema_db)
    yield s
    await s.close(30)
    await s.engine.dispose()
    await _admin(f'DROP DATABASE IF EXISTS "{schema_db}" WITH (FORCE)')
