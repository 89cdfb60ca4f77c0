"""Plain data that crosses the memory package's boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Role = Literal["user", "assistant"]
FactOpName = Literal["ADD", "UPDATE", "SUPERSEDE", "DELETE"]
#: Why a fact stopped being current: refined, the world changed, taken back, or corrected by the
#: person.
EndedReason = Literal["updated", "superseded", "retracted", "corrected"]


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    created_at: datetime
    interview_done: bool


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    person_id: int
    started_at: datetime
    source: str
    label: str | None


@dataclass(frozen=True, slots=True)
class Turn:
    id: int
    person_id: int
    conversation_id: int
    role: Role
    content: str
    time: datetime
    speaker: str | None = None
    #: The id the turn had in an imported file, if it came from one.
    external_id: str | None = None

    @property
    def source_id(self) -> str:
        """The id a person knows this turn by: the imported id, else the stored one."""
        return self.external_id if self.external_id is not None else str(self.id)


@dataclass(frozen=True, slots=True)
class NewTurn:
    """A turn to be stored."""

    role: Role
    content: str
    time: datetime
    speaker: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class Fact:
    """Something known about a person, always linked to the turns it came from."""

    id: int
    person_id: int
    kind: str
    key: str
    value: str
    source_turn_ids: tuple[int, ...]
    created_at: datetime
    #: When it stopped being current (None while it is), and why.
    superseded_at: datetime | None = None
    ended_reason: EndedReason | None = None
    #: The fact that took its place (a newer version), if any.
    replaced_by: int | None = None

    @property
    def current(self) -> bool:
        return self.superseded_at is None


@dataclass(frozen=True, slots=True)
class FactOp:
    """One change to a person's facts, decided by distillation.

    ``ADD`` a new fact; ``UPDATE`` refines fact ``fact_id`` (a new version, the old one kept as
    "updated"); ``SUPERSEDE`` says the world changed (the old fact stays as the past); ``DELETE``
    says fact ``fact_id`` was wrong or taken back (kept in history as "retracted", never shown as
    past truth). ``UPDATE`` and ``SUPERSEDE`` keep the old fact's kind and key.
    """

    op: FactOpName
    fact_id: int | None
    kind: str
    key: str
    value: str
    source_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """A few sentences about a person, kept current by distillation."""

    text: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RecallItem:
    """One recalled memory, ready for a prompt or for ``os1 recall --json``."""

    id: str
    text: str
    time: datetime
    score: float
    source_ids: list[str]
    role: Role = "user"
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class Relationship:
    person: str
    first_met: datetime | None
    last_seen: datetime | None
    conversations: int
    turns: int
    days_active: int
    facts: int
    closeness: float
    closeness_label: str


@dataclass(slots=True)
class ImportResult:
    read: int = 0
    imported: int = 0
    skipped_existing: int = 0
    sessions: list[str] = field(default_factory=list)
