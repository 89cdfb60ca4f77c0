"""A letter dictated aloud: a recording in, its words out, as the text of a new version.

The recording is a WAV file (``os1.voice.audio.read_wav``: any PCM WAV, mono or not, any rate),
at most :data:`MAX_SECONDS` long. Speech recognition hears at most 30 s at once, so a longer
recording is cut into pieces of at most :data:`PIECE_S`, each cut at the quietest moment of the
last few seconds before the limit (between words, as a rule, not through one), and the pieces'
words are joined. Recognition is OS1's own (``voice_stt``: Whisper by default, from the
``voice`` extra).
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from os1.errors import UserInputError
from os1.voice.audio import SAMPLE_RATE, Samples, read_wav

#: The longest recording taken, seconds: ten minutes, a long letter read aloud.
MAX_SECONDS = 600.0
#: A piece given to recognition is at most this long, seconds (Whisper hears 30 s at once).
PIECE_S = 28.0
#: A cut falls in the last this many seconds of a piece, where the sound is quietest.
SEEK_S = 6.0
#: Loudness is measured over frames this long, seconds.
FRAME_S = 0.02

Transcribe = Callable[[Samples], Awaitable[str]]


def recording(source: Path | bytes, name: str = "the recording") -> Samples:
    """The recording's samples (16 kHz mono), or :class:`UserInputError` saying what is wrong
    with it: not a WAV file, truncated, longer than :data:`MAX_SECONDS`, silent."""
    try:
        samples = read_wav(source, max_seconds=MAX_SECONDS)
    except UserInputError:
        raise
    except (RuntimeError, ValueError, struct.error) as exc:  # a header that lies about sizes
        raise UserInputError(f"{name}: not a PCM WAV file (a broken header)") from exc
    if len(samples) < SAMPLE_RATE // 4:
        raise UserInputError(f"{name} holds less than a quarter of a second of audio")
    if float(np.abs(samples).max(initial=0.0)) < 1e-4:
        raise UserInputError(f"{name} is silent")
    return samples


def pieces(samples: Samples) -> list[Samples]:
    """``samples`` cut into pieces of at most :data:`PIECE_S`, each cut where the last
    :data:`SEEK_S` seconds before the limit are quietest."""
    longest, seek = int(PIECE_S * SAMPLE_RATE), int(SEEK_S * SAMPLE_RATE)
    frame = int(FRAME_S * SAMPLE_RATE)
    out, start = [], 0
    while len(samples) - start > longest:
        window = samples[start + longest - seek : start + longest]
        frames = window[: len(window) // frame * frame].reshape(-1, frame)
        loudness = np.sqrt(np.mean(frames**2, axis=1))
        cut = start + longest - seek + int(np.argmin(loudness)) * frame + frame // 2
        out.append(samples[start:cut])
        start = cut
    out.append(samples[start:])
    return out


async def transcribe(samples: Samples, hear: Transcribe, name: str = "the recording") -> str:
    """The words of ``samples``, heard piece by piece with ``hear``; :class:`UserInputError`
    when no words were heard."""
    words = [(await hear(piece)).strip() for piece in pieces(samples)]
    text = " ".join(w for w in words if w)
    if not text:
        raise UserInputError(f"no speech heard in {name}")
    return text + "\n"
