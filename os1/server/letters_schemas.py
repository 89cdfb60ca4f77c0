"""The letters studio's HTTP shapes. The studio checks every value again (names, lengths,
control characters) and answers 400 with the reason; these models fix types and outer bounds."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from os1.letters.models import (
    Client,
    Correspondence,
    Letter,
    Mention,
    Occasion,
    Upcoming,
    Version,
)
from os1.server.schemas import PRINTABLE, Text

#: Control characters a letter or notes may not hold: all but tab and line feed.
_CONTROL = r"\u0000-\u0008\u000b-\u001f\u007f-\u009f"
#: A letter or notes: at least one visible character, no control characters but tab and line
#: feed.
WRITTEN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
#: A hand's name, or empty (to clear it).
HAND = r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$"

#: One printable line: a name, a title, a label, an address line.
Line = Annotated[Text, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
Name = Annotated[Text, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
Notes = Annotated[Text, Field(max_length=10_000, pattern=r"^$|" + WRITTEN)]
HandName = Annotated[str, Field(max_length=64, pattern=HAND)]
LetterText = Annotated[Text, Field(min_length=1, max_length=100_000, pattern=WRITTEN)]


class _In(BaseModel):
    """A request body: no unknown fields, no type coercion (``true`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _iso_date(value: object) -> object:
    """A date only as JSON Schema's ``YYYY-MM-DD`` string (not a number of seconds)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a date is written YYYY-MM-DD")
    return date.fromisoformat(value)


IsoDate = Annotated[
    date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})
]


class ClientIn(_In):
    name: Name
    hand: HandName | None = Field(default=None, description="A learned hand's name.")
    stock_hand: HandName | None = Field(
        default=None, description="The stock hand until the client has their own."
    )
    address: list[Line] = Field(default_factory=list, max_length=12)
    phrases: list[Line] = Field(default_factory=list, max_length=50, description="Their phrases.")
    never_say: list[Line] = Field(default_factory=list, max_length=50)
    notes: Notes = ""


class ClientPatch(_In):
    name: Name | None = None
    hand: HandName | None = Field(default=None, description="Empty clears it.")
    stock_hand: HandName | None = None
    address: list[Line] | None = Field(default=None, max_length=12)
    phrases: list[Line] | None = Field(default=None, max_length=50)
    never_say: list[Line] | None = Field(default=None, max_length=50)
    notes: Notes | None = None


class ClientOut(BaseModel):
    id: int
    name: str
    hand: str | None
    stock_hand: str | None
    address: list[str]
    phrases: list[str]
    never_say: list[str]
    notes: str
    created_at: datetime

    @classmethod
    def of(cls, c: Client) -> ClientOut:
        return cls(
            id=c.id,
            name=c.name,
            hand=c.hand,
            stock_hand=c.stock_hand,
            address=list(c.address),
            phrases=list(c.phrases),
            never_say=list(c.never_say),
            notes=c.notes,
            created_at=c.created_at,
        )


class CorrespondenceIn(_In):
    client: Name
    name: Name = Field(description="The correspondent.")
    address: list[Line] = Field(default_factory=list, max_length=12)
    relation: Annotated[Text, Field(max_length=200, pattern="^$|" + PRINTABLE)] = ""
    notes: Notes = ""
    since: IsoDate | None = None


class CorrespondencePatch(_In):
    name: Name | None = None
    address: list[Line] | None = Field(default=None, max_length=12)
    relation: Annotated[Text, Field(max_length=200, pattern="^$|" + PRINTABLE)] | None = None
    notes: Notes | None = None
    since: IsoDate | None = None


class CorrespondenceOut(BaseModel):
    id: int
    client: str
    name: str
    address: list[str]
    relation: str
    notes: str
    since: date | None

    @classmethod
    def of(cls, c: Correspondence) -> CorrespondenceOut:
        return cls(
            id=c.id,
            client=c.client,
            name=c.name,
            address=list(c.address),
            relation=c.relation,
            notes=c.notes,
            since=c.since,
        )


class OccasionIn(_In):
    kind: Literal["anniversary", "birthday", "other"]
    label: Line
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    year: int | None = Field(default=None, ge=1, le=2100, description="When it began.")


class OccasionOut(BaseModel):
    id: int
    correspondence_id: int
    kind: str
    label: str
    month: int
    day: int
    year: int | None

    @classmethod
    def of(cls, o: Occasion) -> OccasionOut:
        return cls(
            id=o.id,
            correspondence_id=o.correspondence_id,
            kind=o.kind,
            label=o.label,
            month=o.month,
            day=o.day,
            year=o.year,
        )


class MentionIn(_In):
    kind: Literal["name", "place", "history"]
    text: Annotated[Text, Field(min_length=1, max_length=500, pattern=PRINTABLE)]
    letter_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class MentionOut(BaseModel):
    id: int
    correspondence_id: int
    kind: str
    text: str
    letter_id: int | None

    @classmethod
    def of(cls, m: Mention) -> MentionOut:
        return cls(
            id=m.id,
            correspondence_id=m.correspondence_id,
            kind=m.kind,
            text=m.text,
            letter_id=m.letter_id,
        )


class DrewOnOut(BaseModel):
    """What a mind draft was given: past letters, mentions and occasions, by id."""

    letters: list[int]
    mentions: list[int]
    occasions: list[int]


class VersionOut(BaseModel):
    number: int
    text: str
    source: str
    notes: str | None
    drew_on: DrewOnOut
    created_at: datetime

    @classmethod
    def of(cls, v: Version) -> VersionOut:
        return cls(
            number=v.number,
            text=v.text,
            source=v.source,
            notes=v.notes,
            drew_on=DrewOnOut(
                letters=list(v.drew_on.letters),
                mentions=list(v.drew_on.mentions),
                occasions=list(v.drew_on.occasions),
            ),
            created_at=v.created_at,
        )


class LetterOut(BaseModel):
    id: int
    correspondence_id: int
    title: str
    status: str
    approved_version: int | None
    sent_on: date | None
    created_at: datetime

    @classmethod
    def of(cls, lt: Letter) -> LetterOut:
        return cls(
            id=lt.id,
            correspondence_id=lt.correspondence_id,
            title=lt.title,
            status=lt.status,
            approved_version=lt.approved_version,
            sent_on=lt.sent_on,
            created_at=lt.created_at,
        )


class LetterIn(_In):
    """A new letter: the writer's own ``text``, or ``notes`` for the mind to draft from."""

    correspondence_id: int = Field(ge=1, le=2**31 - 1)
    title: Line
    text: LetterText | None = None
    source: Literal["writer", "dictated"] = "writer"
    notes: Notes | None = Field(default=None, min_length=1)


class LetterMade(BaseModel):
    letter: LetterOut
    version: VersionOut


class VersionIn(_In):
    text: LetterText
    source: Literal["writer", "dictated"] = "writer"


class DraftIn(_In):
    notes: Annotated[Text, Field(min_length=1, max_length=10_000, pattern=WRITTEN)]


class ApproveIn(_In):
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Default: latest.")


class SentIn(_In):
    on: IsoDate | None = Field(default=None, description="Default: today.")


class DiffOut(BaseModel):
    diff: str


class UpcomingOut(BaseModel):
    occasion: OccasionOut
    on: date
    days: int
    years: int | None
    client: str
    correspondent: str

    @classmethod
    def of(cls, u: Upcoming) -> UpcomingOut:
        return cls(
            occasion=OccasionOut.of(u.occasion),
            on=u.on,
            days=u.days,
            years=u.years,
            client=u.client,
            correspondent=u.correspondent,
        )
