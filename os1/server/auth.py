"""Who is asking: a person's bearer token, or the admin token from settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from os1.memory.accounts import person_for_token, same_secret
from os1.memory.models import Person
from os1.server.errors import APIError
from os1.server.state import ServerState, state_of

bearer = HTTPBearer(auto_error=False, description="A person's token from `os1 person add`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
State = Annotated[ServerState, Depends(state_of)]


def _unauthorized(message: str, code: str) -> APIError:
    return APIError(
        401, message, code, "authentication_error", headers={"WWW-Authenticate": "Bearer"}
    )


async def token_person(state: ServerState, token: str | None) -> Person:
    """The person a token belongs to, after the rate limit; 401 or 429 otherwise."""
    if not token:
        raise _unauthorized("send a bearer token: Authorization: Bearer <token>", "missing_token")
    person = await person_for_token(state.runtime.store.engine, token)
    if person is None:
        raise _unauthorized("the token is unknown, expired or revoked", "invalid_token")
    wait = await state.shared.check(f"person:{person.id}")
    if wait is not None:
        raise APIError(
            429,
            f"too many requests; retry in {wait} s",
            "rate_limited",
            "rate_limit_error",
            headers={"Retry-After": str(wait)},
        )
    return person


async def current_person(request: Request, state: State, credentials: Credentials) -> Person:
    return await token_person(state, credentials.credentials if credentials else None)


async def require_admin(state: State, credentials: Credentials) -> None:
    expected = state.runtime.settings.admin_token
    if expected is None:
        raise APIError(
            403,
            "people are managed with `os1 person` (no OS1_ADMIN_TOKEN is set)",
            "admin_disabled",
            "permission_error",
        )
    if credentials is None or not same_secret(credentials.credentials, expected.get_secret_value()):
        raise _unauthorized("this needs the admin token", "invalid_admin_token")


CurrentPerson = Annotated[Person, Depends(current_person)]
Admin = Depends(require_admin)
