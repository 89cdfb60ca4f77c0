"""How well the mind knows a person, and how close they are.

Closeness is a number in [0, 1] built from three things that a person can check for themselves:

* **time together**: distinct days on which they talked, saturating (10 days give ~0.63);
* **depth**: how much they have said, as user turns, saturating (100 turns give ~0.63);
* **knowing**: how many current facts the mind holds about them (20 facts give ~0.63);

weighted 0.45, 0.35 and 0.20, then faded by absence: after 30 days without a word, closeness
counts half as much as it did. Each part is ``1 - exp(-x / scale)``, so the first conversations
matter most and no amount of talk alone reaches 1. Labels: under 0.15 "just met", under 0.35
"getting to know each other", under 0.6 "friends", under 0.8 "close", else "very close".
"""

from __future__ import annotations

import math
from datetime import datetime

from os1.memory.models import Relationship

WEIGHTS = (0.45, 0.35, 0.20)
SCALES = (10.0, 100.0, 20.0)
ABSENCE_HALF_LIFE_DAYS = 30.0
LABELS = (
    (0.15, "just met"),
    (0.35, "getting to know each other"),
    (0.6, "friends"),
    (0.8, "close"),
)


def closeness(days_active: int, turns: int, facts: int, days_since_last: float) -> float:
    parts = (days_active, turns, facts)
    raw = sum(w * (1 - math.exp(-x / s)) for w, x, s in zip(WEIGHTS, parts, SCALES, strict=True))
    fade = math.pow(0.5, max(days_since_last, 0.0) / ABSENCE_HALF_LIFE_DAYS)
    return round(raw * fade, 3)


def label(value: float) -> str:
    for bound, name in LABELS:
        if value < bound:
            return name
    return "very close"


def relationship_from_stats(
    person: str,
    *,
    first_met: datetime | None,
    last_seen: datetime | None,
    conversations: int,
    turns: int,
    days_active: int,
    facts: int,
    now: datetime,
) -> Relationship:
    since = (now - last_seen).total_seconds() / 86_400 if last_seen else 0.0
    value = closeness(days_active, turns, facts, since)
    return Relationship(
        person=person,
        first_met=first_met,
        last_seen=last_seen,
        conversations=conversations,
        turns=turns,
        days_active=days_active,
        facts=facts,
        closeness=value,
        closeness_label=label(value),
    )
