"""Reading conversation files for ``os1 import``: JSON Lines, one turn per line.

Each line is ``{"id", "session"?, "role": "user"|"assistant", "speaker"?, "content", "time"}``;
lines without a session are one conversation, labelled with the file's name (or the name given
with ``os1 import --session``). The whole file
is validated before anything is stored; the first bad line is reported with file, line number
and reason, and nothing is imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from os1.errors import ImportFileError
from os1.memory.models import NewTurn
from os1.memory.validation import is_valid_unicode

#: The longest id, session label or speaker name (and file name as a label) kept.
MAX_LABEL = 200


def plain_text(value: str) -> str:
    """``value``, or ValueError when it holds NUL bytes or lone surrogates."""
    if "\x00" in value:
        raise ValueError("contains NUL bytes")
    if not is_valid_unicode(value):
        raise ValueError("is not valid Unicode (lone surrogates)")
    return value


def file_label(file: str) -> str | None:
    """The label of the conversation that a file's lines without a session go to: the file's
    name."""
    return PurePath(file).name[:MAX_LABEL] or None


class ImportLine(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    id: str = Field(min_length=1, max_length=MAX_LABEL)
    session: str | None = Field(default=None, min_length=1, max_length=MAX_LABEL)
    role: Literal["user", "assistant"]
    speaker: str | None = Field(default=None, max_length=MAX_LABEL)
    content: str = Field(min_length=1)
    time: datetime

    @field_validator("content", mode="after")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is blank")
        return value

    @field_validator("time", mode="after")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        """The time with its zone (UTC when it names none), and as UTC it is stored: a time
        that UTC cannot hold (the year 9999 a few hours east of Greenwich) is refused here."""
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        try:
            aware.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("lies outside the years 1 to 9999 in UTC") from exc
        return aware

    @field_validator("content", "id", "session", "speaker", mode="after")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        return None if value is None else plain_text(value)


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "line"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.strip():
            yield number, raw


def parse_jsonl(
    data: bytes, file: str, max_chars: int, unnamed: str | None = ""
) -> list[tuple[str | None, NewTurn]]:
    """Validated (session, turn) pairs, or ImportFileError for the first bad line. A line
    without a session belongs to the conversation labelled ``unnamed``: by default the file's
    name; None when there is no name to give it (a pipe), which makes such a line an error."""
    if unnamed == "":
        unnamed = file_label(file)
    out: list[tuple[str | None, NewTurn]] = []
    first_seen: dict[str, int] = {}
    for number, raw in _lines(data):
        line = _parse_line(raw, file, number, max_chars)
        if line.id in first_seen:
            raise ImportFileError(
                file, number, f"id {line.id!r} already appears on line {first_seen[line.id]}"
            )
        first_seen[line.id] = number
        session = line.session or unnamed
        if session is None:
            raise ImportFileError(
                file,
                number,
                "no session, and nothing to name the conversation after (not a file): "
                "give one with --session NAME",
            )
        out.append(
            (
                session,
                NewTurn(
                    role=line.role,
                    content=line.content,
                    time=line.time,
                    speaker=line.speaker,
                    external_id=line.id,
                ),
            )
        )
    if not out:
        raise ImportFileError(file, 1, "the file holds no turns")
    return out


def _parse_line(raw: bytes, file: str, number: int, max_chars: int) -> ImportLine:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFileError(file, number, f"not valid UTF-8 (byte {exc.start})") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(file, number, f"not valid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise ImportFileError(file, number, "not valid JSON: nested too deeply") from exc
    except ValueError as exc:  # an integer of thousands of digits
        raise ImportFileError(file, number, "not valid JSON: a number too long to read") from exc
    if not isinstance(value, dict):
        raise ImportFileError(file, number, "each line must be a JSON object")
    try:
        line = ImportLine.model_validate(value)
    except ValidationError as exc:
        raise ImportFileError(file, number, _reason(exc)) from exc
    if len(line.content) > max_chars:
        raise ImportFileError(
            file, number, f"content is {len(line.content):,} characters; the limit is {max_chars:,}"
        )
    return line
