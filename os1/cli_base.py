"""What every ``os1`` command shares: the app, settings loading, running a coroutine."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import tomllib
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from os1.errors import ConfigError, UserInputError
from os1.logs import configure_logging
from os1.settings import Settings, config_file_path, load_settings

T = TypeVar("T")

app = typer.Typer(
    help="OS1: an AI companion that remembers each person it talks with.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # a docstring's paragraphs flow; its line breaks do not show
)

PersonOpt = Annotated[
    str, typer.Option("--person", "-p", help="The person meant, by name (see os1 people).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def default_person() -> str:
    """Who is at the keyboard when no name is given: the login, else "friend"."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "friend"


def load_cli_settings(*, server: bool = False) -> Settings:
    """Settings, with logging set up: the server logs its requests (INFO) as JSON by default;
    other commands log warnings only, as plain text."""
    explicit = os.environ.get("OS1_CONFIG")
    if explicit and not Path(explicit).expanduser().is_file():
        raise ConfigError(f"OS1_CONFIG names {explicit}, which is not a file")
    try:
        settings = load_settings()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file_path()}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_file_path()}: not valid UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"{config_file_path()}: cannot read it ({exc.strerror})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "_".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"setting {field} (OS1_{field.upper()} or {config_file_path()}): {first['msg']}"
        ) from exc
    if server:
        level = "INFO" if settings.log_level == "WARNING" else settings.log_level
        configure_logging(level, as_json=settings.log_json)
    else:
        configure_logging(settings.log_level)
    return settings


def read_text(source: Path | str | None, *, most: int, what: str) -> str:
    """UTF-8 text of at most ``most`` characters from the file ``source``, or from standard
    input when it is ``-`` or None. Any failure is one ``UserInputError`` line about ``what``."""
    stdin = source is None or str(source) == "-"
    where = "standard input" if stdin else str(source)
    limit = most * 4 + 1  # bytes: enough for ``most`` characters of any script
    try:
        if stdin:
            data = sys.stdin.buffer.read(limit) if hasattr(sys.stdin, "buffer") else b""
        else:
            with Path(str(source)).open("rb") as handle:
                data = handle.read(limit)
    except FileNotFoundError as exc:
        raise UserInputError(f"{where}: no such file") from exc
    except IsADirectoryError as exc:
        raise UserInputError(f"{where}: is a folder, not a file") from exc
    except OSError as exc:
        raise UserInputError(f"{where}: cannot read it ({exc.strerror})") from exc
    too_long = f"{what} is too long ({where}: longer than {most:,} characters)"
    if len(data) >= limit:
        raise UserInputError(too_long)
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Windows Notepad) is not text
    except UnicodeDecodeError as exc:
        raise UserInputError(
            f"{what} is not UTF-8 text ({where}, byte {exc.start}); is it binary data?"
        ) from exc
    if len(text) > most:
        raise UserInputError(too_long)
    return text


def run_async(coro: Coroutine[Any, Any, T], *, fast_loop: bool = False) -> T:
    """Run ``coro``; ``fast_loop`` runs it on uvloop where that is installed (the server)."""
    if fast_loop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)
