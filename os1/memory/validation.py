"""Checks on names and text that come from people and files."""

from __future__ import annotations

import unicodedata

from os1.errors import UserInputError

MAX_NAME = 64


def check_person_name(name: str) -> str:
    """A person's name: 1-64 printable characters, surrounding spaces dropped."""
    cleaned = name.strip()
    if not cleaned:
        raise UserInputError("a person's name cannot be empty")
    if len(cleaned) > MAX_NAME:
        raise UserInputError(f"a person's name is at most {MAX_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise UserInputError("a person's name cannot contain control or invisible characters")
    return cleaned


def check_message(text: str, limit: int) -> str:
    """A message a person sends: not blank, not over ``limit`` characters, no NUL bytes."""
    if "\x00" in text:
        raise UserInputError("the message contains NUL bytes; is it binary data?")
    if len(text) > limit:
        raise UserInputError(
            f"the message is too long ({len(text):,} characters; the limit is {limit:,})"
        )
    if not text.strip():
        raise UserInputError("the message is empty")
    return text
