"""The model scheduler: interactive work first, fair shares among people, refusal when full."""

from __future__ import annotations

import asyncio

import pytest

from os1.mind.scheduler import BusyError, ModelScheduler


async def run_all(scheduler: ModelScheduler, requests: list[tuple[int, str]]) -> list[int]:
    """Start ``requests`` (person, kind) in order while the only slot is held; return the
    order in which they got the model."""
    served: list[int] = []
    gate = asyncio.Event()

    async def one(person: int, kind: str) -> None:
        async with scheduler.use(person, kind) as ticket:  # type: ignore[arg-type]
            served.append(person)
            ticket.prompt_tokens, ticket.reply_tokens = 100, 50
            await asyncio.sleep(0)

    async def hold() -> None:
        async with scheduler.use(0):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    tasks = []
    for person, kind in requests:
        tasks.append(asyncio.create_task(one(person, kind)))
        await asyncio.sleep(0)
    assert scheduler.waiting == len(requests)
    gate.set()
    await asyncio.gather(holder, *tasks)
    assert scheduler.in_use == 0 and scheduler.waiting == 0
    return served


async def test_interactive_work_goes_before_background_work() -> None:
    order = await run_all(
        ModelScheduler(1, 100), [(1, "background"), (2, "background"), (3, "interactive")]
    )
    assert order == [3, 1, 2]


async def test_one_person_flooding_does_not_starve_the_others() -> None:
    requests = [(1, "interactive")] * 30 + [(p, "interactive") for p in range(2, 7)]
    order = await run_all(ModelScheduler(1, 100), requests)
    # The five others asked after the thirty, yet each is served within the first few turns.
    assert max(order.index(p) for p in range(2, 7)) <= 6
    assert order.count(1) == 30


async def test_a_person_returning_banks_no_credit() -> None:
    scheduler = ModelScheduler(1, 100)
    await run_all(scheduler, [(1, "interactive")] * 5 + [(2, "interactive")] * 5)
    assert scheduler.counters[1] > 500 and scheduler.counters[2] > 500
    # Person 3 never asked; arriving while person 1 is served, they start at person 1's
    # counter, not at 0, so they cannot take the next many turns from everyone else.
    async with scheduler.use(1):
        waiting = asyncio.create_task(run_one(scheduler, 3))
        await asyncio.sleep(0.01)
        assert scheduler.counters[3] == scheduler.counters[1]
    await waiting


async def run_one(scheduler: ModelScheduler, person: int) -> None:
    async with scheduler.use(person):
        pass


async def test_a_full_queue_refuses_at_once_with_a_retry_time() -> None:
    scheduler = ModelScheduler(1, 2, typical_s=4)
    gate = asyncio.Event()

    async def hold(person: int) -> None:
        async with scheduler.use(person):
            await gate.wait()

    tasks = [asyncio.create_task(hold(p)) for p in (1, 2, 3)]
    await asyncio.sleep(0.01)
    assert (scheduler.in_use, scheduler.waiting) == (1, 2)
    with pytest.raises(BusyError) as refused:
        async with scheduler.use(4):
            pass
    assert refused.value.retry_after >= 4 and "retry in" in str(refused.value)
    gate.set()
    await asyncio.gather(*tasks)


async def test_a_cancelled_waiter_gives_up_its_place_and_leaks_nothing() -> None:
    scheduler = ModelScheduler(1, 10)
    gate = asyncio.Event()

    async def hold(person: int) -> None:
        async with scheduler.use(person):
            await gate.wait()

    first = asyncio.create_task(hold(1))
    second = asyncio.create_task(hold(2))
    await asyncio.sleep(0.01)
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    assert scheduler.waiting == 0
    gate.set()
    await first
    assert scheduler.in_use == 0
    async with scheduler.use(3):
        assert scheduler.in_use == 1


async def test_a_newcomer_beside_a_flood_starts_at_once() -> None:
    """One person with many calls fills the model but for the reserve; someone with no call
    in progress takes a reserved slot without waiting; the flood is served to the end."""
    scheduler = ModelScheduler(4, 100)  # a reserve of one slot
    assert scheduler.reserve == 1
    gate = asyncio.Event()
    waits: dict[int, list[float]] = {1: [], 2: []}

    async def call(person: int) -> None:
        async with scheduler.use(person) as ticket:
            waits[person].append(ticket.waited_s)
            await gate.wait()

    flood = [asyncio.create_task(call(1)) for _ in range(10)]
    await asyncio.sleep(0.01)
    assert (scheduler.in_use, scheduler.waiting) == (3, 7)  # the model is not left idle
    newcomer = asyncio.create_task(call(2))
    await asyncio.sleep(0.01)
    assert len(waits[2]) == 1 and waits[2][0] < 0.005 and scheduler.in_use == 4
    gate.set()
    await asyncio.gather(newcomer, *flood)
    assert len(waits[1]) == 10 and scheduler.in_use == 0 and scheduler.waiting == 0


async def test_a_flood_leaves_free_what_people_talking_used_at_their_busiest() -> None:
    """Five people asking one thing each held five of eight slots at once a moment ago: a
    flood then takes slots only while more than five are free, though the reserve is two,
    and someone talking still takes any free slot."""
    scheduler = ModelScheduler(8, 100)
    assert scheduler.reserve == 2
    talking = asyncio.Event()
    flood_gate = asyncio.Event()

    async def call(person: int, gate: asyncio.Event) -> None:
        async with scheduler.use(person):
            await gate.wait()

    people = [asyncio.create_task(call(p, talking)) for p in range(1, 6)]
    await asyncio.sleep(0.01)
    assert scheduler.in_use == 5
    talking.set()
    await asyncio.gather(*people)
    flood = [asyncio.create_task(call(99, flood_gate)) for _ in range(10)]
    await asyncio.sleep(0.01)
    # The flood's first call is one at a time as far as anyone can tell; from its second on
    # it is a backlog, and waits while no more than five slots are free.
    assert (scheduler.in_use, scheduler.waiting) == (3, 7)
    async with scheduler.use(7) as ticket:
        assert ticket.waited_s < 0.005 and scheduler.in_use == 4
    flood_gate.set()
    await asyncio.gather(*flood)
    assert scheduler.in_use == 0 and scheduler.waiting == 0


async def test_a_backlogs_low_counter_lets_no_one_returning_bank_credit() -> None:
    """A backlog that has waited all along keeps a low counter, while the people talking now
    have high ones. Person 2, who talked long ago, arrives: they are lifted to the lowest
    counter of those talking now, not to the backlog's, so they queue behind person 1, who
    came first, rather than jumping ahead on credit from long ago."""
    scheduler = ModelScheduler(1, 100, reserve=0)
    gate = asyncio.Event()
    order: list[int] = []

    async def call(person: int) -> None:
        async with scheduler.use(person):
            order.append(person)
            await gate.wait()

    holder = asyncio.create_task(call(3))
    await asyncio.sleep(0.01)
    flood = [asyncio.create_task(call(99)) for _ in range(3)]
    await asyncio.sleep(0.01)
    # Time passes: the holder's share grows, the waiting backlog's does not.
    scheduler.counters.update({3: 5000.0, 1: 5000.0, 2: 50.0})
    first = asyncio.create_task(call(1))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(call(2))
    await asyncio.sleep(0.01)
    assert scheduler.counters[99] < 1000.0
    assert scheduler.counters[2] == scheduler.counters[1] == 5000.0
    gate.set()
    await asyncio.gather(holder, first, second, *flood)
    assert order.index(1) < order.index(2)


async def test_background_work_leaves_the_reserve_free() -> None:
    scheduler = ModelScheduler(4, 100)
    gate = asyncio.Event()

    async def distill(person: int) -> None:
        async with scheduler.use(person, "background"):
            await gate.wait()

    tasks = [asyncio.create_task(distill(p)) for p in range(1, 7)]
    await asyncio.sleep(0.01)
    assert (scheduler.in_use, scheduler.waiting) == (3, 3)
    async with scheduler.use(9) as ticket:
        assert ticket.waited_s < 0.005
    gate.set()
    await asyncio.gather(*tasks)


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        ModelScheduler(0, 10)
    with pytest.raises(ValueError):
        ModelScheduler(4, 10, reserve=4)


async def test_a_wait_longer_than_allowed_is_refused_at_the_recent_pace() -> None:
    """Calls have been ending about ten a second; with one slot and a limit of 1 s, about ten
    requests may wait, and the ones after them are refused at once, with a Retry-After."""
    scheduler = ModelScheduler(1, 1000, max_wait_s=1.0, reserve=0)
    for _ in range(20):  # the pace: one call ending every 0.1 s or a little more
        async with scheduler.use(1):
            await asyncio.sleep(0.1)
    gate = asyncio.Event()
    refused: list[BusyError] = []

    async def hold(person: int) -> None:
        try:
            async with scheduler.use(person):
                await gate.wait()
        except BusyError as exc:
            refused.append(exc)

    tasks = [asyncio.create_task(hold(p)) for p in range(2, 22)]
    await asyncio.sleep(0.01)
    assert 8 <= scheduler.waiting <= 10
    assert len(refused) == 20 - 1 - scheduler.waiting
    assert all(1 <= r.retry_after <= 2 for r in refused)
    gate.set()
    await asyncio.gather(*tasks)
    assert scheduler.waiting == 0 and scheduler.in_use == 0
