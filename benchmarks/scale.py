"""Scale benchmark: recall latency against turns per person, and in a store of many people.

For each backend (SQLite, PostgreSQL) a fresh database is migrated with ``os1.memory.db.migrate``
and filled by bulk insert, in two phases:

1. the *curve* people, one per ``--sizes`` entry (default 1,000, 10,000 and 100,000 turns);
   recall is timed for each of them (``SqlStore.recall(person, question, k=10)``);
2. everyone else, until the store holds ``--people`` people and ``--turns`` turns (default
   10,000 and 2,000,000; most people a few hundred turns); recall is timed for random people,
   and once more for the largest curve person, now in the big store.

Turn texts are LoCoMo turns (read from ``locomo10.json`` at run time, never copied into the
repository), recombined: each turn is one LoCoMo turn, sometimes followed by a second one, with
the speakers' names replaced by random names, spread over months to years of conversations.
Embedding two million turns is out of reach on a CPU, so a pool of ``--pool`` distinct LoCoMo
turns is embedded for real with the store's embedder and each turn gets the vector of the turn
it was built from. Questions are LoCoMo questions (names replaced likewise), embedded for real
by the store at recall time, as in production. The embedder is the settings' default
(``--embedder`` picks another); vectors are stored under its name and size, as the store stores
them, and the run stops if a recall index does not hold every turn and every vector.

Baselines, timed in the same run on questions drawn the same way, for the same people: ``fts``
is one full-text statement (``os1.memory.fulltext.search``, 50 rows), ``dense`` embeds the
question, reads all of the person's vectors from the database and ranks them with numpy (brute
force).

    .venv/bin/python benchmarks/scale.py --quick --no-write     # a few minutes
    .venv/bin/python benchmarks/scale.py                        # writes docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import random
import re
import sqlite3
import sys
import tempfile
import textwrap
import time
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import asyncpg
import numpy as np
import report
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from os1.memory import fulltext
from os1.memory.db import make_engine, migrate
from os1.memory.embed import Embedder, from_blobs, to_blob
from os1.memory.embedqueue import embed_turns
from os1.memory.models import Person, Turn
from os1.memory.store import SqlStore
from os1.memory.tables import conversations, people, turn_vectors, turns
from os1.runtime import make_embedder
from os1.settings import Settings

DESCRIPTION = "Recall latency against turns per person, and in a store of many people."
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "locomo" / "locomo10.json"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
BACKENDS = ("sqlite", "postgresql")
EMBEDDERS = tuple(
    e for e in typing.get_args(Settings.model_fields["embedder"].annotation) if e != "none"
)
SECTION = "scale"
#: Items asked of recall, as the prompt builder does.
K = 10
#: Rows the baselines return (recall's own candidate pool is its business).
BASELINE_ROWS = 50
#: The issue's target for recall p95.
TARGET_MS = 50.0
#: Turns written per transaction while building.
BATCH = 20_000
#: Every history ends before this moment; histories reach back months to years.
END = datetime(2026, 1, 1, tzinfo=UTC)
#: Names that replace LoCoMo's speakers in turn texts and questions (with LoCoMo's own).
EXTRA_NAMES = (
    "Ada Alex Amara Ana Ben Carlos Chen Dana Elif Emma Farah Grace Hana Ines Ivan Jamal Jonas "
    "Kai Keiko Lars Leila Lena Luca Maya Mei Mateo Nia Noah Olga Omar Priya Rafael Rosa Sam "
    "Sara Tariq Theo Uma Wei Yusuf Zoe"
)

FIRST = "os1 recall, first for the person"
WARM = "os1 recall"
#: The same recall over an index holding its vectors in float32, as it did before half
#: precision: asked the same questions, in turn with ``WARM``.
WIDE = "os1 recall, float32 vectors"
AGAIN = "os1 recall, person seen before"
FTS = "fts (one statement)"
DENSE = "dense brute force"
DENSE_READ = "dense: read vectors"
DENSE_EMBED = "dense: embed question"
DENSE_SCORE = "dense: score and sort"

TurnRow = tuple[int, int, int, str, str | None, str, datetime, str | None]
TURN_COLUMNS = (
    "id",
    "person_id",
    "conversation_id",
    "role",
    "speaker",
    "content",
    "created_at",
    "external_id",
)
ConversationRow = tuple[int, int, datetime, str, str | None]
CONVERSATION_COLUMNS = ("id", "person_id", "started_at", "source", "label")
PersonRow = tuple[int, str, datetime, bool]
PERSON_COLUMNS = ("id", "name", "created_at", "interview_done")
VectorRow = tuple[int, int, str, bytes, bytes]
VECTOR_COLUMNS = ("turn_id", "person_id", "model", "vector", "parts")


# -- options ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Options:
    backends: tuple[str, ...]
    sizes: tuple[int, ...]
    people: int
    turns: int
    queries: int
    big_queries: int
    cold: int
    pool: int
    embedder: str
    budget_s: float
    seed: int
    data: Path
    postgres_url: str
    tmp: Path | None
    out: Path
    write: bool
    quick: bool
    profile: bool


def _ints(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v.replace("_", "").replace(",", "")) for v in value.split(",") if v)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {value!r}") from exc
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("give one or more positive sizes, e.g. 1000,10000")
    return tuple(sorted(set(sizes)))


def parse_args(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="small run for development")
    parser.add_argument(
        "--sizes", type=_ints, help="turns of each curve person (1000,10000,100000)"
    )
    parser.add_argument("--people", type=int, help="people in the big store (10000)")
    parser.add_argument("--turns", type=int, help="turns in the big store (2000000)")
    parser.add_argument("--queries", type=int, help="questions per curve person (200)")
    parser.add_argument("--big-queries", type=int, help="random people asked in the big store")
    parser.add_argument("--cold", type=int, default=3, help="first recalls per curve person")
    parser.add_argument("--pool", type=int, help="distinct sentences embedded for real (2000)")
    parser.add_argument(
        "--embedder",
        choices=EMBEDDERS,
        default=Settings.model_fields["embedder"].default,
        help="the embedding model of the store (default: the settings' default)",
    )
    parser.add_argument(
        "--budget-s", type=float, default=90.0, help="seconds of questions per person at most"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo10.json")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="server; a fresh database is made"
    )
    parser.add_argument("--tmp", type=Path, help="folder for the SQLite database")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        help="write the section of --out (default: yes, except with --quick)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the largest person")
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    if not backends or set(backends) - set(BACKENDS):
        parser.error(f"--backends takes a comma-separated subset of {','.join(BACKENDS)}")
    quick = bool(args.quick)
    sizes = args.sizes or ((1_000, 10_000) if quick else (1_000, 10_000, 100_000))
    options = Options(
        backends=backends,
        sizes=sizes,
        people=args.people or (100 if quick else 10_000),
        turns=args.turns or (100_000 if quick else 2_000_000),
        queries=args.queries or (50 if quick else 200),
        big_queries=args.big_queries or (50 if quick else 200),
        cold=args.cold,
        pool=args.pool or (500 if quick else 2_000),
        embedder=args.embedder,
        budget_s=args.budget_s,
        seed=args.seed,
        data=args.data,
        postgres_url=args.postgres_url,
        tmp=args.tmp,
        out=args.out,
        write=(not quick) if args.write is None else bool(args.write),
        quick=quick,
        profile=bool(args.profile),
    )
    if options.people <= len(options.sizes):
        parser.error("--people must exceed the number of --sizes (the curve people)")
    if options.turns < sum(options.sizes) + options.people - len(options.sizes):
        parser.error("--turns must cover the curve people and one turn for everyone else")
    if min(options.queries, options.big_queries, options.pool) < 1 or options.cold < 0:
        parser.error("--queries, --big-queries and --pool must be positive, --cold not negative")
    return options


# -- text and vectors --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Corpus:
    """LoCoMo turn texts and questions, each split where a speaker's name stood."""

    texts: list[str]
    templates: list[list[str]]
    questions: list[list[str]]
    names: list[str]


def load_corpus(path: Path) -> Corpus:
    data = json.loads(path.read_text(encoding="utf-8"))
    speakers = sorted({c["conversation"][k] for c in data for k in ("speaker_a", "speaker_b")})
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in speakers) + r")\b")
    seen: dict[str, None] = {}
    for sample in data:
        for key, session in sample["conversation"].items():
            if key.startswith("session_") and isinstance(session, list):
                for turn in session:
                    content = str(turn.get("text") or "").strip()
                    if content:
                        seen.setdefault(content, None)
    texts = list(seen)
    questions = list(dict.fromkeys(str(q["question"]) for s in data for q in s["qa"]))
    return Corpus(
        texts=texts,
        templates=[pattern.split(t) for t in texts],
        questions=[pattern.split(q) for q in questions],
        names=sorted({*speakers, *EXTRA_NAMES.split()}),
    )


def fill(parts: Sequence[str], names: Sequence[str], rng: random.Random) -> str:
    """A template with a random name in each gap."""
    if len(parts) == 1:
        return parts[0]
    return parts[0] + "".join(rng.choice(names) + p for p in parts[1:])


@dataclass(frozen=True, slots=True)
class Pool:
    """Corpus texts embedded for real, as the store embeds a turn: ``ids[i]`` is a corpus
    index, ``blobs[i]`` its vector and ``part_blobs[i]`` the vectors of its parts (empty for
    most)."""

    ids: list[int]
    blobs: list[bytes]
    part_blobs: list[bytes]
    seconds: float
    cached: Path | None
    model: str

    @property
    def parts(self) -> int:
        """How many part vectors the pool holds."""
        return sum(len(b) for b in self.part_blobs) // max(1, len(self.blobs[0]))


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "os1-bench"


async def embed_pool(corpus: Corpus, size: int, seed: int, embedder: Embedder) -> Pool:
    """Embed ``size`` distinct corpus texts as the store embeds turns (``embed_turns``: long
    ones in parts), or read them from the cache outside the repo."""
    chosen = sorted(
        random.Random(seed).sample(range(len(corpus.texts)), min(size, len(corpus.texts)))
    )
    key = ["parts", embedder.name, str(embedder.dim), *(corpus.texts[i] for i in chosen)]
    digest = hashlib.sha256("\0".join(key).encode())
    path = _cache_dir() / f"scale-pool-{digest.hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path) as saved:
            vectors, flat, counts = saved["vectors"], saved["parts"], saved["counts"]
        split = np.split(flat, np.cumsum(counts)[:-1])
        return _pool(chosen, vectors, split, 0.0, path, embedder.name)
    started = time.perf_counter()
    wholes, split = [], []
    for start in range(0, len(chosen), 64):
        batch = [_pool_turn(corpus.texts[i]) for i in chosen[start : start + 64]]
        whole, pieces = await embed_turns(embedder, batch)
        wholes.append(whole)
        split += pieces
        _say(f"embedding the pool: {min(start + 64, len(chosen))}/{len(chosen)}", end="\r")
    _say("")
    vectors = np.concatenate(wholes)
    seconds = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = np.concatenate([p.reshape(-1, embedder.dim) for p in split])
    np.savez(path, vectors=vectors, parts=flat, counts=np.array([len(p) for p in split]))
    return _pool(chosen, vectors, split, seconds, None, embedder.name)


def _pool_turn(text: str) -> Turn:
    return Turn(0, 0, 0, "user", text, END)


def _pool(
    chosen: list[int],
    vectors: np.ndarray,
    split: Sequence[np.ndarray],
    seconds: float,
    cached: Path | None,
    model: str,
) -> Pool:
    blobs, part_blobs = [to_blob(v) for v in vectors], [to_blob(p) for p in split]
    return Pool(chosen, blobs, part_blobs, seconds, cached, model)


# -- who holds how many turns ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    turns: int


def plan_people(options: Options, rng: np.random.Generator) -> tuple[list[Plan], list[Plan]]:
    """The curve people, and everyone else: a long-tailed spread (log-normal) of the turns
    left, so most hold a few hundred and a few hold thousands."""
    curve = [Plan(f"curve-{n}", n) for n in options.sizes]
    count = options.people - len(curve)
    left = options.turns - sum(options.sizes)
    weights = rng.lognormal(0.0, 0.7, count)
    shares = np.maximum(1, np.floor(weights / weights.sum() * left)).astype(np.int64)
    short = left - int(shares.sum())
    while short != 0:  # hand out (or take back) what rounding left over
        pick = rng.integers(0, count, abs(short))
        if short > 0:
            np.add.at(shares, pick, 1)
        else:
            shares[pick] = np.maximum(1, shares[pick] - 1)
        short = left - int(shares.sum())
    rest = [Plan(f"person-{i:05d}", int(n)) for i, n in enumerate(shares)]
    return curve, rest


class Synth:
    """Rows for people, conversations, turns and vectors, with ids handed out in order."""

    def __init__(self, corpus: Corpus, pool: Pool, model: str, seed: int) -> None:
        self.corpus = corpus
        self.pool = pool
        self.model = model
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.person_id = self.conversation_id = self.turn_id = 0

    def person(
        self, plan: Plan
    ) -> tuple[PersonRow, list[ConversationRow], list[TurnRow], list[VectorRow]]:
        rng, names, n = self.rng, self.corpus.names, plan.turns
        self.person_id += 1
        pid = self.person_id
        own = rng.choice(names)
        span = timedelta(days=rng.uniform(120, 5 * 365)).total_seconds()
        last = END.timestamp() - rng.uniform(0, 60 * 86400)
        stamps = np.sort(self.np_rng.uniform(last - span, last, n))
        bases = self.np_rng.integers(0, len(self.pool.ids), n)
        extras = self.np_rng.integers(0, len(self.corpus.texts), n)
        seconds = self.np_rng.random(n)
        sessions = max(1, min(50, n // 2_000 + 1))
        bounds = np.linspace(0, n, sessions + 1).astype(int)
        convs: list[ConversationRow] = []
        rows: list[TurnRow] = []
        vectors: list[VectorRow] = []
        templates, blobs, pool_ids = self.corpus.templates, self.pool.blobs, self.pool.ids
        part_blobs = self.pool.part_blobs
        for s in range(sessions):
            self.conversation_id += 1
            cid = self.conversation_id
            first = datetime.fromtimestamp(float(stamps[bounds[s]]), UTC)
            convs.append((cid, pid, first, "import", f"session-{s + 1}"))
            friend = rng.choice(names)
            for i in range(int(bounds[s]), int(bounds[s + 1])):
                self.turn_id += 1
                base = int(bases[i])
                content = fill(templates[pool_ids[base]], names, rng)
                if seconds[i] < 0.3:
                    content += " " + fill(templates[int(extras[i])], names, rng)
                role = "user" if i % 2 == 0 else "assistant"
                when = datetime.fromtimestamp(float(stamps[i]), UTC)
                speaker = own if role == "user" else friend
                rows.append((self.turn_id, pid, cid, role, speaker, content, when, None))
                vectors.append((self.turn_id, pid, self.model, blobs[base], part_blobs[base]))
        created = datetime.fromtimestamp(float(stamps[0]) - 3600, UTC)
        return (pid, plan.name, created, True), convs, rows, vectors

    def question(self) -> str:
        return fill(self.rng.choice(self.corpus.questions), self.corpus.names, self.rng)


# -- bulk loading ------------------------------------------------------------------------------
class Loader(Protocol):
    async def start(self) -> None: ...

    async def add(
        self,
        persons: Sequence[PersonRow],
        convs: Sequence[ConversationRow],
        rows: Sequence[TurnRow],
        vectors: Sequence[VectorRow],
    ) -> None: ...

    async def finish(self) -> None: ...


class SqliteLoader:
    """SQLAlchemy Core executemany on one connection, ``synchronous=OFF`` for the build only;
    the full-text index is filled by ``fulltext.index``, as the store fills it. Rows arrive in
    (person, id) order, so the B-tree indexes grow at their ends and stay in place."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def start(self) -> None:
        self.engine = make_engine(self.url)
        self.conn = await self.engine.connect()
        # On the driver's own connection, before any transaction: SQLAlchemy would run them
        # inside the one OS1's engine begins (BEGIN IMMEDIATE), where SQLite refuses them.
        raw = (await self.conn.get_raw_connection()).driver_connection
        for pragma in ("synchronous=OFF", "foreign_keys=OFF", "cache_size=-262144"):
            await raw.execute(f"PRAGMA {pragma}")

    async def add(
        self,
        persons: Sequence[PersonRow],
        convs: Sequence[ConversationRow],
        rows: Sequence[TurnRow],
        vectors: Sequence[VectorRow],
    ) -> None:
        conn = self.conn
        if persons:
            await conn.execute(
                insert(people), [dict(zip(PERSON_COLUMNS, p, strict=True)) for p in persons]
            )
        if convs:
            await conn.execute(
                insert(conversations),
                [dict(zip(CONVERSATION_COLUMNS, c, strict=True)) for c in convs],
            )
        if rows:
            await conn.execute(
                insert(turns), [dict(zip(TURN_COLUMNS, r, strict=True)) for r in rows]
            )
            await fulltext.index(conn, [(r[0], r[5]) for r in rows])
            await conn.execute(
                insert(turn_vectors), [dict(zip(VECTOR_COLUMNS, v, strict=True)) for v in vectors]
            )
        await conn.commit()

    async def finish(self) -> None:
        await self.conn.close()
        await self.engine.dispose()


_DEFERRABLE_INDEXES = """
SELECT c.relname AS name, pg_get_indexdef(c.oid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relname IN ('turns', 'turn_vectors')
  AND t.relnamespace = current_schema()::regnamespace
  AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""


class PostgresLoader:
    """COPY through asyncpg, foreign-key triggers off (the rows are consistent by
    construction); secondary indexes of turns and turn_vectors (the tsvector GIN index among
    them) are dropped before and made again after, then VACUUM ANALYZE stands in for
    autovacuum. The generated tsvector column fills itself on COPY."""

    def __init__(self, url: str) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(False)

    async def start(self) -> None:
        self.conn = await asyncpg.connect(self.dsn)
        await self.conn.execute("SET session_replication_role = replica")
        await self.conn.execute("SET maintenance_work_mem = '512MB'")
        self.deferred = await self.conn.fetch(_DEFERRABLE_INDEXES)
        for row in self.deferred:
            await self.conn.execute(f'DROP INDEX "{row["name"]}"')

    async def add(
        self,
        persons: Sequence[PersonRow],
        convs: Sequence[ConversationRow],
        rows: Sequence[TurnRow],
        vectors: Sequence[VectorRow],
    ) -> None:
        async with self.conn.transaction():
            for table, columns, records in (
                ("people", PERSON_COLUMNS, persons),
                ("conversations", CONVERSATION_COLUMNS, convs),
                ("turns", TURN_COLUMNS, rows),
                ("turn_vectors", VECTOR_COLUMNS, vectors),
            ):
                if records:
                    await self.conn.copy_records_to_table(
                        table, records=records, columns=list(columns)
                    )

    async def finish(self) -> None:
        for row in self.deferred:
            await self.conn.execute(row["definition"])
        for table in ("people", "conversations", "turns"):
            await self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        await self.conn.execute("VACUUM ANALYZE")
        await self.conn.close()


@dataclass(frozen=True, slots=True)
class Build:
    phase: str
    people: int
    turns: int
    seconds: float


async def build(loader: Loader, synth: Synth, plans: Sequence[Plan], phase: str) -> Build:
    started = time.perf_counter()
    await loader.start()
    persons: list[PersonRow] = []
    convs: list[ConversationRow] = []
    rows: list[TurnRow] = []
    vectors: list[VectorRow] = []
    done = 0
    for plan in plans:
        person, c, r, v = synth.person(plan)
        persons.append(person)
        convs += c
        rows += r
        vectors += v
        if len(rows) >= BATCH:
            for start in range(0, len(rows), BATCH):
                end = start + BATCH
                await loader.add(persons, convs, rows[start:end], vectors[start:end])
                persons, convs = [], []
            done += len(rows)
            rows, vectors = [], []
            rate = done / (time.perf_counter() - started)
            _say(f"{phase}: {done:,} turns, {rate:,.0f} turns/s", end="\r")
    await loader.add(persons, convs, rows, vectors)
    done += len(rows)
    _say(f"{phase}: {done:,} turns, finishing (indexes)" + " " * 20, end="\r")
    await loader.finish()
    seconds = time.perf_counter() - started
    _say(f"{phase}: {len(plans):,} people, {done:,} turns in {seconds:.0f} s" + " " * 20)
    return Build(phase, len(plans), done, seconds)


# -- measuring ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Samples:
    """Seconds per call, by system; and how many os1 recalls came back empty."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    empty: int = 0
    capped: set[str] = field(default_factory=set)

    def add(self, system: str, seconds: float) -> None:
        self.seconds.setdefault(system, []).append(seconds)


@dataclass(frozen=True, slots=True)
class Stat:
    n: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stat:
        ms = 1000 * np.asarray(seconds, dtype=np.float64)
        if not len(ms):
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"))
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        return cls(len(ms), float(p50), float(p95), float(p99), float(ms.max()))


@dataclass(slots=True)
class Bench:
    """What one backend's measurements need."""

    backend: str
    engine: AsyncEngine
    embedder: Embedder
    synth: Synth
    options: Options


def _store(bench: Bench) -> SqlStore:
    """A store object as ``os1.runtime.open_store`` makes one, with the default index budget."""
    budget = Settings.model_fields["recall_cache_mb"].default * 2**20
    return SqlStore(bench.engine, bench.embedder, index_budget_bytes=budget)


async def _timed_recall(
    bench: Bench,
    store: SqlStore,
    person: Person,
    samples: Samples,
    system: str,
    question: str | None = None,
) -> None:
    question = question or bench.synth.question()
    started = time.perf_counter()
    items = await store.recall(person, question, K)
    samples.add(system, time.perf_counter() - started)
    samples.empty += not items


async def _baselines(bench: Bench, person: Person, samples: Samples) -> None:
    question = bench.synth.question()
    started = time.perf_counter()
    async with bench.engine.connect() as conn:
        await fulltext.search(conn, person.id, question, BASELINE_ROWS)
    samples.add(FTS, time.perf_counter() - started)
    await _dense(bench, person, question, samples)


async def _dense(bench: Bench, person: Person, question: str, samples: Samples) -> list[int]:
    embedder = bench.embedder
    started = time.perf_counter()
    query = await embedder.query(question)
    embedded = time.perf_counter()
    async with bench.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(turn_vectors.c.turn_id, turn_vectors.c.vector).where(
                    turn_vectors.c.person_id == person.id,
                    turn_vectors.c.model == embedder.name,
                )
            )
        ).all()
    matrix = from_blobs([r.vector for r in rows], embedder.dim)
    read = time.perf_counter()
    top = np.argsort(-(matrix @ query))[:BASELINE_ROWS]
    ids = [int(rows[i].turn_id) for i in top]
    done = time.perf_counter()
    samples.add(DENSE_EMBED, embedded - started)
    samples.add(DENSE_READ, read - embedded)
    samples.add(DENSE_SCORE, done - read)
    samples.add(DENSE, done - started)
    return ids


async def _repeat(
    samples: Samples, system: str, times: int, budget_s: float, call: Callable[[], Awaitable[None]]
) -> None:
    """``call`` ``times`` times, or until ``budget_s`` seconds have gone (``system`` is then
    marked as capped)."""
    deadline = time.perf_counter() + budget_s
    for done in range(1, times + 1):
        await call()
        if time.perf_counter() > deadline:
            if done < times:
                samples.capped.add(system)
            return


async def measure_person(bench: Bench, person: Person, queries: int) -> Samples:
    """First recalls (each in a store object of its own, so nothing of the person is held in
    memory), then ``queries`` questions to one store, then the baselines: each loop stops
    early when it has taken ``--budget-s``."""
    samples = Samples()
    for _ in range(bench.options.cold):
        await _timed_recall(bench, _store(bench), person, samples, FIRST)
        gc.collect()
    store = _store(bench)
    await store.recall(person, bench.synth.question(), K)  # the store's first sight of them
    await _check_index(bench, store, person)
    wide = await _float32_store(bench, person)

    turns = [(store, WARM), (wide, WIDE)]

    async def both() -> None:
        """One question to each, the one asked first alternating (the second call of a pair
        was seen to run faster, whichever store it went to)."""
        question = bench.synth.question()
        for one, system in turns:
            await _timed_recall(bench, one, person, samples, system, question)
        turns.reverse()

    budget = bench.options.budget_s
    await _repeat(samples, WARM, queries, budget, both)
    await _repeat(samples, DENSE, queries, budget, lambda: _baselines(bench, person, samples))
    return samples


async def _float32_store(bench: Bench, person: Person) -> SqlStore:
    """A second store object whose index of ``person`` holds its vectors in float32, for the
    comparison: the same index, the same ranking (within 1e-3), read from twice the memory."""
    store = _store(bench)
    await store.recall(person, bench.synth.question(), K)
    async with bench.engine.connect() as conn:
        index = await store.indexes.get(conn, person.id)
    for grow in (index.vectors, index.part_vectors):
        grow.data = grow.data.astype(np.float32)
    return store


async def _check_index(bench: Bench, store: SqlStore, person: Person) -> None:
    """Recall must see every turn of the person and every turn's vector: a vector written under
    another model name or size would be ignored and the figures would be for words only."""
    async with bench.engine.connect() as conn:
        held = await store.indexes.get(conn, person.id)
        stored = (
            await conn.execute(
                select(func.count()).select_from(turns).where(turns.c.person_id == person.id)
            )
        ).scalar_one()
    if len(held) != stored or not held.has_vector.view.all():
        raise RuntimeError(
            f"{person.name}: the recall index holds {len(held)} of {stored} turns and "
            f"{int(held.has_vector.view.sum())} vectors of model {bench.embedder.name!r}"
        )


async def measure_big(bench: Bench, sample: Sequence[Person]) -> Samples:
    """Random people asked through one store, as a server process would: first the store has
    never seen them, then once more each; then the baselines for the same people."""
    samples = Samples()
    store = _store(bench)
    budget = bench.options.budget_s
    people = iter(sample)
    await _repeat(
        samples,
        FIRST,
        len(sample),
        budget,
        lambda: _timed_recall(bench, store, next(people), samples, FIRST),
    )
    asked = sample[: len(samples.seconds.get(FIRST, []))]
    people = iter(asked)
    await _repeat(
        samples,
        AGAIN,
        len(asked),
        budget,
        lambda: _timed_recall(bench, store, next(people), samples, AGAIN),
    )
    people = iter(asked)
    await _repeat(
        samples, DENSE, len(asked), budget, lambda: _baselines(bench, next(people), samples)
    )
    return samples


# -- one backend -------------------------------------------------------------------------------
@dataclass(slots=True)
class BackendRun:
    backend: str
    version: str
    builds: list[Build] = field(default_factory=list)
    curve: dict[int, Samples] = field(default_factory=dict)
    big: Samples | None = None
    largest_in_big: Samples | None = None
    big_people: int = 0
    big_turns: int = 0
    size_bytes: int = 0
    settings: str = ""
    profile: str = ""
    #: The 1-minute load average after each measurement (other work on the machine shows here).
    loads: list[float] = field(default_factory=list)
    #: os1 recalls timed, and how many of them returned nothing.
    recalls: int = 0
    empty: int = 0

    def note(self, what: str, samples: Samples) -> None:
        self.loads.append(os.getloadavg()[0])
        self.recalls += sum(len(samples.seconds.get(s, [])) for s in (FIRST, WARM, AGAIN))
        self.empty += samples.empty
        _progress(self.backend, what, samples)


@asynccontextmanager
async def fresh_database(backend: str, options: Options) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="os1-scale-", dir=options.tmp) as folder:
            yield f"sqlite+aiosqlite:///{folder}/scale.db"
        return
    server = make_url(options.postgres_url)
    admin_dsn = server.set(drivername="postgresql", database="postgres").render_as_string(False)
    name = f"os1_scale_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield server.set(database=name).render_as_string(False)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _files_size(database: str) -> int:
    """Bytes of a SQLite database and its write-ahead log."""
    paths = (Path(database), Path(database + "-wal"))
    return sum(p.stat().st_size for p in paths if p.exists())


async def _describe(engine: AsyncEngine, url: str) -> tuple[str, str, int]:
    """Server version, the settings that matter for reading, and the database size in bytes."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            size = _files_size(make_url(url).database or "")
            return f"SQLite {sqlite3.sqlite_version}", "WAL, synchronous=NORMAL", size
        version = (await conn.execute(text("SHOW server_version"))).scalar_one()
        shown = []
        for setting in ("shared_buffers", "work_mem", "effective_cache_size"):
            value = (await conn.execute(text(f"SHOW {setting}"))).scalar_one()
            shown.append(f"{setting}={value}")
        size = (
            await conn.execute(text("SELECT pg_database_size(current_database())"))
        ).scalar_one()
        return f"PostgreSQL {version}", ", ".join(shown), int(size)


async def _people(engine: AsyncEngine, names: Sequence[str]) -> list[Person]:
    store = SqlStore(engine, None)
    return [await store.get_person(name) for name in names]


async def run_backend(
    backend: str, options: Options, corpus: Corpus, pool: Pool, embedder: Embedder
) -> BackendRun:
    rng = np.random.default_rng(options.seed)
    curve_plans, rest_plans = plan_people(options, rng)
    synth = Synth(corpus, pool, embedder.name, options.seed)
    async with fresh_database(backend, options) as url:
        engine = make_engine(url)
        try:
            await migrate(engine)
            run = BackendRun(backend, "")
            bench = Bench(backend, engine, embedder, synth, options)
            await _store(bench).word_neighbours()  # made once per machine, not timed
            new_loader: Callable[[], Loader] = (
                (lambda: SqliteLoader(url))
                if backend == "sqlite"
                else (lambda: PostgresLoader(url))
            )
            run.builds.append(await build(new_loader(), synth, curve_plans, f"{backend} curve"))
            await engine.dispose()  # connections opened before the build see a stale schema
            curve_people = await _people(engine, [p.name for p in curve_plans])
            for plan, person in zip(curve_plans, curve_people, strict=True):
                run.curve[plan.turns] = await measure_person(bench, person, options.queries)
                run.note(f"{plan.turns:,} turns", run.curve[plan.turns])
            run.builds.append(await build(new_loader(), synth, rest_plans, f"{backend} rest"))
            await engine.dispose()
            run.big_people = len(curve_plans) + len(rest_plans)
            run.big_turns = sum(p.turns for p in (*curve_plans, *rest_plans))
            picked = random.Random(options.seed).sample(
                [p.name for p in rest_plans], min(options.big_queries, len(rest_plans))
            )
            run.big = await measure_big(bench, await _people(engine, picked))
            run.note("big store, random people", run.big)
            largest = curve_people[-1]
            run.largest_in_big = await measure_person(bench, largest, max(1, options.queries // 4))
            run.note(f"big store, {curve_plans[-1].turns:,} turns", run.largest_in_big)
            if options.profile:
                run.profile = await _profile(bench, largest)
                _say(run.profile)
            run.version, run.settings, run.size_bytes = await _describe(engine, url)
        finally:
            await engine.dispose()
    return run


async def _profile(bench: Bench, person: Person) -> str:
    """cProfile of a first recall of ``person``, then of 20 more (main thread only: time spent
    in aiosqlite's thread or in the PostgreSQL server shows as waiting in ``select``)."""
    store = _store(bench)
    out = io.StringIO()
    for what, times in (("first recall", 1), ("20 recalls after it", 20)):
        questions = [bench.synth.question() for _ in range(times)]
        profiler = cProfile.Profile()
        profiler.enable()
        for question in questions:
            await store.recall(person, question, K)
        profiler.disable()
        out.write(f"\n--- profile: {what}, {person.name}\n")
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    return out.getvalue()


def _progress(backend: str, what: str, samples: Samples) -> None:
    parts = []
    for system in (FIRST, WARM, AGAIN, FTS, DENSE):
        if system in samples.seconds:
            s = Stat.of(samples.seconds[system])
            parts.append(f"{system}: p50 {s.p50:.1f} p95 {s.p95:.1f} ms (n={s.n})")
    empty = f"; {samples.empty} os1 recalls returned nothing" if samples.empty else ""
    _say(f"{backend}, {what}: " + "; ".join(parts) + empty)


def _say(message: str, end: str = "\n") -> None:
    if end == "\r" and not sys.stderr.isatty():
        return  # progress that overwrites itself: only on a terminal
    print(message, file=sys.stderr, end=end, flush=True)


# -- report ------------------------------------------------------------------------------------
def _ms(value: float) -> str:
    return "-" if value != value else f"{value:,.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _n(stat: Stat, capped: bool) -> str:
    return f"{stat.n} (capped)" if capped else str(stat.n)


def _verdict(stat: Stat) -> str:
    if not stat.n:
        return "-"
    return "yes" if stat.p95 <= TARGET_MS else "**no**"


def curve_table(runs: Sequence[BackendRun]) -> list[str]:
    rows = []
    for run in runs:
        for size, samples in run.curve.items():
            rows.append(_curve_row(run.backend, f"{size:,}", "curve people only", samples))
        if run.largest_in_big is not None and run.curve:
            size = max(run.curve)
            store = f"{run.big_people:,} people, {run.big_turns:,} turns"
            rows.append(_curve_row(run.backend, f"{size:,}", store, run.largest_in_big))
    header = [
        "backend",
        "turns/person",
        "store",
        "n",
        "os1 p50",
        "os1 p95",
        "os1 p99",
        "p95 ≤ 50",
        "float32 p50",
        "float32 p95",
        "first p50",
        "first max",
        "baselines n",
        "fts p50",
        "fts p95",
        "dense p50",
        "dense p95",
    ]
    return _table(header, rows)


def _curve_row(backend: str, size: str, store: str, samples: Samples) -> list[str]:
    warm = Stat.of(samples.seconds.get(WARM, []))
    first = Stat.of(samples.seconds.get(FIRST, []))
    wide = Stat.of(samples.seconds.get(WIDE, []))
    fts = Stat.of(samples.seconds.get(FTS, []))
    dense = Stat.of(samples.seconds.get(DENSE, []))
    n = _n(warm, WARM in samples.capped)
    return [
        backend,
        size,
        store,
        n,
        _ms(warm.p50),
        _ms(warm.p95),
        _ms(warm.p99),
        _verdict(warm),
        _ms(wide.p50),
        _ms(wide.p95),
        _ms(first.p50),
        _ms(first.max),
        _n(dense, DENSE in samples.capped),
        _ms(fts.p50),
        _ms(fts.p95),
        _ms(dense.p50),
        _ms(dense.p95),
    ]


def big_table(runs: Sequence[BackendRun]) -> list[str]:
    rows = []
    for run in runs:
        if run.big is None:
            continue
        for system in (FIRST, AGAIN, FTS, DENSE):
            s = Stat.of(run.big.seconds.get(system, []))
            target = _verdict(s) if system in (FIRST, AGAIN) else ""
            capped = (DENSE if system == FTS else system) in run.big.capped
            rows.append(
                [
                    run.backend,
                    system,
                    _n(s, capped),
                    _ms(s.p50),
                    _ms(s.p95),
                    _ms(s.p99),
                    _ms(s.max),
                    target,
                ]
            )
    return _table(["backend", "system", "n", "p50", "p95", "p99", "max", "p95 ≤ 50"], rows)


def dense_table(runs: Sequence[BackendRun]) -> list[str]:
    rows = []
    for run in runs:
        for size, samples in run.curve.items():
            cells = [
                Stat.of(samples.seconds.get(s, [])) for s in (DENSE_READ, DENSE_EMBED, DENSE_SCORE)
            ]
            rows.append(
                [run.backend, f"{size:,}", *(f"{_ms(c.p50)} / {_ms(c.p95)}" for c in cells)]
            )
    return _table(
        ["backend", "turns/person", "read vectors", "embed question", "score and sort"], rows
    )


def build_table(runs: Sequence[BackendRun]) -> list[str]:
    rows = []
    for run in runs:
        for b in run.builds:
            rows.append(
                [
                    b.phase,
                    f"{b.people:,}",
                    f"{b.turns:,}",
                    f"{b.seconds:,.0f}",
                    f"{b.turns / b.seconds:,.0f}" if b.seconds else "-",
                ]
            )
        rows.append(
            [f"{run.backend} total on disk", "", "", "", f"{run.size_bytes / 2**30:.2f} GiB"]
        )
    return _table(["phase", "people", "turns", "seconds", "turns/s"], rows)


def _backend_line(run: BackendRun) -> str:
    """Version, settings, load on the machine, and recalls that found nothing."""
    load = f"{min(run.loads):.1f} to {max(run.loads):.1f}" if run.loads else "-"
    return (
        f"{run.backend}: {run.version} ({run.settings}); 1-minute load average after each "
        f"measurement {load} (this benchmark alone keeps about 1 busy); {run.empty} of "
        f"{run.recalls:,} os1 recalls returned nothing"
    )


def _wrap(text: str, bullet: bool = False) -> list[str]:
    """A paragraph (or a ``- `` bullet) wrapped at 96 columns."""
    if bullet:
        return textwrap.wrap(text, 96, initial_indent="- ", subsequent_indent="  ")
    return textwrap.wrap(text, 96)


def section(
    options: Options, argv: Sequence[str], runs: Sequence[BackendRun], pool: Pool, seconds: float
) -> str:
    pool_note = (
        "read from a cache outside the repository"
        if pool.cached
        else f"embedded in {pool.seconds:.0f} s"
    )
    intro = (
        f"How long `SqlStore.recall(person, question, k={K})` takes as one person's history "
        "grows, and in a store of many people (issue 5: p95 ≤ 50 ms for a person with 100,000 "
        "turns and for a store of 10,000 people and 2,000,000 turns, on SQLite and on "
        "PostgreSQL). Times are wall clock per call in ms, the question's embedding included "
        "(the store embeds it, as in production). `first` is a person's first recall in a new "
        "store object, which holds nothing of them yet (the database and the OS page cache are "
        "warm). Baselines in the same run, on other questions to the same person: `fts` is one "
        f"full-text statement (`fulltext.search`, {BASELINE_ROWS} rows); `dense` embeds the "
        "question, reads all of the person's vectors from the database and ranks them with numpy. "
        "`float32` is OS1's recall over the same index holding its vectors in float32 (as it did "
        "before half precision), asked the same questions in turn with `os1`."
    )
    bullets = [
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; run time {seconds / 60:.1f} min",
        f"Commit: {report.git_commit(REPO)}",
        f"Machine: {report.machine().line()}",
        *(_backend_line(run) for run in runs),
        "Data: turn texts are LoCoMo turns (locomo10.json, CC BY-NC 4.0) recombined: one turn, "
        "30% of the time followed by another, speakers' names replaced by random names, spread "
        "over 4 months to 5 years per person, one imported conversation per 2,000 turns; "
        "questions are LoCoMo questions with names replaced likewise.",
        f"Vectors: {len(pool.ids):,} distinct LoCoMo turns embedded for real with the store's "
        f"embedder, `{pool.model}` (`--embedder {options.embedder}`; {pool_note}), as the store "
        f"embeds turns: the long ones in parts ({pool.parts:,} part vectors in all, which recall "
        "scores too); each turn "
        "carries the vectors of the turn it was built from, so many turns share one vector and "
        "recall's near-duplicate rule moves some of them down (ranking, not timing, differs from "
        "a real history).",
        f"Curve: one person per size; {options.cold} first recalls each, then up to "
        f"{options.queries} questions (at most {options.budget_s:.0f} s of them: `capped` marks "
        "a size cut short). Big store: the largest curve person again, and "
        f"{options.big_queries} random other people, each asked twice.",
    ]
    lines = [
        "## Scale: recall latency against turns per person",
        "",
        *_wrap(intro),
        "",
        f"- Command: `{report.command_line(__file__, argv)}`",
        *(line for b in bullets for line in _wrap(b, bullet=True)),
        "",
        "### Recall latency against turns per person (ms)",
        "",
        *curve_table(runs),
        "",
        "### Big store, random people (ms)",
        "",
        *big_table(runs),
        "",
        "### Dense baseline: where its time goes (p50 / p95 ms)",
        "",
        *dense_table(runs),
        "",
        "### Build (bulk insert, indexes included)",
        "",
        *build_table(runs),
    ]
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------
async def run_all(options: Options, corpus: Corpus) -> tuple[list[BackendRun], Pool]:
    embedder = make_embedder(Settings.model_validate({"embedder": options.embedder}))
    assert embedder is not None  # "none" is not among the choices
    pool = await embed_pool(corpus, options.pool, options.seed, embedder)
    await embedder.query("warm up")  # load the model before anything is timed
    runs = []
    for backend in options.backends:
        runs.append(await run_backend(backend, options, corpus, pool, embedder))
        gc.collect()
    return runs, pool


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_args(argv)
    started = time.perf_counter()
    corpus = load_corpus(options.data)
    runs, pool = asyncio.run(run_all(options, corpus))
    body = section(options, argv, runs, pool, time.perf_counter() - started)
    print(body)
    if options.write:
        report.write_section(options.out, SECTION, body)
        _say(f"\nwrote the {SECTION} section of {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
