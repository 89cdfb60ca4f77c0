"""Audio in and out: 16 kHz mono PCM frames, WAV files, resampling.

Everything inside the voice pipeline is ``float32`` in [-1, 1] at :data:`SAMPLE_RATE`; on the
wire it is little-endian signed 16-bit PCM (``pcm_s16le``).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from os1.errors import UserInputError

SAMPLE_RATE = 16_000
Samples = npt.NDArray[np.float32]
#: A WAV file longer than this is refused, not read.
MAX_WAV_SECONDS = 300.0


def from_pcm16(data: bytes) -> Samples:
    """``pcm_s16le`` bytes as float samples; an odd number of bytes is an error."""
    if len(data) % 2:
        raise UserInputError("PCM s16le audio needs an even number of bytes")
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def to_pcm16(samples: npt.NDArray[np.floating]) -> bytes:
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def resample(samples: Samples, rate: int, to: int = SAMPLE_RATE) -> Samples:
    """``samples`` at ``rate`` resampled to ``to`` (high quality, by libsoxr)."""
    if rate == to or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    import soxr

    return np.asarray(soxr.resample(samples, rate, to), dtype=np.float32)


def read_wav(source: Path | bytes, *, max_seconds: float = MAX_WAV_SECONDS) -> Samples:
    """A PCM WAV file (8, 16, 24 or 32 bits, any rate, any channel count) as mono float samples
    at 16 kHz. Raises :class:`UserInputError` for anything else, with what was wrong."""
    name = "the audio" if isinstance(source, bytes) else str(source)
    try:
        raw = source if isinstance(source, bytes) else source.read_bytes()
    except OSError as exc:
        raise UserInputError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    try:
        with wave.open(io.BytesIO(raw), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            declared = wav.getnframes()
            if rate < 4000 or rate > 192_000:
                raise UserInputError(f"{name}: unsupported sample rate {rate} Hz")
            if declared / rate > max_seconds:
                raise UserInputError(
                    f"{name}: {declared / rate:.0f} s of audio; at most {max_seconds:.0f} s"
                )
            frames = wav.readframes(declared)
    except (wave.Error, EOFError, RuntimeError) as exc:
        # The standard library's chunk reader raises a bare RuntimeError for a chunk whose
        # size points past the end of the file.
        detail = str(exc) or "a chunk runs past the end of the file"
        raise UserInputError(f"{name}: not a PCM WAV file ({detail})") from exc
    got = len(frames) // (channels * width)
    if got < declared:
        raise UserInputError(
            f"{name}: truncated WAV: the header promises {declared} frames, the file holds {got}"
        )
    samples = _decode(frames, width, name).reshape(-1, channels).mean(axis=1)
    return resample(samples.astype(np.float32), rate)


def _decode(frames: bytes, width: int, name: str) -> npt.NDArray[np.float32]:
    if width == 1:  # unsigned 8-bit
        return ((np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0).astype(
            np.float32
        )
    if width == 2:
        return (np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0).astype(np.float32)
    if width == 3:
        bytes3 = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        value = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return (value.astype(np.float32) / float(1 << 23)).astype(np.float32)
    if width == 4:
        return (np.frombuffer(frames, "<i4").astype(np.float64) / 2**31).astype(np.float32)
    raise UserInputError(f"{name}: unsupported sample width of {width} bytes")


def wav_bytes(samples: npt.NDArray[np.floating], rate: int) -> bytes:
    """Mono 16-bit PCM WAV file contents."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(to_pcm16(samples))
    return out.getvalue()


def write_wav(path: Path, samples: npt.NDArray[np.floating], rate: int) -> None:
    path.write_bytes(wav_bytes(samples, rate))
