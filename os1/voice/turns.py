"""Turn-taking from VAD probabilities: when speech starts, pauses, resumes and ends.

:class:`Endpointer` is a pure state machine over one probability per frame, counted in audio
time (milliseconds of input), so it does the same thing however fast the audio arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Event = Literal["start", "pause", "resume", "end"]


@dataclass(frozen=True, slots=True)
class TurnRules:
    #: A frame at or above this probability is speech; below ``quiet`` it is silence.
    speech: float = 0.5
    quiet: float = 0.35
    #: Speech this long starts a turn (and interrupts a reply being spoken).
    start_ms: int = 64
    #: Silence this long after speech is a pause: recognition starts, in case the turn is over.
    pause_ms: int = 64
    #: Silence this long ends the turn when the words recognized at the pause end a sentence
    #: ("... last week?"); without them, or when they trail off, ``end_ms`` is waited for.
    quick_end_ms: int = 240
    #: Silence this long ends the turn.
    end_ms: int = 320
    #: A turn this long is ended even without silence.
    max_turn_ms: int = 30_000


class Endpointer:
    """Feed one probability per frame to :meth:`step`; it answers the events that frame
    causes: ``start`` (a turn began ``start_ms`` ago), ``pause``, ``resume`` (speech came back
    before the turn ended), ``end`` (the turn is over)."""

    def __init__(self, rules: TurnRules, frame_ms: float) -> None:
        self.rules = rules
        self.frame_ms = frame_ms
        self.speaking = False
        self.now_ms = 0.0
        #: When the current (or last) turn's speech began and last held speech, in input time.
        self.turn_start_ms = 0.0
        self.last_speech_ms = 0.0
        self._voiced_ms = 0.0
        self._silent_ms = 0.0
        self._paused = False

    @property
    def silent_ms(self) -> float:
        """Silence since the speech of the turn in progress last held."""
        return self._silent_ms if self.speaking else 0.0

    def end_now(self) -> list[Event]:
        """End the turn in progress now (its words already tell it is over)."""
        if not self.speaking:
            return []
        self.speaking, self._voiced_ms = False, 0.0
        return ["end"]

    def step(self, probability: float) -> list[Event]:
        self.now_ms += self.frame_ms
        if not self.speaking:
            return self._idle(probability)
        return self._in_turn(probability)

    def _idle(self, probability: float) -> list[Event]:
        if probability < self.rules.speech:
            self._voiced_ms = 0.0
            return []
        self._voiced_ms += self.frame_ms
        if self._voiced_ms < self.rules.start_ms:
            return []
        self.speaking, self._silent_ms, self._paused = True, 0.0, False
        self.turn_start_ms = self.now_ms - self._voiced_ms
        self.last_speech_ms = self.now_ms
        return ["start"]

    def _in_turn(self, probability: float) -> list[Event]:
        events: list[Event] = []
        if probability >= self.rules.quiet:
            self.last_speech_ms = self.now_ms
            self._silent_ms = 0.0
            if self._paused and probability >= self.rules.speech:
                self._paused = False
                events.append("resume")
        else:
            self._silent_ms += self.frame_ms
            if not self._paused and self._silent_ms >= self.rules.pause_ms:
                self._paused = True
                events.append("pause")
        too_long = self.now_ms - self.turn_start_ms >= self.rules.max_turn_ms
        if self._silent_ms >= self.rules.end_ms or too_long:
            self.speaking, self._voiced_ms = False, 0.0
            events.append("end")
        return events
