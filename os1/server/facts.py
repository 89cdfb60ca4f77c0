"""Facts and the profile of the person whose token is used: list, correct, delete.

Another person's fact ids are 404, as missing ones are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from os1.server.auth import CurrentPerson, State
from os1.server.errors import COMMON_RESPONSES
from os1.server.native import RowId
from os1.server.schemas import Deleted, FactEdit, FactOut, ProfileOut

router = APIRouter(prefix="/v1", responses=COMMON_RESPONSES)


@router.get("/facts", response_model=list[FactOut], tags=["memories"])
async def list_facts(
    person: CurrentPerson,
    state: State,
    history: Annotated[
        bool, Query(description="Also the facts that ended: updated, superseded, retracted")
    ] = False,
) -> list[FactOut]:
    """What the mind holds to be true about the person, oldest first."""
    found = await state.runtime.store.list_facts(person, current=not history)
    return [FactOut.of(f) for f in found]


@router.patch("/facts/{fact_id:int}", response_model=FactOut, tags=["memories"])
async def correct_fact(
    fact_id: RowId, body: FactEdit, person: CurrentPerson, state: State
) -> FactOut:
    """Correct a current fact: the new version is returned; the old one stays in the history
    as "corrected". A fact that is no longer current is a 400."""
    return FactOut.of(await state.runtime.store.correct_fact(person, fact_id, body.value))


@router.delete("/facts/{fact_id:int}", response_model=Deleted, tags=["memories"])
async def delete_fact(fact_id: RowId, person: CurrentPerson, state: State) -> Deleted:
    """Delete a fact for good, with every version before and after it."""
    await state.runtime.store.delete_fact(person, fact_id)
    return Deleted()


@router.get("/profile", response_model=ProfileOut, tags=["people"])
async def profile(person: CurrentPerson, state: State) -> ProfileOut:
    """The short profile of the person, kept current as facts are distilled (null before)."""
    found = await state.runtime.store.get_profile(person)
    return ProfileOut(
        profile=found.text if found else None, updated_at=found.updated_at if found else None
    )
