"""Who uses the language model next.

A model server serves so many requests at once (``OS1_LLM_CONCURRENCY``); OS1 keeps the rest
waiting and chooses the order:

1. **Interactive before background.** A person waiting for a reply goes before memory
   distillation and other work nobody is watching.
2. **Fair shares among people**, after the Virtual Token Counter of Sheng et al., "Fairness in
   Serving Large Language Models" (OSDI 2024): each person has a counter of the model's work
   done for them (prompt tokens plus, weighted, reply tokens), and the waiting request of the
   person with the lowest counter goes next. A person who starts asking is lifted to the lowest
   counter among those being served or waiting for one call, so time away banks no credit; a
   person sending a hundred messages only ever competes with their own counter.
3. **Room for people asking one thing at a time.** Calls are not preempted, so a slot a flood
   holds is one that a person talking may wait up to a whole call for. A backlog (a person
   with other calls waiting, or two in progress already) and background work take a slot only
   while more than the *headroom* are free: a quarter of the slots (``reserve``), or as many as
   people asking one thing at a time held at once in the last ``PEAK_WINDOW_S`` seconds if
   more, but never all of them. A person asking one thing at a time (the reply before may
   still be finishing) takes any free slot. So the model is not kept idle when nobody else
   asks (one person alone still gets three quarters of it), and beside a flood the people
   talking find their usual share free: the flood gets what their busiest moments lately left.
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
#: The pace of the service is measured over the last this many calls to end, once at least
#: PACE_MIN have.
PACE_WINDOW, PACE_MIN = 64, 8
MAX_RETRY_AFTER = 600
#: How far back the most people asking one thing at a time is remembered (seconds).
PEAK_WINDOW_S = 30.0


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
        #: People whose one call in progress is all they asked for, and how many there were
        #: at the starts of such calls (time, count), kept as a sliding-window maximum over
        #: ``PEAK_WINDOW_S`` for ``_headroom``.
        self._solo_people: set[int] = set()
        self._solo_log: deque[tuple[float, int]] = deque()
        #: What a call is charged when it starts (the mean cost so far); corrected at the end.
        self._mean_cost = 100.0

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def in_use(self) -> int:
        return self._busy

    def _floor(self) -> float:
        """The lowest counter among people being served now or waiting for one interactive
        call. A backlog does not count: held back by the headroom (``_headroom``), its counter
        stays low, and the people talking would then never be lifted, so the order among them
        would follow who talked most all day instead of who is owed a turn now."""
        people = set(self._active)
        people.update(p for p, waiting in self._queues["interactive"].items() if len(waiting) == 1)
        return min((self.counters.get(p, 0.0) for p in people), default=0.0)

    def _lift(self, person: int, floor: float) -> None:
        busy = person in self._active or any(person in q for q in self._queues.values())
        if not busy:
            self.counters[person] = max(self.counters.get(person, 0.0), floor)

    def _may_start(self, person: int, kind: Kind, headroom: int, waiting: bool = False) -> bool:
        """Whether a call may take a slot now: any free slot for someone asking one thing at a
        time; for a person with more calls in progress or waiting, and for background work,
        only slots beyond the ``headroom`` kept for the others (``_headroom``). ``waiting``:
        the call is queued already."""
        free = self.slots - self._busy
        if self._solo(person, kind, waiting):
            return free > 0
        return free > headroom

    def _solo(self, person: int, kind: Kind, waiting: bool = False) -> bool:
        """Whether this is an interactive call of someone asking one thing at a time, as people
        talking do: nothing else of theirs waiting, and at most one call in progress (the reply
        before, still finishing as they answer it)."""
        queued = len(self._queues[kind].get(person, ())) - (1 if waiting else 0)
        return kind == "interactive" and not queued and self._active.get(person, 0) <= 1

    def _headroom(self) -> int:
        """Slots kept free for people asking one thing at a time: the reserve, or as many as
        such people held at once lately (within ``PEAK_WINDOW_S``), whichever is more, so a
        burst like the last one finds its slots free, not held by a flood's calls."""
        log = self._solo_log
        while log and log[0][0] < time.monotonic() - PEAK_WINDOW_S:
            log.popleft()
        peak = log[0][1] if log else 0
        return max(self.reserve, min(self.slots - 1, max(peak, len(self._solo_people))))

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
        if self._may_start(person, kind, self._headroom()):
            charged = self._take(person, self._solo(person, kind))
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

    def _take(self, person: int, solo: bool = False) -> float:
        """Give ``person`` a slot, charged as it starts so that queued calls of one person do
        not all look cheap; returns the charge. ``solo``: the person asks one thing at a time
        (see ``_headroom``)."""
        if solo:
            self._solo_people.add(person)
            # A sliding-window maximum: an entry no larger than a newer one can never be the
            # peak again, so the counts left run from the largest (the front) down.
            count, log = len(self._solo_people), self._solo_log
            while log and log[-1][1] <= count:
                log.pop()
            log.append((time.monotonic(), count))
        self._busy += 1
        self._active[person] = self._active.get(person, 0) + 1
        self.counters[person] = self.counters.get(person, 0.0) + self._mean_cost
        return self._mean_cost

    def _finish(self, person: int) -> None:
        self._ended.append(time.monotonic())
        self._solo_people.discard(person)
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
            solo = self._solo(person, kind, waiting=True)
            future = queues[person].popleft()
            self._waiting -= 1
            if not queues[person]:
                del queues[person]
            if not future.done():
                future.set_result(self._take(person, solo))

    def _next(self) -> tuple[Kind, int] | None:
        headroom = self._headroom()
        for kind in ("interactive", "background"):
            ready = [p for p in self._queues[kind] if self._may_start(p, kind, headroom, True)]
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
