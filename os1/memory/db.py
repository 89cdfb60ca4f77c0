"""Engines and migrations.

SQLite runs in WAL mode with foreign keys on and ``secure_delete`` on, so that forgotten text is
overwritten on disk rather than left in free pages. Migrations run on every start.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
from pathlib import Path
from typing import IO, Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from os1.errors import ConfigError, StorageError

log = logging.getLogger("os1.memory")

_MIGRATIONS = str(Path(__file__).with_name("migrations"))
#: PostgreSQL advisory lock that serialises migrations between processes.
_LOCK_KEY = 8316_0001


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA busy_timeout=10000",
        "PRAGMA synchronous=NORMAL",
    ):
        cursor.execute(pragma)
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``; SQLite files get their folder made and WAL turned on."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"OS1_DATABASE_URL is not a database URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.get_driver_name() != "aiosqlite":
            raise ConfigError("SQLite URLs must use the async driver: sqlite+aiosqlite:///PATH")
        return _sqlite_engine(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() != "asyncpg":
            raise ConfigError("PostgreSQL URLs must use the async driver: postgresql+asyncpg://")
        # Many conversations at once each hold a connection only for a statement or two; a
        # pool of 5 (the default) would make them queue for one.
        return create_async_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=30)
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
    )


def _sqlite_engine(url: str, database: str | None) -> AsyncEngine:
    in_memory = database in (None, "", ":memory:")
    if in_memory:
        engine = create_async_engine(url, poolclass=StaticPool)
    else:
        assert database is not None
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot make the data folder {folder}: {exc.strerror}") from exc
        engine = create_async_engine(url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    return config


def head_revision() -> str:
    """The newest schema revision."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: Connection) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def one_line(exc: BaseException) -> str:
    """The first line of an error, without SQLAlchemy's "Background on this error" link."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision, one process at a time."""
    try:
        if engine.dialect.name == "sqlite":
            await _migrate_sqlite(engine)
        else:
            async with engine.begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                await conn.run_sync(_upgrade)
    except SQLAlchemyError as exc:
        raise StorageError(f"could not prepare the database: {one_line(exc)}") from exc
    except OSError as exc:
        raise StorageError(f"could not open the database: {exc}") from exc


async def _migrate_sqlite(engine: AsyncEngine) -> None:
    database = engine.url.database
    if database in (None, "", ":memory:"):
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
        return
    assert database is not None
    lock = await asyncio.to_thread(_take_lock, database)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
    finally:
        lock.close()  # closing the file releases the lock


def _take_lock(database: str) -> IO[str]:
    """An exclusive lock on a file beside the database, held until the file is closed."""
    path = Path(database).expanduser()
    lock = path.with_name(path.name + ".migrate-lock").open("a")
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    return lock
