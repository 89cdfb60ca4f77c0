"""Alembic environment: migrations run on a connection OS1 hands over (see ``os1.memory.db``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from os1.memory.tables import metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:  # `alembic` command line against a synchronous URL, for contributors
    _engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with _engine.begin() as _conn:
        _run(_conn)
