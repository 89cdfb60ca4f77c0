"""Facts with history, and the profile: the storage side, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from os1.errors import NotFoundError, UserInputError
from os1.memory.models import FactOp, FactOpName, NewTurn, Person, Turn
from os1.memory.store import SqlStore
from os1.memory.tables import fact_sources

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def said(store: SqlStore, person: Person, *texts: str) -> list[Turn]:
    conv = await store.start_conversation(person)
    return [
        await store.add_turn(
            conv, NewTurn(role="user", content=text, time=T0 + timedelta(minutes=i))
        )
        for i, text in enumerate(texts)
    ]


def add(key: str, value: str, *sources: int, kind: str = "fact") -> FactOp:
    return FactOp("ADD", None, kind, key, value, sources)


def change(op: FactOpName, fact_id: int, value: str = "", *sources: int) -> FactOp:
    return FactOp(op, fact_id, "", "", value, sources)


async def test_ops_keep_history_with_reasons(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    t = await said(
        any_store,
        theo,
        "I live in Lisbon and work as a designer",
        "I design at a startup called Loom",
        "I moved to Berlin",
        "I never had a cat, that was a joke",
    )
    city, job, cat = await any_store.apply_fact_ops(
        theo,
        [
            add("home_city", "Lisbon", t[0].id),
            add("job", "designer", t[0].id),
            add("pet", "a cat", t[0].id),
        ],
    )
    [loom] = await any_store.apply_fact_ops(
        theo, [change("UPDATE", job.id, "designer at Loom", t[1].id)]
    )
    [berlin] = await any_store.apply_fact_ops(
        theo, [change("SUPERSEDE", city.id, "Berlin", t[2].id)]
    )
    assert await any_store.apply_fact_ops(theo, [change("DELETE", cat.id)]) == []

    current = await any_store.list_facts(theo)
    assert [(f.key, f.value) for f in current] == [
        ("job", "designer at Loom"),
        ("home_city", "Berlin"),
    ]
    history = {f.id: f for f in await any_store.list_facts(theo, current=False)}
    assert (history[job.id].ended_reason, history[job.id].replaced_by) == ("updated", loom.id)
    assert (history[city.id].ended_reason, history[city.id].replaced_by) == (
        "superseded",
        berlin.id,
    )
    assert (history[cat.id].ended_reason, history[cat.id].replaced_by) == ("retracted", None)
    assert history[city.id].superseded_at is not None and not history[city.id].current
    # A refinement rests on the old version's turns too; a new state of the world does not.
    assert loom.source_turn_ids == (t[0].id, t[1].id)
    assert berlin.source_turn_ids == (t[2].id,)


async def test_add_of_a_known_fact_is_a_no_op(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    [t] = await said(any_store, theo, "I like jazz")
    await any_store.apply_fact_ops(theo, [add("music", "jazz", t.id, kind="preference")])
    again = await any_store.apply_fact_ops(theo, [add("music", "Jazz", t.id, kind="preference")])
    assert again == [] and len(await any_store.list_facts(theo)) == 1
    punctuated = await any_store.apply_fact_ops(
        theo, [add("music", " JAZZ! ", t.id, kind="preference")]
    )
    assert punctuated == [] and len(await any_store.list_facts(theo)) == 1


async def test_ops_are_all_or_nothing(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    bob = await any_store.ensure_person("bob")
    [mine] = await said(any_store, theo, "I live in Lisbon")
    [his] = await said(any_store, bob, "my PIN is 9931")
    [bobs_fact] = await any_store.apply_fact_ops(bob, [add("pin", "9931", his.id)])
    with pytest.raises(NotFoundError):  # another person's turn is never a source
        await any_store.apply_fact_ops(
            theo, [add("city", "Lisbon", mine.id), add("pin", "1", his.id)]
        )
    with pytest.raises(NotFoundError):  # nor another person's fact a target
        await any_store.apply_fact_ops(
            theo, [add("city", "Lisbon", mine.id), change("DELETE", bobs_fact.id)]
        )
    with pytest.raises(NotFoundError):  # the turns it read were forgotten meanwhile
        await any_store.apply_fact_ops(
            theo,
            [add("city", "Lisbon", mine.id)],
            profile="Theo lives in Lisbon.",
            read_turns=[his.id],
        )
    assert await any_store.list_facts(theo) == []
    assert await any_store.get_profile(theo) is None
    assert [f.value for f in await any_store.list_facts(bob)] == ["9931"]


async def test_only_current_facts_change(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    [t] = await said(any_store, theo, "I live in Lisbon")
    [old] = await any_store.apply_fact_ops(theo, [add("city", "Lisbon", t.id)])
    await any_store.apply_fact_ops(theo, [change("SUPERSEDE", old.id, "Berlin", t.id)])
    with pytest.raises(UserInputError, match="no longer current"):
        await any_store.apply_fact_ops(theo, [change("UPDATE", old.id, "Porto", t.id)])
    with pytest.raises(UserInputError, match="no longer current"):
        await any_store.correct_fact(theo, old.id, "Porto")


async def test_corrections_and_deletions_by_the_person(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    bob = await any_store.ensure_person("bob")
    [t] = await said(any_store, theo, "My sister lives in Lisbon")
    [lisbon] = await any_store.apply_fact_ops(
        theo, [add("sister_city", "Lisbon", t.id)], profile="Theo has a sister in Lisbon."
    )
    porto = await any_store.correct_fact(theo, lisbon.id, "  Porto ")
    assert (porto.value, porto.key, porto.source_turn_ids) == ("Porto", "sister_city", (t.id,))
    old = await any_store.get_fact(theo, lisbon.id)
    assert (old.ended_reason, old.replaced_by) == ("corrected", porto.id)
    assert await any_store.get_profile(theo) is None  # it may say the old value
    assert (await any_store.correct_fact(theo, porto.id, "Porto")).id == porto.id  # no change

    for bad in ["", "   ", "x" * 501, "two\nlines", "nul\x00"]:
        with pytest.raises(UserInputError):
            await any_store.correct_fact(theo, porto.id, bad)
    for fact_id in (porto.id, 10**12):
        with pytest.raises(NotFoundError):
            await any_store.get_fact(bob, fact_id)
        with pytest.raises(NotFoundError):
            await any_store.correct_fact(bob, fact_id, "Oslo")
        with pytest.raises(NotFoundError):
            await any_store.delete_fact(bob, fact_id)

    assert await any_store.delete_fact(theo, lisbon.id) == 2  # the whole history goes
    assert await any_store.list_facts(theo, current=False) == []
    async with any_store.engine.connect() as conn:
        assert (await conn.execute(select(fact_sources))).all() == []


async def test_forget_drops_derived_facts_and_clears_the_profile(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    lisbon, berlin, cello = await said(
        any_store, theo, "I live in Lisbon", "I moved to Berlin", "I play the cello"
    )
    [city] = await any_store.apply_fact_ops(theo, [add("home_city", "Lisbon", lisbon.id)])
    [moved] = await any_store.apply_fact_ops(
        theo, [change("SUPERSEDE", city.id, "Berlin", berlin.id)]
    )
    await any_store.apply_fact_ops(
        theo,
        [add("instrument", "cello", cello.id)],
        profile="Theo lives in Berlin and plays the cello.",
    )
    assert (await any_store.get_profile(theo)) is not None

    assert await any_store.forget(theo, "Berlin") == 1
    # As if the move was never told: Lisbon is current again, the profile is gone.
    assert [(f.key, f.value) for f in await any_store.list_facts(theo)] == [
        ("home_city", "Lisbon"),
        ("instrument", "cello"),
    ]
    assert all(f.id != moved.id for f in await any_store.list_facts(theo, current=False))
    assert await any_store.get_profile(theo) is None
    assert "Berlin" not in repr(await any_store.export(theo))

    await any_store.set_profile(theo, "Theo plays the cello.")
    await any_store.forget(theo, None)
    assert await any_store.list_facts(theo, current=False) == []
    assert await any_store.get_profile(theo) is None


async def test_deleting_a_turn_drops_refinements_of_it(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    first, second = await said(any_store, theo, "I am a designer", "I design at Loom")
    [job] = await any_store.apply_fact_ops(theo, [add("job", "designer", first.id)])
    await any_store.apply_fact_ops(theo, [change("UPDATE", job.id, "designer at Loom", second.id)])
    await any_store.delete_turn(theo, second.id)
    assert [f.value for f in await any_store.list_facts(theo)] == ["designer"]
    await any_store.edit_turn(theo, first.id, "I am a carpenter")
    assert await any_store.list_facts(theo, current=False) == []


async def test_profile_is_checked_and_exported(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    await any_store.set_profile(theo, "Theo writes letters\nfor other people.")
    profile = await any_store.get_profile(theo)
    assert profile is not None and profile.text == "Theo writes letters for other people."
    assert (await any_store.export(theo))["person"]["profile"] == profile.text
    with pytest.raises(UserInputError):
        await any_store.set_profile(theo, "x" * 1001)
    await any_store.set_profile(theo, None)
    assert await any_store.get_profile(theo) is None


async def test_interview_facts_still_supersede(any_store: SqlStore) -> None:
    theo = await any_store.ensure_person("theo")
    first = await any_store.add_fact(theo, "interview", "preferred_name", "Theo", [])
    second = await any_store.add_fact(theo, "interview", "preferred_name", "Ted", [])
    old = await any_store.get_fact(theo, first.id)
    assert (old.ended_reason, old.replaced_by) == ("superseded", second.id)
    assert [f.value for f in await any_store.list_facts(theo)] == ["Ted"]
