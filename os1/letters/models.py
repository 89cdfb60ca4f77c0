"""The letters studio's records, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal


@dataclass(frozen=True)
class LetterDoc:
    """One letter as it goes to paper or into a book: what rendering needs and nothing else.

    ``text`` is the approved version's text; ``sender`` and ``recipient`` are address lines for
    an envelope (empty when unknown); ``hand`` names the client's learned hand, else the stock hand
    chosen for them (None: the default stock hand).
    """

    title: str
    text: str
    client: str
    correspondent: str
    date: date
    hand: str | None = None
    sender: tuple[str, ...] = field(default_factory=tuple)
    recipient: tuple[str, ...] = field(default_factory=tuple)


Kind = Literal["anniversary", "birthday", "other"]
MentionKind = Literal["name", "place", "history"]
Status = Literal["draft", "approved", "sent"]
#: Who wrote a version: the writer typing, the writer dictating, or the mind drafting.
Source = Literal["writer", "dictated", "mind"]

KINDS: tuple[Kind, ...] = ("anniversary", "birthday", "other")
MENTION_KINDS: tuple[MentionKind, ...] = ("name", "place", "history")
SOURCES: tuple[Source, ...] = ("writer", "dictated", "mind")


@dataclass(frozen=True, slots=True)
class Client:
    """Someone a writer writes letters for, with their voice and their hand."""

    id: int
    name: str
    #: A hand learned with ``os1 hand learn``; until there is one, ``stock_hand`` is used.
    hand: str | None
    stock_hand: str | None
    #: The client's own address lines, for the back of an envelope.
    address: tuple[str, ...]
    #: Phrases the client uses, and words or things the client never says.
    phrases: tuple[str, ...]
    never_say: tuple[str, ...]
    notes: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Correspondence:
    """A client and one correspondent, over the years: the letters between them go here."""

    id: int
    client_id: int
    client: str
    name: str
    address: tuple[str, ...]
    relation: str
    notes: str
    since: date | None


@dataclass(frozen=True, slots=True)
class Occasion:
    """A date that comes back each year. ``year`` (if known) is when it began: a wedding, a
    birth; a February 29 falls on February 28 in other years."""

    id: int
    correspondence_id: int
    kind: Kind
    label: str
    month: int
    day: int
    year: int | None


@dataclass(frozen=True, slots=True)
class Mention:
    """A name, place or piece of shared history remembered in a correspondence, and the letter
    it came from, if any."""

    id: int
    correspondence_id: int
    kind: MentionKind
    text: str
    letter_id: int | None


@dataclass(frozen=True, slots=True)
class Letter:
    id: int
    correspondence_id: int
    title: str
    status: Status
    #: The version the writer approved (None while a draft).
    approved_version: int | None
    sent_on: date | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DrewOn:
    """What the mind was given to draft from: past letters of the same correspondence (ids),
    mentions (ids) and occasions (ids). Empty for the writer's own text."""

    letters: tuple[int, ...] = ()
    mentions: tuple[int, ...] = ()
    occasions: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Version:
    letter_id: int
    number: int
    text: str
    source: Source
    #: The notes a mind draft was written from (None for the writer's own text).
    notes: str | None
    drew_on: DrewOn
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Upcoming:
    """An occasion's next date, how many days away, and whose it is. ``years`` counts from
    the occasion's year, when known (a 10th anniversary)."""

    occasion: Occasion
    on: date
    days: int
    years: int | None
    client: str
    correspondent: str


@dataclass(frozen=True, slots=True)
class ClientEdit:
    """Changes to a client; None leaves a field as it is, an empty hand clears it."""

    name: str | None = None
    hand: str | None = None
    stock_hand: str | None = None
    address: tuple[str, ...] | None = None
    phrases: tuple[str, ...] | None = None
    never_say: tuple[str, ...] | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class CorrespondenceEdit:
    """Changes to a correspondence; None leaves a field as it is."""

    name: str | None = None
    address: tuple[str, ...] | None = None
    relation: str | None = None
    notes: str | None = None
    since: date | None = None
