"""Checks on what a writer types into the studio: names, labels, notes and letter text.

Each returns the cleaned value or raises :class:`os1.errors.UserInputError` with one line that
says what is wrong, before anything is written.
"""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from collections.abc import Iterable
from datetime import date

from os1.errors import NotFoundError, UserInputError
from os1.memory.validation import MAX_NAME, check_fact_text, check_unicode, has_visible

MAX_LABEL = 200
MAX_LINE = 200
MAX_LINES = 12
MAX_PHRASES = 50
MAX_MENTION = 500
MAX_NOTES = 10_000
#: A letter is at most this many characters; a longer text is refused whole.
MAX_TEXT = 100_000
#: A hand's name, as ``os1.handwriting.hand`` names hands (kept here so that the studio works
#: without the handwriting extra installed).
HAND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Control characters a letter may hold: line breaks and tabs.
_LAYOUT = frozenset("\n\t")


def _has_control(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def line(text: str, what: str, limit: int = MAX_LABEL) -> str:
    """One line of text: not empty, at most ``limit`` characters, no control characters (the
    rule a fact's text follows)."""
    return check_fact_text(text, limit, what)


def name(text: str, what: str = "a name") -> str:
    """A client's or correspondent's name: one line, no ``/`` (names stand in paths)."""
    cleaned = line(text, what, MAX_NAME)
    if "/" in cleaned:
        raise UserInputError(f"{what} cannot contain '/': {cleaned!r}")
    return cleaned


def lines(items: Iterable[str], what: str, most: int = MAX_LINES) -> tuple[str, ...]:
    """Several one-line entries (an address, a client's phrases), each checked."""
    out = tuple(line(item, what, MAX_LINE) for item in items)
    if len(out) > most:
        raise UserInputError(f"at most {most} entries for {what} ({len(out)} given)")
    return out


#: Line ends of other systems and of Unicode, and what each becomes.
_LINE_ENDS = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n\n", "\x85": "\n"})


def text(value: str, what: str = "the letter", limit: int = MAX_TEXT) -> str:
    """Free text (a letter, notes): something visible in it, at most ``limit`` characters, only
    line breaks and tabs among control characters. Line ends of Windows, old Macs and Unicode's
    line and paragraph separators become plain ones; a leading byte-order mark is dropped."""
    value = check_unicode(value, what).removeprefix("\ufeff")
    value = value.replace("\r\n", "\n").translate(_LINE_ENDS)
    if not value.strip():
        raise UserInputError(f"{what} is empty")
    if not has_visible(value):
        raise UserInputError(f"{what} has nothing visible in it (only invisible characters)")
    if len(value) > limit:
        raise UserInputError(f"{what} is too long ({len(value):,} characters; at most {limit:,})")
    if _has_control(value, _LAYOUT):
        raise UserInputError(f"{what} contains control characters; is it binary data?")
    return value


def notes(value: str) -> str:
    """Optional notes: empty is fine."""
    return text(value, "the notes", MAX_NOTES) if value.strip() else ""


def hand(value: str | None) -> str | None:
    """A hand's name, or None (an empty name clears it)."""
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if not HAND_NAME.match(cleaned):
        raise UserInputError(
            "a hand's name is 1-64 letters, digits, '.', '-' or '_', starting with a letter "
            f"or digit: {cleaned!r}"
        )
    return cleaned


def choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise UserInputError(f"{what} must be one of {', '.join(allowed)} (not {value!r})")
    return value


def month_day(month: int, day: int, year: int | None) -> tuple[int, int, int | None]:
    """A date that recurs each year: February 29 is allowed (a leap-day birthday), and with a
    year, the date must exist in that year."""
    if not 1 <= month <= 12:
        raise UserInputError(f"no month {month}: months run from 1 to 12")
    if year is not None:
        if not 1 <= year <= date.today().year + 100:
            raise UserInputError(f"the year {year} is out of range")
        last = monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise UserInputError(f"{year}-{month:02d} has no day {day}")
        return month, day, year
    last = monthrange(2000, month)[1]  # a leap year: February has 29 days
    if not 1 <= day <= last:
        raise UserInputError(f"month {month} has no day {day}")
    return month, day, None


def row_id(value: int, what: str) -> int:
    """An id a person typed; ids live in 32 bits on PostgreSQL."""
    if not 1 <= value <= 2**31 - 1:
        raise NotFoundError(f"no {what} {value}")
    return value
