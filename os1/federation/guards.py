"""Loop and cost guards for messages from peers: plain state over plain data, no I/O.

Every message is checked, in this order, before the mind sees it: its size, its hop count, its
id (a duplicate is ignored), the peer's rate (a token bucket per peer), and the budget of its
exchange (the A2A context): at most ``max_turns`` messages and ``max_tokens`` estimated tokens
of messages and replies. Two minds left talking to each other therefore stop by themselves.
The state is kept per process, bounded (oldest forgotten first).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TypeVar

from os1.federation.errors import Refusal
from os1.mind.context import estimate_tokens

#: How many message ids and exchanges are remembered, at most.
MEMORY = 50_000
BURST = 5

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Limits:
    max_turns: int = 8
    max_tokens: int = 8000
    max_hops: int = 2
    max_chars: int = 8000
    per_minute: float = 30.0
    burst: int = BURST


@dataclass(slots=True)
class Spent:
    turns: int = 0
    tokens: int = 0


@dataclass(slots=True)
class Bucket:
    tokens: float
    at: float


@dataclass
class Guard:
    limits: Limits
    _seen: OrderedDict[tuple[int, str], None] = field(default_factory=OrderedDict)
    _exchanges: OrderedDict[tuple[int, str], Spent] = field(default_factory=OrderedDict)
    _buckets: dict[int, Bucket] = field(default_factory=dict)

    def admit(self, peer_id: int, message_id: str, exchange: str, text: str, hop: int) -> None:
        """Take the message into its exchange's budget, or raise :class:`Refusal`."""
        self._check_size(text)
        if hop > self.limits.max_hops:
            raise Refusal(
                "hops", f"relayed {hop} times; this instance accepts {self.limits.max_hops}"
            )
        if (peer_id, message_id) in self._seen:
            raise Refusal("duplicate", f"message {message_id!r} was already received; ignored")
        self._take(peer_id)
        spent = self._exchanges.get((peer_id, exchange)) or Spent()
        cost = estimate_tokens(text)
        if spent.turns >= self.limits.max_turns:
            raise Refusal(
                "budget", f"this exchange has used its {self.limits.max_turns} turns; start anew"
            )
        if spent.tokens + cost > self.limits.max_tokens:
            raise Refusal(
                "budget", f"this exchange has used its {self.limits.max_tokens} tokens; start anew"
            )
        spent.turns += 1
        spent.tokens += cost
        self._remember(self._exchanges, (peer_id, exchange), spent)
        self._remember(self._seen, (peer_id, message_id), None)

    def spend(self, peer_id: int, exchange: str, reply: str) -> None:
        """Count a reply against its exchange's token budget."""
        spent = self._exchanges.get((peer_id, exchange))
        if spent is not None:
            spent.tokens += estimate_tokens(reply)

    def _check_size(self, text: str) -> None:
        if not text.strip():
            raise Refusal("invalid", "the message has no text")
        if "\x00" in text:
            raise Refusal("invalid", "the message contains NUL bytes; is it binary data?")
        if len(text) > self.limits.max_chars:
            raise Refusal("too_long", f"the message is over {self.limits.max_chars} characters")

    def _take(self, peer_id: int) -> None:
        now = time.monotonic()
        rate = self.limits.per_minute / 60.0
        bucket = self._buckets.get(peer_id) or Bucket(float(self.limits.burst), now)
        bucket.tokens = min(float(self.limits.burst), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        self._buckets[peer_id] = bucket
        if bucket.tokens < 1.0:
            wait = max(1, math.ceil((1.0 - bucket.tokens) / rate))
            raise Refusal("rate", f"too many messages; retry in {wait} s", retry_after=wait)
        bucket.tokens -= 1.0

    @staticmethod
    def _remember(table: OrderedDict[K, V], key: K, value: V) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > MEMORY:
            table.popitem(last=False)
