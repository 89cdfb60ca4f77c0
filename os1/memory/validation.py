"""Checks on names and text that come from people and files."""

from __future__ import annotations

import unicodedata

from os1.errors import UserInputError

MAX_NAME = 64


def is_valid_unicode(text: str) -> bool:
    """False for text holding lone surrogates (from JSON escapes such as "\\ud800"), which
    cannot be stored as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_unicode(text: str, what: str = "the text") -> str:
    if not is_valid_unicode(text):
        raise UserInputError(f"{what} is not valid Unicode (it holds lone surrogates)")
    return text


def check_person_name(name: str) -> str:
    """A person's name: 1-64 printable characters, surrounding spaces dropped."""
    cleaned = check_unicode(name, "the name").strip()
    if not cleaned:
        raise UserInputError("a person's name cannot be empty")
    if len(cleaned) > MAX_NAME:
        raise UserInputError(f"a person's name is at most {MAX_NAME} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise UserInputError("a person's name cannot contain control characters")
    if any(ch in _BIDI_CONTROLS for ch in cleaned):  # they make a name read as another
        raise UserInputError("a person's name cannot contain text-direction controls")
    if not has_visible(cleaned):
        raise UserInputError("a person's name needs a visible character")
    if "/" in cleaned:  # a name is a part of URLs: /v1/people/NAME/tokens
        raise UserInputError("a person's name cannot contain '/'")
    return cleaned


def has_visible(text: str) -> bool:
    """Whether ``text`` holds a character that shows: not a space, not a control or format
    character (zero-width spaces and joiners, the byte-order mark, direction marks), and not a
    mark that only chooses how the character before it looks (variation selectors, emoji skin
    tones)."""
    return any(
        not ch.isspace() and not unicodedata.category(ch).startswith("C") and not _selector(ch)
        for ch in text
    )


def _selector(char: str) -> bool:
    point = ord(char)
    return 0xFE00 <= point <= 0xFE0F or 0xE0100 <= point <= 0xE01EF or 0x1F3FB <= point <= 0x1F3FF


#: Embeddings, overrides and isolates of the Unicode bidirectional algorithm.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_message(text: str, limit: int) -> str:
    """A message a person sends: not blank, not over ``limit`` characters, no NUL bytes."""
    check_unicode(text, "the message")
    if "\x00" in text:
        raise UserInputError("the message contains NUL bytes; is it binary data?")
    if len(text) > limit:
        raise UserInputError(
            f"the message is too long ({len(text):,} characters; the limit is {limit:,})"
        )
    if not text.strip():
        raise UserInputError("the message is empty")
    return text


MAX_FACT_KEY = 100
MAX_FACT_VALUE = 500
MAX_PROFILE = 1000


def check_fact_text(text: str, limit: int, what: str = "a fact") -> str:
    """A fact's key or value, or a profile: valid Unicode, printable, at most ``limit``
    characters once surrounding spaces are dropped."""
    cleaned = check_unicode(text, what).strip()
    if not cleaned:
        raise UserInputError(f"{what} cannot be empty")
    if len(cleaned) > limit:
        raise UserInputError(f"{what} is at most {limit} characters ({len(cleaned):,} given)")
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise UserInputError(f"{what} cannot contain control characters or line breaks")
    return cleaned
