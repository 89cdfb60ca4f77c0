"""Time expressions in a question, resolved to a span of time by rule.

"last week", "yesterday", "three days ago", "in May", "in May 2023", "in 2022", "this month",
and whole dates ("on 3 June, 2023", "May 3rd", "2023-06-03"): each becomes a (start, end)
span measured against a reference moment, which recall takes from the conversation itself (its
newest turn), so an imported conversation from years ago resolves "last week" against its own
dates, not today's. A whole date is a span of that one day. Only whole expressions are read;
anything else in the question is ignored.

Two coarser readings serve questions that ask *when* something happened or for how long ("When
did she move to Berlin?", "How long has he had the dog?"): :func:`asks_when` tells such a
question apart, and :func:`says_when` tells a turn that says when something happened ("I moved
last week", "we met on Friday", "back in 2019") from one that does not, so recall can prefer
the second for the first.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS.pop("may", None)
MONTHS["may"] = 5
NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple": 2, "few": 3,
}  # fmt: skip
UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_MONTH_YEAR = re.compile(rf"\b(?:in|during|of|since)?\s*({_MONTH})\b\.?,?\s*(\d{{4}})?", re.I)
_YEAR = re.compile(r"\b(?:in|during|of)\s+(\d{4})\b", re.I)
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_DAY_MONTH = re.compile(rf"\b{_ORDINAL}\s+(?:of\s+)?({_MONTH})\b\.?,?(?:\s*(\d{{4}})\b)?", re.I)
_MONTH_DAY = re.compile(rf"\b({_MONTH})\.?\s+{_ORDINAL}\b,?(?:\s*(\d{{4}})\b)?", re.I)
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_AGO = re.compile(r"\b(\d+|[a-z]+)\s+(day|week|month|year)s?\s+ago\b", re.I)
_LAST = re.compile(r"\b(last|this|past|previous)\s+(day|week|month|year|weekend)\b", re.I)
_SIMPLE = re.compile(r"\b(yesterday|today|tonight|last night)\b", re.I)
_LETTERS = re.compile(r"[^\W\d_]+")
_DIGIT = re.compile(r"\d")

Span = tuple[datetime, datetime]

_WEEKDAY = "|".join(name.lower() for name in calendar.day_name)
_PART = (
    "days?|weeks?|weekend|months?|years?|night|morning|evening|afternoon|"
    f"summer|winter|spring|fall|autumn|{_WEEKDAY}"
)
_COUNT = r"a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|couple of|\d+"
_CAPITALISED_MONTH = "|".join(name for name in calendar.month_name if name and name != "May")
#: A time a turn can name. Month names count only capitalised ("in March"), not as the verbs
#: "may" and "march"; "May" itself is left out, being also the start of many sentences.
_SAYS_WHEN = re.compile(
    r"\b(?i:yesterday|today|tonight|tomorrow|ago|recently|lately|earlier|"
    r"the other (?:day|night|week)|"
    rf"(?:last|next|this|past|coming|few|couple of|that) (?:\w+ )?(?:{_PART})|"
    rf"{_WEEKDAY}|(?:since|for|in) (?:{_COUNT}) (?:days?|weeks?|months?|years?))\b"
    rf"|\b(?:{_CAPITALISED_MONTH})\b|\b(?:19|20)\d\d\b"
)
_ASKS_WHEN = re.compile(
    r"^\W*when\b|\bwhen (?:did|was|is|will|were|does|do|has|had)\b"
    r"|\b(?:what|which) (?:date|day|year|month|week|time)\b|\bhow long\b",
    re.I,
)


def asks_when(question: str) -> bool:
    """Whether ``question`` asks when something happened, or for how long."""
    return _ASKS_WHEN.search(question) is not None


#: Words one of which every match of ``_SAYS_WHEN`` holds, besides a year (``_YEARISH``, a
#: looser shape of it): a text with none of them (most turns) needs no full search.
_YEARISH = re.compile(r"(?:19|20)\d\d")
_WHEN_WORDS = frozenset({
    "yesterday", "today", "tonight", "tomorrow", "ago", "recently", "lately", "earlier", "day",
    "days", "week", "weeks", "weekend", "month", "months", "year", "years", "night", "morning",
    "evening", "afternoon", "summer", "winter", "spring", "fall", "autumn",
}) | {name.lower() for name in (*calendar.day_name, *calendar.month_name) if name}  # fmt: skip


def says_when(text: str, words: Iterable[str] | None = None) -> bool:
    """Whether ``text`` names a time: a day, a date, a month, a year or a relative time.
    ``words``, the text's lower-cased words (``terms.words``) when the caller has them, spare
    the search in a text that holds none of the words a time is named with."""
    if words is not None and _WHEN_WORDS.isdisjoint(words) and _YEARISH.search(text) is None:
        return False
    return _SAYS_WHEN.search(text) is not None


def named_span(text: str, said: float) -> tuple[float, float] | None:
    """The narrowest span of time ``text`` names, as timestamps, resolved against when it was
    said (``said``, a timestamp): "last night" said on 2 May is 1 May. None when it names
    none."""
    found = spans(text, datetime.fromtimestamp(said, UTC))
    if not found:
        return None
    start, end = min(found, key=lambda span: span[1] - span[0])
    return start.timestamp(), end.timestamp()


def spans(text: str, now: datetime) -> list[Span]:
    """Every span of time the text names, resolved against ``now``."""
    found: list[Span] = []
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # The expressions with a month name, a number or "ago" are the slow ones to look for
    # (the month names are long alternations): they are looked for only in a text that has one.
    folded = text.casefold()
    month = not MONTHS.keys().isdisjoint(_LETTERS.findall(folded))
    digits = _DIGIT.search(text) is not None
    for m in _SIMPLE.finditer(text):
        word = m[1].casefold()
        start = day - timedelta(days=1) if word in ("yesterday", "last night") else day
        found.append((start, start + timedelta(days=1)))
    for m in _AGO.finditer(text) if "ago" in folded else ():
        count = int(m[1]) if m[1].isdigit() else NUMBERS.get(m[1].casefold())
        if count is None or count > 100:
            continue
        days = count * UNITS[m[2].casefold()]
        centre = day - timedelta(days=days)
        slack = timedelta(days=max(1, days // 4))
        found.append((centre - slack, centre + slack + timedelta(days=1)))
    for m in _LAST.finditer(text):
        found.append(_recent(m[1].casefold(), m[2].casefold(), day))
    dated, text = _days(text, now) if digits else ([], text)
    found += dated
    for m in _MONTH_YEAR.finditer(text) if month else ():
        if (
            m[1].casefold() == "may"
            and not m[2]
            and not m[0].casefold().startswith(("in", "during"))
        ):
            continue  # "may" the verb
        found.append(_month(MONTHS[m[1].casefold()], int(m[2]) if m[2] else None, now))
    for m in _YEAR.finditer(text) if digits else ():
        year = int(m[1])
        if 1900 <= year <= 2200:
            found.append((datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)))
    return found


def _days(text: str, now: datetime) -> tuple[list[Span], str]:
    """Spans of the whole dates in ``text`` ("3 June, 2023", "June 3rd", "2023-06-03"), and
    the text with those dates blanked out, so their months are not read again as months."""
    found: list[Span] = []

    def take(year: str | None, month: int, day: str) -> None:
        start = _day(int(year) if year else None, month, int(day), now)
        if start is not None:
            found.append((start, start + timedelta(days=1)))

    def blank(match: re.Match[str]) -> str:
        return " " * len(match[0])

    for m in _ISO_DAY.finditer(text):
        take(m[1], int(m[2]), m[3])
    text = _ISO_DAY.sub(blank, text)
    for m in _DAY_MONTH.finditer(text):
        take(m[3], MONTHS[m[2].casefold()], m[1])
    text = _DAY_MONTH.sub(blank, text)
    for m in _MONTH_DAY.finditer(text):
        if m[1] == "may":
            continue  # the verb, as in "what may 5 people do"; the month is written "May"
        take(m[3], MONTHS[m[1].casefold()], m[2])
        text = text[: m.start()] + blank(m) + text[m.end() :]
    return found, text


def _day(year: int | None, month: int, day: int, now: datetime) -> datetime | None:
    """Midnight of that date (the most recent one when the year is not given), or None when
    there is no such date."""
    if not 1 <= month <= 12:
        return None
    if year is None:
        year = now.year if (month, day) <= (now.month, now.day) else now.year - 1
    try:
        return datetime(year, month, day, tzinfo=UTC) if 1900 <= year <= 2200 else None
    except ValueError:
        return None


def _recent(which: str, unit: str, day: datetime) -> Span:
    if unit == "weekend":
        saturday = day - timedelta(days=(day.weekday() - 5) % 7)
        if which != "this" and saturday == day:
            saturday -= timedelta(days=7)
        return saturday, saturday + timedelta(days=2)
    if unit == "day":
        return day - timedelta(days=1), day
    if which == "this":
        days = UNITS[unit]
        return day - timedelta(days=days), day + timedelta(days=1)
    days = UNITS[unit]
    return day - timedelta(days=2 * days), day + timedelta(days=1)


def _month(month: int, year: int | None, now: datetime) -> Span:
    if year is None:
        # The most recent such month, this year's if it has begun.
        year = now.year if month <= now.month else now.year - 1
    if not 1900 <= year <= 2200:
        year = now.year
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end
