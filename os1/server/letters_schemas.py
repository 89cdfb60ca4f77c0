"""The letters studio's HTTP shapes. The studio checks every value again (names, lengths,
control characters) and answers 400 with the reason; these models fix types and outer bounds."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from os1.server.schemas import PRINTABLE, Out, Strict, Text

#: Control characters a letter or notes may not hold: all but tab, line feed and carriage
#: return (Windows line ends, which the studio turns into plain ones).
_CONTROL = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
#: A letter or notes: at least one visible character, no control characters but tab and line
#: ends.
WRITTEN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
#: A hand's name, or empty (to clear it).
HAND = r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$"

#: One printable line: a name, a title, a label, an address line.
Line = Annotated[Text, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
#: A client's or correspondent's name: printable, one line, no ``/`` (it stands in paths).
_NOT_IN_NAME = r"/\u0000-\u001f\u007f-\u009f"
NAME = rf"^[^{_NOT_IN_NAME}]*[^\s{_NOT_IN_NAME}][^{_NOT_IN_NAME}]*$"
Name = Annotated[Text, Field(min_length=1, max_length=64, pattern=NAME)]
Notes = Annotated[Text, Field(max_length=10_000, pattern=r"^$|" + WRITTEN)]
HandName = Annotated[str, Field(max_length=64, pattern=HAND)]
LetterText = Annotated[Text, Field(min_length=1, max_length=100_000, pattern=WRITTEN)]


def _iso_date(value: object) -> object:
    """A date only as JSON Schema's ``YYYY-MM-DD`` string (not a number of seconds)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a date is written YYYY-MM-DD")
    return date.fromisoformat(value)


IsoDate = Annotated[
    date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})
]


class ClientIn(Strict):
    name: Name
    hand: HandName | None = Field(default=None, description="A learned hand's name.")
    stock_hand: HandName | None = Field(
        default=None, description="The stock hand until the client has their own."
    )
    address: list[Line] = Field(default_factory=list, max_length=12)
    phrases: list[Line] = Field(default_factory=list, max_length=50, description="Their phrases.")
    never_say: list[Line] = Field(default_factory=list, max_length=50)
    notes: Notes = ""


class ClientPatch(Strict):
    name: Name | None = None
    hand: HandName | None = Field(default=None, description="Empty clears it.")
    stock_hand: HandName | None = None
    address: list[Line] | None = Field(default=None, max_length=12)
    phrases: list[Line] | None = Field(default=None, max_length=50)
    never_say: list[Line] | None = Field(default=None, max_length=50)
    notes: Notes | None = None


class ClientOut(Out):
    id: int
    name: str
    hand: str | None
    stock_hand: str | None
    address: list[str]
    phrases: list[str]
    never_say: list[str]
    notes: str
    created_at: datetime


class CorrespondenceIn(Strict):
    client: Name
    name: Name = Field(description="The correspondent.")
    address: list[Line] = Field(default_factory=list, max_length=12)
    relation: Annotated[Text, Field(max_length=200, pattern="^$|" + PRINTABLE)] = ""
    notes: Notes = ""
    since: IsoDate | None = None


class CorrespondencePatch(Strict):
    name: Name | None = None
    address: list[Line] | None = Field(default=None, max_length=12)
    relation: Annotated[Text, Field(max_length=200, pattern="^$|" + PRINTABLE)] | None = None
    notes: Notes | None = None
    since: IsoDate | None = None


class CorrespondenceOut(Out):
    id: int
    client: str
    name: str
    address: list[str]
    relation: str
    notes: str
    since: date | None


class OccasionIn(Strict):
    kind: Literal["anniversary", "birthday", "other"]
    label: Line
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    year: int | None = Field(default=None, ge=1, le=2100, description="When it began.")


class OccasionOut(Out):
    id: int
    correspondence_id: int
    kind: str
    label: str
    month: int
    day: int
    year: int | None


class MentionIn(Strict):
    kind: Literal["name", "place", "history"]
    text: Annotated[Text, Field(min_length=1, max_length=500, pattern=PRINTABLE)]
    letter_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class MentionOut(Out):
    id: int
    correspondence_id: int
    kind: str
    text: str
    letter_id: int | None


class DrewOnOut(Out):
    """What a mind draft was given: past letters, mentions and occasions, by id."""

    letters: list[int]
    mentions: list[int]
    occasions: list[int]


class VersionOut(Out):
    number: int
    text: str
    source: str
    notes: str | None
    drew_on: DrewOnOut
    created_at: datetime


class LetterOut(Out):
    id: int
    correspondence_id: int
    title: str
    status: str
    approved_version: int | None
    sent_on: date | None
    created_at: datetime


class LetterIn(Strict):
    """A new letter: the writer's own ``text``, or ``notes`` for the mind to draft from."""

    correspondence_id: int = Field(ge=1, le=2**31 - 1)
    title: Line
    text: LetterText | None = None
    source: Literal["writer", "dictated"] = "writer"
    notes: Notes | None = Field(default=None, min_length=1)


class SentOut(LetterOut):
    """The sent letter, and the names and places drawn from it into the correspondence's
    mentions."""

    remembered: list[MentionOut]


class LetterMade(Out):
    letter: LetterOut
    version: VersionOut


class VersionIn(Strict):
    text: LetterText
    source: Literal["writer", "dictated"] = "writer"


class DraftIn(Strict):
    notes: Annotated[Text, Field(min_length=1, max_length=10_000, pattern=WRITTEN)]


class ApproveIn(Strict):
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Default: latest.")


class SentIn(Strict):
    on: IsoDate | None = Field(default=None, description="Default: today.")
    mind: bool = Field(
        default=False,
        description="Ask the language model for the names and places the letter mentions "
        "(default: found by rule; the rules answer when the model fails).",
    )


class MentionPatch(Strict):
    text: Annotated[Text, Field(min_length=1, max_length=500, pattern=PRINTABLE)] | None = None
    kind: Literal["name", "place", "history"] | None = None


class DiffOut(Out):
    diff: str


class UpcomingOut(Out):
    occasion: OccasionOut
    on: date
    days: int
    years: int | None
    client: str
    correspondent: str


class BookIn(Strict):
    """A book: the ``letters`` given (approved, in that order), else every approved letter of
    the writer or of ``client``, oldest first."""

    letters: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=100
    )
    client: Name | None = None
    title: Line = "Letters"
    author: Line | None = Field(default=None, description="Default: the writer.")
    face: Literal["handwriting", "typeset"] = "handwriting"
    paper: Literal["letter", "a4"] = "letter"
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
