"""Plain data that crosses the memory package's boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Role = Literal["user", "assistant"]


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
    superseded_at: datetime | None = None


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
