"""Engines and migrations.

SQLite runs in WAL mode with foreign keys on and ``secure_delete`` on, so that forgotten text is
overwritten on disk rather than left in free pages. Migrations run on every start, one process
at a time; a database already at :data:`HEAD` is seen to be so with one query, without loading
Alembic and its scripts (a good part of a short command's start, such as ``os1 recall``).

Round trips to PostgreSQL are the largest part of a turn's database cost, so two that carry
nothing are left out:

- A pooled connection is checked for life by asking asyncpg whether its socket is still open
  (the server closes it when it restarts or ends the session), not by a ping: SQLAlchemy's
  ``pool_pre_ping`` costs three round trips (``BEGIN``, ``;``, ``ROLLBACK``) at every
  checkout, several times a turn. A connection found closed is replaced before use; one that
  dies unseen (a network cut with no word from the server) fails its statement, and SQLAlchemy
  then renews the whole pool.
- Reads, and writes of a single statement, go through :func:`autocommit`: a statement alone,
  without a ``BEGIN`` and a ``ROLLBACK`` or ``COMMIT`` around it. PostgreSQL's default
  isolation (read committed) gives each statement its own snapshot inside a transaction too,
  so reads lose nothing; writes of several statements keep their transactions
  (``engine.begin()``).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from os1.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("os1.memory")

_MIGRATIONS = str(Path(__file__).with_name("migrations"))
#: PostgreSQL advisory lock that serialises migrations between processes.
_LOCK_KEY = 8316_0001
#: The newest schema revision, the one a new migration script revises (a test holds it to
#: Alembic's own head).
HEAD = "0008"


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
        engine = create_async_engine(url, pool_size=20, max_overflow=30)
        event.listen(engine.sync_engine, "checkout", _check_open)
        return engine
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
    )


def _check_open(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Refuse a pooled asyncpg connection whose socket has closed; the pool then opens a new
    one (SQLAlchemy's pessimistic disconnect handling, without the round trips of a ping)."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the database closed this connection")


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` with its connections in autocommit, for reads and single-statement writes:
    no ``BEGIN`` and ``COMMIT``/``ROLLBACK`` round trips around them, on the same pool.
    PostgreSQL only: SQLite has no round trips to save (and there, autocommit mixed with
    transactions on pooled connections left full-text rows behind in a test)."""
    if engine.dialect.name != "postgresql":
        return engine
    # Kept on the engine itself (making one costs about 40 µs): a reference cycle the garbage
    # collector frees with the engine, where a weak-keyed table would keep every engine alive.
    found: AsyncEngine | None = engine.sync_engine.__dict__.get("_os1_autocommit")
    if found is None:
        found = engine.execution_options(isolation_level="AUTOCOMMIT")
        engine.sync_engine.__dict__["_os1_autocommit"] = found
    return found


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
    if not in_memory:  # one connection, shared: no other connection to race with
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Connection) -> None:
    """Start a transaction with ``BEGIN IMMEDIATE``, which takes the write lock at once.

    Python's sqlite3 driver otherwise opens a transaction only at its first write, so what a
    transaction read before it (the turns to delete, whether a turn is still there) could be
    changed by another connection before it wrote: a turn stored while its person was being
    forgotten kept an index entry when the cascade took it, and that entry then refused every
    new turn that got its id. Reads outside transactions (``autocommit``) are not held up:
    WAL lets them run beside a writer."""
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    conn.connection.dbapi_connection.isolation_level = None  # type: ignore[union-attr]
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    return config


def head_revision() -> str:
    """The newest schema revision, as Alembic reads it from the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: Connection) -> None:
    if _at_head(connection):
        return
    from alembic import command

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


def _at_head(connection: Connection) -> bool:
    """Whether the schema is at :data:`HEAD`, asked without Alembic (whose scripts take a good
    part of a short command's start to load)."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return False
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return [tuple(v) for v in versions] == [(HEAD,)]


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
