"""How much of a reply's audio the listener has heard, on a clock.

Each chunk starts playing when it is sent or when the one before it ends, whichever is later,
and plays at normal speed. A listener may report what it actually played (``report``), which
then counts instead: the clock cannot know about a client's buffering or pauses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from os1.voice.speech import Spoken


@dataclass(frozen=True, slots=True)
class _Placed:
    spoken: Spoken
    start: float


class Playback:
    """``clock`` gives seconds; ``None`` means the listener hears everything at once (a file
    being written, not a person listening)."""

    def __init__(self, clock: Callable[[], float] | None) -> None:
        self._clock = clock
        self._placed: list[_Placed] = []
        self._reported: float | None = None

    @property
    def chunks(self) -> list[Spoken]:
        return [p.spoken for p in self._placed]

    @property
    def total_s(self) -> float:
        return sum(p.spoken.seconds for p in self._placed)

    def add(self, spoken: Spoken) -> None:
        now = self._clock() if self._clock else 0.0
        if self._placed:
            last = self._placed[-1]
            now = max(now, last.start + last.spoken.seconds)
        self._placed.append(_Placed(spoken, now))

    def report(self, played_s: float) -> None:
        self._reported = max(0.0, min(played_s, self.total_s))

    def played_s(self) -> float:
        if self._reported is not None:
            return self._reported
        if self._clock is None:
            return self.total_s
        now = self._clock()
        return sum(min(max(now - p.start, 0.0), p.spoken.seconds) for p in self._placed)

    def left_s(self) -> float:
        """Seconds until the last chunk sent has finished playing, by the clock."""
        if self._clock is None or not self._placed:
            return 0.0
        last = self._placed[-1]
        return max(last.start + last.spoken.seconds - self._clock(), 0.0)
