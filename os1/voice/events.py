"""What a voice conversation tells its listener, as plain dataclasses. Every event but
:class:`Audio` goes over the wire as JSON (``dataclasses.asdict``), its ``type`` first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from os1.voice.audio import Samples


@dataclass(frozen=True, slots=True)
class Ready:
    input_rate: int
    output_rate: int
    type: Literal["ready"] = "ready"
    input_format: str = "pcm_s16le"
    output_format: str = "pcm_s16le"


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    #: Seconds of input audio before the speech began.
    at_s: float
    type: Literal["speech_started"] = "speech_started"


@dataclass(frozen=True, slots=True)
class Partial:
    text: str
    type: Literal["partial"] = "partial"


@dataclass(frozen=True, slots=True)
class Transcript:
    """The person's whole turn, recognized; empty when it held no words (a cough, noise)."""

    text: str
    type: Literal["transcript"] = "transcript"


@dataclass(frozen=True, slots=True)
class ReplyDelta:
    text: str
    type: Literal["reply_delta"] = "reply_delta"


@dataclass(frozen=True, slots=True)
class Audio:
    """Reply audio: mono float samples at ``rate``; on the wire, binary ``pcm_s16le``."""

    samples: Samples = field(repr=False)
    rate: int
    reply: int
    text: str
    type: Literal["audio"] = "audio"

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    @staticmethod
    def empty(rate: int) -> Audio:
        return Audio(np.zeros(0, np.float32), rate, 0, "")


@dataclass(frozen=True, slots=True)
class Timing:
    """Where the time went from the end of the person's speech to the first reply audio, in
    milliseconds of wall time; ``thinking_ms`` holds storing, recall, the prompt and the model
    until the first speakable chunk of the reply."""

    endpointing_ms: float
    recognition_ms: float
    thinking_ms: float
    synthesis_ms: float
    total_ms: float
    type: Literal["timing"] = "timing"


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The person spoke over the reply: its audio stopped, its generation was cancelled, and
    ``heard`` (what was played, ``played_s`` seconds) is what was stored."""

    heard: str
    played_s: float
    type: Literal["interrupted"] = "interrupted"


@dataclass(frozen=True, slots=True)
class ReplyDone:
    """The reply was spoken to the end; ``text`` is what was stored."""

    text: str
    type: Literal["reply_done"] = "reply_done"


@dataclass(frozen=True, slots=True)
class Failed:
    code: str
    message: str
    retry_after: int | None = None
    type: Literal["error"] = "error"


VoiceEvent = (
    Ready
    | SpeechStarted
    | Partial
    | Transcript
    | ReplyDelta
    | Audio
    | Timing
    | Interrupted
    | ReplyDone
    | Failed
)
