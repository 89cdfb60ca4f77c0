"""Who uses the language model next.

A model server serves so many requests at once (``OS1_LLM_CONCURRENCY``); OS1 keeps the rest
waiting and chooses the order:

1. **Interactive before background.** A person waiting for a reply goes before memory
   distillation and other work nobody is watching.
2. **Fair shares among people**, after the Virtual Token Counter of Sheng et al., "Fairness in
   Serving Large Language Models" (OSDI 2024): each person has a counter of the model's work
   done for them (prompt tokens plus, weighted, reply tokens), and the waiting request of the
   person with the lowest counter goes next. A person who starts asking is lifted to the lowest
   counter among those already waiting or served, so time away banks no credit; a person
   sending a hundred messages only ever competes with their own counter.
3. **Room for newcomers.** A quarter of the slots (``reserve``) is kept for people with no
   call in progress: a person who already has one, background work, and a person far ahead
   of everyone else asking now (``AHEAD``), take a slot only while more than that many are
   free. The model is not kept idle when nobody else asks (one person alone still gets three
   quarters of it), but a person arriving beside a flood finds a slot free at once instead of
   waiting for one of the flood's calls to end.
4. **Admission control.** Past ``OS1_LLM_QUEUE`` waiting requests, or when a new one would
   wait longer than ``OS1_MAX_QUEUE_WAIT`` seconds at the pace calls have been ending, it is
   refused at once with ``BusyError`` (HTTP 503 with ``Retry-After``), never left to hang.

Counters are per process; with several workers each keeps its own, which is fair within each.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from os1.errors import BusyError

Kind = Literal["interactive", "background"]
#: A reply token costs this many prompt tokens (generation is the slow part).
OUTPUT_WEIGHT = 2.0
#: A person whose counter is more than this many typical calls above the lowest among those
#: asking now has had their share: they use only slots beyond the reserve.
AHEAD = 4.0
#: The pace of the service is measured over the last this many calls to end, once at least
#: PACE_MIN have.
PACE_WINDOW, PACE_MIN = 64, 8
MAX_RETRY_AFTER = 600


@dataclass
class Ticket:
    """One use of the model. Count what it did, so the person's counter reflects it."""

    person: int
    kind: Kind
    prompt_tokens: int = 0
    reply_tokens: int = 0
    waited_s: float = 0.0

    def cost(self) -> float:
        return self.prompt_tokens + OUTPUT_WEIGHT * self.reply_tokens


class ModelScheduler:
    def __init__(
        self,
        slots: int,
        max_waiting: int,
        *,
        typical_s: float = 5.0,
        reserve: int | None = None,
        max_wait_s: float | None = None,
    ) -> None:
        if slots < 1 or max_waiting < 0 or (reserve is not None and not 0 <= reserve < slots):
            raise ValueError(
                "slots must be at least 1, max_waiting at least 0, and reserve below slots"
            )
        self.slots = slots
        self.max_waiting = max_waiting
        #: Slots kept for people with no call in progress: someone who already has one (or
        #: background work) takes a slot only while more than this many are free.
        self.reserve = slots // 4 if reserve is None else reserve
        #: A typical model call's length, for the Retry-After of a refusal before any has ended.
        self.typical_s = typical_s
        #: A request that would wait longer than this, at the pace calls have been ending, is
        #: refused at once (None: only ``max_waiting`` refuses).
        self.max_wait_s = max_wait_s
        self._ended: deque[float] = deque(maxlen=PACE_WINDOW)
        self.counters: dict[int, float] = {}
        self._busy = 0
        self._active: dict[int, int] = {}  # person -> calls holding a slot
        #: Waiting requests by kind, then by person, oldest first.
        self._queues: dict[Kind, dict[int, deque[asyncio.Future[float]]]] = {
            "interactive": {},
            "background": {},
        }
        self._waiting = 0
        #: What a call is charged when it starts (the mean cost so far); corrected at the end.
        self._mean_cost = 100.0

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def in_use(self) -> int:
        return self._busy

    def _floor(self) -> float:
        """The lowest counter among people waiting or being served now."""
        people = set(self._active)
        for queue in self._queues.values():
            people.update(queue)
        return min((self.counters.get(p, 0.0) for p in people), default=0.0)

    def _lift(self, person: int, floor: float) -> None:
        busy = person in self._active or any(person in q for q in self._queues.values())
        if not busy:
            self.counters[person] = max(self.counters.get(person, 0.0), floor)

    def _may_start(self, person: int, kind: Kind, floor: float) -> bool:
        """Whether a call may take a slot now: any free slot for a person's first call, only
        slots beyond the reserve for a further call of theirs, for background work, and for
        someone who has had far more than the others asking now (counter above ``floor``)."""
        free = self.slots - self._busy
        if (
            kind == "interactive"
            and not self._active.get(person)
            and self.counters.get(person, 0.0) - floor <= AHEAD * self._mean_cost
        ):
            return free > 0
        return free > self.reserve

    def admit(self) -> None:
        """Raise BusyError if a request made now would be refused; for checking before work
        that should not be done for a request that is then refused (storing a message)."""
        if self._busy >= self.slots and (self._waiting >= self.max_waiting or self._too_long()):
            raise BusyError(self._retry_after())

    @asynccontextmanager
    async def use(
        self, person: int, kind: Kind = "interactive", *, refuse: bool = True
    ) -> AsyncIterator[Ticket]:
        """Hold one of the model's slots for the block; waits its turn, or raises BusyError
        (never with ``refuse=False``: for a request already admitted)."""
        ticket = Ticket(person, kind)
        loop = asyncio.get_running_loop()
        started = loop.time()
        # Lifting a person to the floor leaves the floor where it is: it is computed once.
        floor = self._floor()
        self._lift(person, floor)
        # Whoever waits could not start when they came or at the last release (see _dispatch),
        # so a request that may start now jumps no one who may.
        if self._may_start(person, kind, floor):
            charged = self._take(person)
        else:
            if refuse and (self._waiting >= self.max_waiting or self._too_long()):
                raise BusyError(self._retry_after())
            future: asyncio.Future[float] = loop.create_future()
            self._queues[kind].setdefault(person, deque()).append(future)
            self._waiting += 1
            try:
                charged = await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._finish(person)  # the slot was handed over just as we were cancelled
                else:
                    self._forget(kind, person, future)
                raise
        ticket.waited_s = loop.time() - started
        try:
            yield ticket
        finally:
            cost = ticket.cost() or charged  # work nobody counted costs what it was charged
            self.counters[person] = self.counters.get(person, 0.0) + cost - charged
            self._mean_cost += 0.05 * (max(cost, 1.0) - self._mean_cost)
            self._finish(person)

    def _take(self, person: int) -> float:
        """Give ``person`` a slot, charged as it starts so that queued calls of one person do
        not all look cheap; returns the charge."""
        self._busy += 1
        self._active[person] = self._active.get(person, 0) + 1
        self.counters[person] = self.counters.get(person, 0.0) + self._mean_cost
        return self._mean_cost

    def _finish(self, person: int) -> None:
        self._ended.append(time.monotonic())
        self._busy -= 1
        self._active[person] -= 1
        if not self._active[person]:
            del self._active[person]
        self._dispatch()

    def _forget(self, kind: Kind, person: int, future: asyncio.Future[float]) -> None:
        queue = self._queues[kind].get(person)
        if queue is None or future not in queue:
            return  # already taken out by _dispatch, which saw it cancelled
        queue.remove(future)
        self._waiting -= 1
        if not queue:
            del self._queues[kind][person]

    def _dispatch(self) -> None:
        """Hand free slots to the waiting: interactive requests first; among them the oldest
        request of the person with the lowest counter (on a tie, the one with fewer calls in
        progress), of those who may start."""
        while self._waiting and self._busy < self.slots:
            chosen = self._next()
            if chosen is None:
                return
            kind, person = chosen
            queues = self._queues[kind]
            future = queues[person].popleft()
            self._waiting -= 1
            if not queues[person]:
                del queues[person]
            if not future.done():
                future.set_result(self._take(person))

    def _next(self) -> tuple[Kind, int] | None:
        floor = self._floor()
        for kind in ("interactive", "background"):
            ready = [p for p in self._queues[kind] if self._may_start(p, kind, floor)]
            if ready:
                person = min(
                    ready, key=lambda p: (self.counters.get(p, 0.0), self._active.get(p, 0))
                )
                return kind, person
        return None

    def _too_long(self) -> bool:
        if self.max_wait_s is None:
            return False
        expected = self.expected_wait()
        return expected is not None and expected > self.max_wait_s

    def expected_wait(self) -> float | None:
        """How long a request queued now would wait, at the pace calls have been ending
        lately; None until enough have ended to tell."""
        if len(self._ended) < PACE_MIN:
            return None
        span = self._ended[-1] - self._ended[0]
        if span <= 0:
            return 0.0
        rate = (len(self._ended) - 1) / span
        return (self._waiting + 1) / rate

    def _retry_after(self) -> int:
        expected = self.expected_wait()
        if expected is None:
            expected = (self._waiting + 1) / self.slots * self.typical_s
        return max(1, min(MAX_RETRY_AFTER, math.ceil(expected)))
