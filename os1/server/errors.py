"""Every error the server returns is JSON of one shape, the one OpenAI clients parse:
``{"error": {"message": ..., "type": ..., "code": ...}}``. Domain errors map to status codes here,
in one place.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from os1.errors import (
    BusyError,
    ConfigError,
    LLMError,
    LLMTimeout,
    NotFoundError,
    OS1Error,
    StorageError,
    UserInputError,
)
from os1.server import letters_schemas, schemas

log = logging.getLogger("os1.server")


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class APIError(Exception):
    """An error with its HTTP status, raised by handlers and dependencies."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        kind: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind
        self.headers = headers


STATUS_OF: list[tuple[type[OS1Error], int, str, str]] = [
    (BusyError, 503, "busy", "server_error"),
    (NotFoundError, 404, "not_found", "invalid_request_error"),
    (UserInputError, 400, "invalid_input", "invalid_request_error"),
    (LLMTimeout, 504, "model_timeout", "model_error"),
    (LLMError, 502, "model_unavailable", "model_error"),
    (StorageError, 503, "storage_unavailable", "server_error"),
    (ConfigError, 500, "misconfigured", "server_error"),
]


def error_response(
    status: int, message: str, code: str, kind: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(message=message, type=kind, code=code))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


#: The hint a domain error may end with for people at the command line: "(see `os1 people`)".
_COMMAND_HINT = re.compile(r" \(see `os1 [^`]*`\)$")


def from_domain(exc: OS1Error) -> APIError:
    message = _COMMAND_HINT.sub("", str(exc))  # an API client has no use for a command
    for cls, status, code, kind in STATUS_OF:
        if isinstance(exc, cls):
            headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None
            return APIError(status, message, code, kind, headers)
    return APIError(500, message, "internal_error", "server_error")


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(exc.status, exc.message, exc.code, exc.kind, exc.headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OS1Error)
    api = from_domain(exc)
    if api.status >= 500:
        log.warning("request failed", extra={"path": request.url.path, "error": str(exc)})
    return error_response(api.status, api.message, api.code, api.kind, api.headers)


def _where(loc: tuple[object, ...]) -> str:
    """``("body", "messages", 0, "content", "function-after[...]")`` -> ``messages.0.content``."""
    return ".".join(str(p) for p in loc[1:] if "[" not in str(p))


_VISIBLE = "needs at least one visible character, and no NUL or other control characters"
#: What each pattern of the schemas asks for, in plain words.
PATTERN_WORDS: dict[str, str] = {
    schemas.SAYS_SOMETHING: _VISIBLE,
    schemas.PRINTABLE: _VISIBLE,
    letters_schemas.WRITTEN: "needs at least one visible character, and no control characters "
    "but tabs and line breaks",
    letters_schemas.NAME: "needs at least one visible character, and no / or control characters",
    letters_schemas.HAND: "a hand's name: up to 64 letters, digits, '.', '_' or '-', "
    "the first a letter or digit",
    schemas.PEER_NAME: "a peer's name: up to 40 letters, digits, '.', '_' or '-', "
    "the first a letter or digit",
    schemas.CONVERSATION_ID: "a conversation id: a whole number from 1",
}


def _pattern_words(pattern: str) -> str:
    if pattern.startswith("^$|"):  # may also be left empty
        return "empty, or " + _pattern_words(pattern.removeprefix("^$|"))
    return PATTERN_WORDS.get(pattern, "is not in the form this field takes (see /docs)")


def plain(error: Any) -> str:
    """Pydantic's message, in plain words where it shows its internals (a regular expression,
    "items after validation")."""
    kind, context = error.get("type"), error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return _pattern_words(str(context.get("pattern", "")))
    if kind == "too_long" and "max_length" in context:
        return f"too long: at most {context['max_length']} items"
    return str(error.get("msg"))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        near = loc[-1] if loc else "?"
        message, code, where = f"the body is not valid JSON (near character {near})", None, ""
    else:
        where = _where(loc)
        if loc and loc[0] in ("query", "path", "header"):
            where = f"{loc[0]} {where}".strip()
        said = plain(first)
        message = f"{where}: {said}" if where else said
        code = "invalid_request"
    body = ErrorBody(
        error=ErrorDetail(
            message=message,
            type="invalid_request_error",
            code=code or "invalid_json",
            param=where or None,
        )
    )
    return JSONResponse(body.model_dump(), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else {}
    message = str(exc.detail)
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    if exc.status_code == 400 and "parsing the body" in message:
        message, code = _unreadable(exc.__cause__), "invalid_body"
    return error_response(exc.status_code, message, code, "invalid_request_error", headers)


def _unreadable(cause: BaseException | None) -> str:
    """Why a body that is not a JSON syntax error could not be read."""
    if isinstance(cause, RecursionError):
        return "the body's JSON is nested too deeply"
    if isinstance(cause, ValueError) and not isinstance(cause, UnicodeDecodeError):
        return "the body's JSON has a number too long to read"  # over 4,300 digits
    return "the body is not valid UTF-8 JSON"


def _allowed_methods(request: Request) -> list[str]:
    """Every method a route serves at this path (Starlette names only one route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", extra={"path": request.url.path})
    return error_response(500, "internal error", "internal_error", "server_error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(OS1Error, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


#: Error responses documented on every route, so clients and schema checkers know them.
COMMON_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in [
        (400, "Bad input"),
        (401, "Missing, unknown or revoked token"),
        (403, "Not allowed"),
        (404, "No such thing (or it belongs to someone else)"),
        (409, "The reply was cancelled"),
        (408, "The request body did not arrive in time"),
        (413, "Request body too large"),
        (422, "Request does not match the schema"),
        (429, "Too many requests; see Retry-After"),
        (502, "The language model failed"),
        (503, "Storage unavailable"),
        (504, "The language model timed out"),
    ]
}
