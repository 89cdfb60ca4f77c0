"""Everything stored about one person, as JSON-ready data."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from os1.memory.models import Person, Relationship
from os1.memory.tables import conversations, fact_sources, facts, people, turns

FORMAT = "os1.export/1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def export_person(
    conn: AsyncConnection, person: Person, relationship: Relationship
) -> dict[str, Any]:
    convs = await conn.execute(
        select(conversations)
        .where(conversations.c.person_id == person.id)
        .order_by(conversations.c.id)
    )
    rows = await conn.execute(
        select(turns).where(turns.c.person_id == person.id).order_by(turns.c.id)
    )
    fact_rows = (
        await conn.execute(select(facts).where(facts.c.person_id == person.id).order_by(facts.c.id))
    ).all()
    links = await conn.execute(
        select(fact_sources).where(fact_sources.c.fact_id.in_([f.id for f in fact_rows]))
    )
    sources: dict[int, list[int]] = {}
    for link in links:
        sources.setdefault(link.fact_id, []).append(link.turn_id)
    profile = (
        await conn.execute(
            select(people.c.profile, people.c.profile_updated_at).where(people.c.id == person.id)
        )
    ).first()
    rel = asdict(relationship)
    rel["first_met"], rel["last_seen"] = _iso(relationship.first_met), _iso(relationship.last_seen)
    return {
        "format": FORMAT,
        "person": {
            "name": person.name,
            "created_at": _iso(person.created_at),
            "interview_done": person.interview_done,
            "profile": profile.profile if profile else None,
            "profile_updated_at": _iso(profile.profile_updated_at) if profile else None,
        },
        "relationship": rel,
        "conversations": [
            {"id": c.id, "started_at": _iso(c.started_at), "source": c.source, "label": c.label}
            for c in convs
        ],
        "turns": [
            {
                "id": t.id,
                "external_id": t.external_id,
                "conversation_id": t.conversation_id,
                "role": t.role,
                "speaker": t.speaker,
                "content": t.content,
                "time": _iso(t.created_at),
            }
            for t in rows
        ],
        "facts": [
            {
                "id": f.id,
                "kind": f.kind,
                "key": f.key,
                "value": f.value,
                "created_at": _iso(f.created_at),
                "superseded_at": _iso(f.superseded_at),
                "ended_reason": f.ended_reason,
                "replaced_by": f.replaced_by,
                "source_turn_ids": sorted(sources.get(f.id, [])),
            }
            for f in fact_rows
        ],
    }
