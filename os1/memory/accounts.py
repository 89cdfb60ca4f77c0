"""API tokens: each belongs to one person and is stored only as a SHA-256 digest.

A token is 32 random bytes (``os1_`` + URL-safe base64), so a plain digest is enough: there is
nothing to guess, and no slow password hash is needed. Only the digest is kept; the token itself
is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from os1.errors import NotFoundError
from os1.memory.db import autocommit
from os1.memory.models import Person
from os1.memory.tables import people, tokens

PREFIX = "os1_"
#: ``last_used_at`` is written at most this often per token, to keep reads cheap.
USE_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    person: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None

    @property
    def state(self) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def live_token(token: str, now: datetime) -> ColumnElement[bool]:
    """Rows of ``tokens`` for ``token`` that are neither revoked nor expired at ``now``."""
    return and_(
        tokens.c.digest == digest(token),
        tokens.c.revoked_at.is_(None),
        or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
    )


def same_secret(given: str, expected: str) -> bool:
    """Compare secrets in constant time."""
    return hmac.compare_digest(digest(given), digest(expected))


async def create_token(
    engine: AsyncEngine,
    person: Person,
    label: str | None = None,
    expires_in: timedelta | None = None,
) -> str:
    """A new token for ``person``, valid for ``expires_in`` (forever if None); the only time
    it is ever seen in full."""
    return await new_token(engine, person.id, label, expires_in)


async def new_token(
    engine: AsyncEngine,
    person_id: int,
    label: str | None = None,
    expires_in: timedelta | None = None,
    prefix: str = PREFIX,
) -> str:
    """:func:`create_token` by the person's id, with its own ``prefix`` if given (a peer's
    tokens belong to its person row and start with the peers' prefix)."""
    token = prefix + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(tokens).values(
                id=secrets.token_hex(6),
                person_id=person_id,
                digest=digest(token),
                label=label,
                created_at=now,
                expires_at=now + expires_in if expires_in is not None else None,
            )
        )
    return token


async def list_tokens(engine: AsyncEngine, person: Person) -> list[TokenInfo]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(tokens).where(tokens.c.person_id == person.id).order_by(tokens.c.created_at)
        )
        return [
            TokenInfo(
                r.id,
                person.name,
                r.label,
                r.created_at,
                r.revoked_at,
                r.last_used_at,
                r.expires_at,
            )
            for r in rows
        ]


#: What a token's id looks like (``secrets.token_hex(6)``, as :func:`new_token` makes them).
TOKEN_ID = re.compile(r"[0-9a-f]{1,64}")


async def revoke_token(engine: AsyncEngine, person: Person, token_id: str) -> None:
    """Revoke one of ``person``'s active tokens; NotFoundError for an id that is none (one
    that could not be an id is not looked for: PostgreSQL refuses NUL bytes)."""
    if not TOKEN_ID.fullmatch(token_id):
        shown = token_id if len(token_id) <= 40 else token_id[:40] + "..."
        raise NotFoundError(f"{person.name} has no token {shown!r}; see its tokens' ids")
    async with engine.begin() as conn:
        result = await conn.execute(
            update(tokens)
            .where(
                tokens.c.id == token_id,
                tokens.c.person_id == person.id,
                tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=datetime.now(UTC))
        )
    if not result.rowcount:
        raise NotFoundError(f"{person.name} has no active token {token_id!r}")


async def rotate_tokens(engine: AsyncEngine, person: Person) -> str:
    """Revoke every active token of ``person`` and make a new one."""
    async with engine.begin() as conn:
        await conn.execute(
            update(tokens)
            .where(tokens.c.person_id == person.id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return await create_token(engine, person, "rotated")


async def person_for_token(engine: AsyncEngine, token: str) -> Person | None:
    """The person an active token belongs to, or None for an unknown, revoked or expired
    token."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    now = datetime.now(UTC)
    async with autocommit(engine).connect() as conn:
        row = (
            await conn.execute(
                select(people, tokens.c.id.label("token_id"), tokens.c.last_used_at)
                .join(tokens, tokens.c.person_id == people.c.id)
                .where(live_token(token, now))
            )
        ).first()
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > USE_RESOLUTION:
        async with engine.begin() as conn:
            await conn.execute(
                update(tokens).where(tokens.c.id == row.token_id).values(last_used_at=now)
            )
    return Person(row.id, row.name, row.created_at, row.interview_done)
