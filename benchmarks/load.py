"""Load benchmark: many simultaneous conversations against ``os1 up``, over real sockets.

Three processes' worth of parts, all on 127.0.0.1:

- the fake model server (``benchmarks/fake_model.py``), streaming at a set pace;
- ``os1 up``, the real server, with a fresh database (PostgreSQL by default, or SQLite);
- client processes, each holding its share of the conversations open over WebSocket
  (``/v1/conversations/{id}/ws``) and sending a turn after a random think time (exponential,
  mean ``--interval`` seconds; the first one spread evenly over the first interval).

Every turn goes the whole way: stored, recalled against, prompted, streamed from the model,
streamed to the client, the reply stored. For each level of simultaneous conversations the run
reports turns/s, errors, the time OS1 adds to the time to first token (what the client saw
minus what the model server itself took, which it writes into its first token; see
``fake_model.py``) p50/p95/p99, the p99 gap between tokens, the server's peak RSS and its CPU,
and a count check: every turn sent is in the database exactly once, and so is its reply.

    .venv/bin/python benchmarks/load.py --levels 100,1000,8316          # writes docs/benchmarks.md
    .venv/bin/python benchmarks/load.py --levels 30 --duration 10 --no-write   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import report
import websockets
import where
from fake_model import read_mark

REPO = Path(__file__).resolve().parents[1]
SECTION = "load"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The issue's targets at 8,316 conversations.
TARGET_P50_MS, TARGET_P99_MS, TARGET_RSS_GB = 30.0, 150.0, 3.0
KNEE_P99_MS = 250.0


@dataclass(frozen=True)
class Options:
    levels: tuple[int, ...]
    interval: float
    duration: float
    ttft: float
    tokens_per_s: float
    reply_tokens: int
    model_concurrency: int
    database: str
    clients: int
    knee: bool
    write: bool
    out: Path
    embedder: str
    #: Conversations of one more level, run last with py-spy sampling the server (whose own
    #: CPU use disturbs the latencies, so they are reported apart), or None.
    profile: int | None = None
    #: More settings for the server, as OS1_* environment variables.
    server_env: tuple[tuple[str, str], ...] = ()
    #: Server processes (``os1 up --workers``), one run of every level for each; more than
    #: one share Redis.
    workers: tuple[int, ...] = (1,)


def parse_args(argv: Sequence[str]) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", default="100,1000,8316", help="simultaneous conversations")
    p.add_argument("--interval", type=float, default=60.0, help="mean seconds between turns")
    p.add_argument("--duration", type=float, default=120.0, help="seconds of load per level")
    p.add_argument("--ttft", type=float, default=0.3, help="the fake model's time to first token")
    p.add_argument("--tokens-per-s", type=float, default=30.0)
    p.add_argument("--reply-tokens", type=int, default=40)
    p.add_argument("--model-concurrency", type=int, default=512)
    p.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--clients", type=int, default=2, help="client processes")
    p.add_argument("--embedder", default="minilm", help="OS1_EMBEDDER for the server")
    p.add_argument(
        "--knee",
        action="store_true",
        help="then raise the rate from the smallest level until added p99 passes 250 ms",
    )
    p.add_argument(
        "--profile",
        type=int,
        metavar="CONVERSATIONS",
        help="run one more level with py-spy sampling the server, and split its CPU per turn",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="OS1_NAME=VALUE",
        help="a setting for the server (repeatable), e.g. --set OS1_PREPARE_CONCURRENCY=16",
    )
    p.add_argument(
        "--workers",
        default="1",
        help="os1 up --workers, comma-separated: every level runs for each (e.g. 1,2); more "
        "than one worker share Redis; --knee and --profile run with the last",
    )
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    a = p.parse_args(argv)
    try:
        levels = tuple(int(x) for x in a.levels.split(",") if x.strip())
    except ValueError:
        p.error("--levels takes comma-separated whole numbers")
    server_env = tuple(tuple(x.split("=", 1)) for x in a.set)
    if any(len(kv) != 2 or not kv[0].startswith("OS1_") for kv in server_env):
        p.error("--set takes OS1_NAME=VALUE")
    if a.profile is not None and a.profile < 1:
        p.error("--profile takes a number of conversations")
    if not levels or min(levels) < 1 or a.interval <= 0 or a.duration <= 0 or a.clients < 1:
        p.error("levels, --interval, --duration and --clients must be positive")
    try:
        workers = tuple(int(x) for x in a.workers.split(",") if x.strip())
    except ValueError:
        p.error("--workers takes comma-separated whole numbers")
    if not workers or min(workers) < 1:
        p.error("--workers must be positive")
    return Options(
        levels,
        a.interval,
        a.duration,
        a.ttft,
        a.tokens_per_s,
        a.reply_tokens,
        a.model_concurrency,
        a.database,
        a.clients,
        a.knee,
        not a.no_write,
        a.out,
        a.embedder,
        a.profile,
        server_env,  # type: ignore[arg-type]
        workers,
    )


# -- the processes under test ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fake_model(options: Options) -> Iterator[str]:
    with fake_model_with(
        f"--ttft={options.ttft}",
        f"--tokens-per-s={options.tokens_per_s}",
        f"--reply-tokens={options.reply_tokens}",
        f"--concurrency={options.model_concurrency}",
    ) as url:
        yield url


@contextmanager
def fake_model_with(*args: str) -> Iterator[str]:
    """The fake model server started with ``args``; its base URL."""
    command = [sys.executable, str(REPO / "benchmarks" / "fake_model.py"), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the fake model server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def database(kind: str) -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL for OS1, plain URL for counting) of a fresh database."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="os1-load-") as folder:
            path = f"{folder}/load.db"
            yield f"sqlite+aiosqlite:///{path}", path
        return
    import asyncpg

    name = f"os1_load_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(DEFAULT_POSTGRES)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
            f"postgresql://postgres@127.0.0.1:5432/{name}",
        )
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    admin_token: str
    workers: int = 1


#: The Redis database several workers share in a run (emptied before).
REDIS_URL = "redis://127.0.0.1:6379/14"


def fresh_redis() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()
    return REDIS_URL


@contextmanager
def os1_server(
    options: Options,
    model_url: str,
    db_url: str,
    extra: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[Server]:
    port = free_port()
    admin_token = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="os1-load-home-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
        env.update(
            OS1_HOME=home,
            OS1_DATABASE_URL=db_url,
            OS1_BRAIN="openai",
            OS1_LLM_URL=model_url,
            OS1_LLM_MODEL="fake",
            OS1_INTERVIEW="false",
            OS1_DISTILL="off",
            OS1_EMBEDDER=options.embedder,
            OS1_ADMIN_TOKEN=admin_token,
            OS1_RATE_LIMIT_PER_MINUTE="600",
            OS1_LLM_CONCURRENCY=str(options.model_concurrency),
            OS1_LOG_LEVEL="WARNING",
            OS1_MAX_CONNECTIONS="20000",
        )
        if workers > 1:
            env.update(OS1_WORKERS=str(workers), OS1_REDIS_URL=fresh_redis())
        env.update(options.server_env)
        env.update(extra or {})
        log = open(Path(home) / "server.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("os1")), "up", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, proc, Path(home) / "server.log")
            server = Server(url, proc, admin_token, workers)
            server_load(server)  # every worker up
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def server_load(server: Server) -> dict[str, int]:
    """The server's own account of its load (``GET /healthz``), summed over its workers: each
    call is a new connection, which the kernel gives to any worker, until all have answered."""
    seen: dict[int, dict[str, int]] = {}
    for _ in range(100 * server.workers):
        load: dict[str, int] = httpx.get(f"{server.url}/healthz", timeout=60).json()["load"]
        seen[load.pop("worker")] = load
        if len(seen) >= server.workers:
            break
    else:
        raise RuntimeError(f"only {len(seen)} of {server.workers} workers answered /healthz")
    return {key: sum(load[key] for load in seen.values()) for key in next(iter(seen.values()))}


#: What must be at zero in the server's account of its load before a level starts.
BUSY_KEYS = (
    "replies_in_flight",
    "model_in_use",
    "model_waiting",
    "preparing_waiting",
    "embedding_pending",
)


def wait_idle(server: Server, limit_s: float = 600.0) -> float:
    """Wait until the server has finished the work a level before left it (an overloaded
    level leaves replies and embeddings behind, which would weigh on the next); returns
    the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        load = server_load(server)
        if not any(load.get(key, 0) for key in BUSY_KEYS):
            break
        time.sleep(1.0)
    return time.monotonic() - started


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"os1 up exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("os1 up did not become ready in 120 s")


async def make_people(server: Server, count: int, start: int) -> list[tuple[str, int]]:
    """``count`` new people, each with a token and one conversation."""
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(32)

        async def one(i: int) -> tuple[str, int]:
            async with gate:
                made = await client.post("/v1/people", json={"name": f"p{i}"}, headers=headers)
                made.raise_for_status()
                token = made.json()["token"]
                conv = await client.post(
                    "/v1/conversations",
                    json={"label": "load"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                conv.raise_for_status()
                return token, int(conv.json()["id"])

        return list(await asyncio.gather(*(one(i) for i in range(start, start + count))))


# -- the clients -------------------------------------------------------------------------------
@dataclass
class ClientResult:
    sent: list[str] = field(default_factory=list)
    completed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    added_ms: list[float] = field(default_factory=list)
    gaps_ms: list[float] = field(default_factory=list)
    connect_failures: int = 0
    #: Messages the server refused as busy (it said so at once; they must not be stored).
    refused: list[str] = field(default_factory=list)

    def merge(self, other: ClientResult) -> None:
        self.sent += other.sent
        self.refused += other.refused
        self.completed += other.completed
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.added_ms += other.added_ms
        self.gaps_ms += other.gaps_ms
        self.connect_failures += other.connect_failures


def client_process(
    args: tuple[str, list[tuple[str, int]], float, float, float, str, int],
) -> ClientResult:
    url, convs, interval, start_at, stop_at, tag, seed = args
    return asyncio.run(_client(url, convs, interval, start_at, stop_at, tag, seed))


async def _client(
    url: str,
    convs: list[tuple[str, int]],
    interval: float,
    start_at: float,
    stop_at: float,
    tag: str,
    seed: int,
) -> ClientResult:
    result = ClientResult()
    rng = random.Random(seed)
    opening = asyncio.Semaphore(200)  # handshakes in flight at once
    ws_url = url.replace("http://", "ws://")

    async def converse(i: int, token: str, conv_id: int) -> None:
        try:
            async with opening:
                ws = await websockets.connect(
                    f"{ws_url}/v1/conversations/{conv_id}/ws",
                    additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=120,
                    ping_interval=None,
                    max_size=None,
                )
        except (OSError, websockets.WebSocketException, TimeoutError):
            result.connect_failures += 1
            return
        async with ws:
            # Wait for everyone to connect, then spread the first turns over one interval.
            first = min(start_at + rng.uniform(0, interval), stop_at)
            await asyncio.sleep(max(0.0, first - time.time()))
            n = 0
            while time.time() < stop_at:
                n += 1
                message_id = f"load:{tag}:{i}:{n}"
                result.sent.append(message_id)
                if not await _turn(ws, message_id, result):
                    return
                think = rng.expovariate(1.0 / interval)
                await asyncio.sleep(max(0.0, min(think, stop_at - time.time())))

    await asyncio.gather(*(converse(i, t, c) for i, (t, c) in enumerate(convs)))
    return result


async def _turn(ws: Any, message_id: str, result: ClientResult) -> bool:
    sent = time.time()
    await ws.send(json.dumps({"type": "message", "content": f"{message_id} how was your day?"}))
    first: float | None = None
    last = 0.0
    while True:
        try:
            event = json.loads(await asyncio.wait_for(ws.recv(), 120))
        except (TimeoutError, websockets.WebSocketException):
            result.errors["lost"] = result.errors.get("lost", 0) + 1
            return False
        now = time.time()
        kind = event.get("type")
        if kind == "delta":
            if first is None:
                first = now
                mark = read_mark(event.get("text", ""))
                if mark is not None:
                    model_s = (mark[1] - mark[0]) / 1e6
                    result.added_ms.append(((first - sent) - model_s) * 1000)
                else:
                    result.errors["no_mark"] = result.errors.get("no_mark", 0) + 1
            else:
                result.gaps_ms.append((now - last) * 1000)
            last = now
        elif kind == "done":
            result.completed += 1
            return True
        else:
            code = str(event.get("code", kind))
            result.errors[code] = result.errors.get(code, 0) + 1
            if code == "busy" and first is None:
                result.refused.append(message_id)
            return True


# -- measuring the server --------------------------------------------------------------------
def _span(marks: list[float]) -> float | None:
    """The change between a window's two marks, or None before both are taken."""
    return marks[1] - marks[0] if len(marks) >= 2 else None


def machine_busy_s() -> float:
    """CPU seconds the machine has been busy since boot, all cores (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and waiting for I/O
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """Peak RSS and CPU seconds of a process, sampled every half second in a thread."""

    def __init__(self, pid: int, window: tuple[float, float] | None = None) -> None:
        self.pid = pid
        self.peak_rss = 0
        #: CPU seconds at the start and the end of a window of wall-clock (time.time()) times.
        self.window = window
        self.window_cpu: list[float] = []
        #: The whole machine's busy CPU seconds at the same edges (every core, every process:
        #: the load clients, the fake model and PostgreSQL too).
        self.window_machine: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.cpu_start = self.cpu_end = 0.0
        self.wall_start = self.wall_end = 0.0

    def processes(self) -> list[int]:
        """The server's process and its workers (``os1 up --workers``), if any."""
        found = [self.pid]
        for pid in found:
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    found += [int(child) for child in task.read_text().split()]
        return found

    def cpu_s(self) -> float:
        total = 0.0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def rss(self) -> int:
        total = 0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_rss = max(self.peak_rss, self.rss())
            edges = self.window or ()
            if len(self.window_cpu) < len(edges) and time.time() >= edges[len(self.window_cpu)]:
                self.window_cpu.append(self.cpu_s())
                self.window_machine.append(machine_busy_s())

    def window_cpu_s(self) -> float | None:
        """The server's CPU seconds within the window, if it was seen whole."""
        return _span(self.window_cpu)

    def window_machine_s(self) -> float | None:
        """The machine's busy CPU seconds within the window, if it was seen whole."""
        return _span(self.window_machine)

    def __enter__(self) -> Sampler:
        self.cpu_start, self.wall_start = self.cpu_s(), time.monotonic()
        self.peak_rss = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_end, self.wall_end = self.cpu_s(), time.monotonic()

    @property
    def cpu_percent(self) -> float:
        wall = self.wall_end - self.wall_start
        return 100.0 * (self.cpu_end - self.cpu_start) / wall if wall else 0.0


def count_stored(db_kind: str, db_plain: str, tag: str) -> tuple[dict[str, int], int]:
    """(times each load message tagged ``tag`` was stored, how many of them have a reply
    stored right after them)."""
    pattern = f"load:{tag}:%"
    query = (
        "SELECT conversation_id, id, content, role FROM turns WHERE conversation_id IN "
        "(SELECT conversation_id FROM turns WHERE content LIKE {p}) ORDER BY conversation_id, id"
    )
    if db_kind == "sqlite":
        import sqlite3

        with sqlite3.connect(db_plain) as conn:
            rows = conn.execute(query.format(p="?"), (pattern,)).fetchall()
    else:
        import asyncpg

        async def read() -> list[Any]:
            conn = await asyncpg.connect(db_plain)
            try:
                return list(await conn.fetch(query.format(p="$1"), pattern))
            finally:
                await conn.close()

        rows = [tuple(r) for r in asyncio.run(read())]
    stored: dict[str, int] = {}
    replies = 0
    prefix = f"load:{tag}:"
    for i, (conversation, _, content, role) in enumerate(rows):
        if role == "user" and content.startswith(prefix):
            key = content.split(" ", 1)[0]
            stored[key] = stored.get(key, 0) + 1
            after = rows[i + 1] if i + 1 < len(rows) else None
            replies += after is not None and after[0] == conversation and after[3] == "assistant"
    return stored, replies


# -- one level -----------------------------------------------------------------------------------
@dataclass
class Level:
    conversations: int
    interval: float
    seconds: float
    result: ClientResult
    peak_rss: int
    cpu_percent: float
    stored_once: int
    missing: int
    duplicated: int
    replies: int
    #: Messages refused as busy that were stored all the same (must be 0).
    refused_stored: int = 0
    #: The server's CPU seconds while the load ran (connecting excluded), and py-spy's split.
    window_cpu_s: float | None = None
    #: The whole machine's busy CPU in the same window, % of one core (server, load clients,
    #: fake model, PostgreSQL: on one machine they share the cores).
    machine_percent: float | None = None
    parts: Counter[str] | None = None
    #: The share of questions recalled by their words alone, the embedder being too busy.
    questions_by_words: float | None = None
    #: Run with py-spy sampling the server (its latencies are not comparable with the others).
    profiled: bool = False
    #: Server processes (``os1 up --workers``).
    workers: int = 1

    @property
    def turns_per_s(self) -> float:
        return self.result.completed / self.seconds if self.seconds else 0.0

    def errors(self) -> int:
        return sum(self.result.errors.values()) + self.result.connect_failures

    @property
    def accepted(self) -> int:
        """Messages sent and not refused as busy: each must be stored exactly once."""
        return len(set(self.result.sent) - set(self.result.refused))

    def cpu_ms_per_turn(self) -> float | None:
        if self.window_cpu_s is None or not self.result.completed:
            return None
        return 1000.0 * self.window_cpu_s / self.result.completed


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def run_level(
    options: Options,
    server: Server,
    people: list[tuple[str, int]],
    interval: float,
    db: tuple[str, str],
    profile_it: bool = False,
) -> Level:
    waited = wait_idle(server)
    if waited > 2:
        print(f"waited {waited:.0f} s for the server to finish the last level's work", flush=True)
    tag = uuid.uuid4().hex[:6]
    n = len(people)
    connect_s = 10 + n / 300  # time for everyone to connect before the clock starts
    start_at = time.time() + connect_s
    stop_at = start_at + options.duration
    shares = [people[i :: options.clients] for i in range(options.clients)]
    jobs = [
        (server.url, share, interval, start_at, stop_at, f"{tag}{j}", j)
        for j, share in enumerate(shares)
        if share
    ]
    before = server_load(server)
    total = ClientResult()
    profile: Path | None = None
    spy: subprocess.Popen[bytes] | None = None
    with (
        Sampler(server.proc.pid, (start_at, stop_at)) as sampler,
        mp.get_context("spawn").Pool(len(jobs)) as pool,
    ):
        waiting = pool.map_async(client_process, jobs)
        if profile_it:
            time.sleep(max(0.0, start_at - time.time()))
            profile = Path(tempfile.gettempdir()) / f"os1-load-profile-{n}.txt"
            spy = where.record(server.proc.pid, options.duration, profile)
        for part in waiting.get():
            total.merge(part)
    seconds = max(time.time(), stop_at) - start_at
    after = server_load(server)
    embedded = after["questions_embedded"] - before["questions_embedded"]
    by_words = after["questions_by_words"] - before["questions_by_words"]
    parts = None
    if spy is not None and profile is not None:
        spy.wait()
        parts = where.split(profile.read_text()) if profile.exists() else None
    stored: dict[str, int] = {}
    replies = 0
    for job in jobs:
        part, got = count_stored(options.database, db[1], job[5])
        stored.update(part)
        replies += got
    refused = set(total.refused)
    sent = set(total.sent) - refused
    level = Level(
        conversations=n,
        interval=interval,
        seconds=seconds,
        result=total,
        peak_rss=sampler.peak_rss,
        cpu_percent=(
            100.0 * window / options.duration
            if (window := sampler.window_cpu_s()) is not None
            else sampler.cpu_percent
        ),
        stored_once=sum(1 for m in sent if stored.get(m) == 1),
        missing=sum(1 for m in sent if m not in stored),
        duplicated=sum(1 for c in stored.values() if c > 1),
        refused_stored=sum(1 for m in refused if m in stored),
        replies=replies,
        window_cpu_s=sampler.window_cpu_s(),
        machine_percent=(
            100.0 * machine / options.duration
            if (machine := sampler.window_machine_s()) is not None
            else None
        ),
        parts=parts,
        questions_by_words=by_words / (embedded + by_words) if embedded + by_words else None,
        workers=server.workers,
    )
    _print_level(level)
    return level


def _print_level(level: Level) -> None:
    r = level.result
    print(
        f"{level.workers} worker(s), {level.conversations} conversations, 1 turn per "
        f"{level.interval:g} s each: "
        f"{level.turns_per_s:.1f} turns/s, {r.completed} done, errors {level.errors()} "
        f"{r.errors or ''}, added TTFT p50 {pct(r.added_ms, 50):.1f} p95 "
        f"{pct(r.added_ms, 95):.1f} p99 {pct(r.added_ms, 99):.1f} ms, gap p99 "
        f"{pct(r.gaps_ms, 99):.1f} ms, RSS {level.peak_rss / 2**20:.0f} MiB, CPU "
        f"{level.cpu_percent:.0f}% (machine {_machine(level)}), refused as busy "
        f"{len(r.refused)} (stored anyway "
        f"{level.refused_stored}), stored once {level.stored_once}/{level.accepted}, missing "
        f"{level.missing}, duplicated {level.duplicated}, replies {level.replies}, "
        f"questions by words {_share(level.questions_by_words)}",
        flush=True,
    )
    if level.parts is not None:
        print("\n".join(where.table(level.parts, level.cpu_ms_per_turn())), flush=True)


# -- the whole run ---------------------------------------------------------------------------------
def run(options: Options) -> list[Level]:
    levels: list[Level] = []
    for i, workers in enumerate(options.workers):
        levels += run_with(options, workers, last=i == len(options.workers) - 1)
    return levels


def run_with(options: Options, workers: int, *, last: bool) -> list[Level]:
    """Every level against a fresh server of ``workers`` processes (and a fresh database);
    the knee search and the profiled level too when ``last``."""
    levels: list[Level] = []
    with (
        fake_model(options) as model_url,
        database(options.database) as db,
        os1_server(options, model_url, db[0], workers=workers) as server,
    ):
        people: list[tuple[str, int]] = []
        for count in options.levels:
            if count > len(people):
                people += asyncio.run(make_people(server, count - len(people), len(people)))
            levels.append(run_level(options, server, people[:count], options.interval, db))
        if options.knee and last:
            levels += knee(options, server, people, db)
        if options.profile is not None and last:
            count = options.profile
            if count > len(people):
                people += asyncio.run(make_people(server, count - len(people), len(people)))
            level = run_level(options, server, people[:count], options.interval, db, True)
            level.profiled = True
            levels.append(level)
    return levels


def knee(
    options: Options, server: Server, people: list[tuple[str, int]], db: tuple[str, str]
) -> list[Level]:
    """From the smallest level's conversations, raise the turn rate by half again at each
    step (more conversations, the same think time) until OS1's added p99 passes
    KNEE_P99_MS or errors appear; the knee lies between the last two steps."""
    found: list[Level] = []
    count = min(options.levels)
    while count <= 20_000:
        if count > len(people):
            people += asyncio.run(make_people(server, count - len(people), len(people)))
        level = run_level(options, server, people[:count], options.interval, db)
        found.append(level)
        if pct(level.result.added_ms, 99) > KNEE_P99_MS or level.errors():
            break
        count = int(count * 1.5)
    return found


def _machine(level: Level) -> str:
    """The machine's busy share while the level ran, of all its cores together."""
    if level.machine_percent is None:
        return "-"
    return f"{level.machine_percent:.0f} of {100 * (os.cpu_count() or 1)}"


def section(options: Options, argv: Sequence[str], levels: Sequence[Level]) -> str:
    rows = [
        "| workers | conversations | think time s | turns/s | errors "
        "| added TTFT p50 / p95 / p99 ms "
        "| gap p99 ms | server RSS MiB | server CPU % | server CPU ms per turn "
        "| machine CPU % (all cores) | questions by words | refused as busy "
        "| stored once / accepted | missing | duplicated |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in levels:
        r = lv.result
        rows.append(
            f"| {lv.workers} | {lv.conversations:,}{' (profiled)' if lv.profiled else ''} "
            f"| {lv.interval:g} "
            f"| {lv.turns_per_s:.1f} | {lv.errors()} "
            f"| {pct(r.added_ms, 50):.1f} / {pct(r.added_ms, 95):.1f} / "
            f"{pct(r.added_ms, 99):.1f} | {pct(r.gaps_ms, 99):.1f} "
            f"| {lv.peak_rss / 2**20:,.0f} | {lv.cpu_percent:.0f} "
            f"| {_ms(lv.cpu_ms_per_turn())} | {_machine(lv)} "
            f"| {_share(lv.questions_by_words)} "
            f"| {len(r.refused):,} | {lv.stored_once:,} / {lv.accepted:,} | {lv.missing} "
            f"| {lv.duplicated} |"
        )
    splits: list[str] = []
    for lv in levels:
        if lv.parts is not None:
            splits += [
                "",
                f"Where the server's CPU went at {lv.conversations:,} conversations "
                f"({lv.turns_per_s:.1f} turns/s), by py-spy samples of the profiled run (py-spy "
                "shares the two cores, so that run's latencies are worse than without it):",
                "",
                *where.table(lv.parts, lv.cpu_ms_per_turn()),
            ]
    command = report.command_line(__file__, argv)
    return "\n".join(
        [
            "## Load: simultaneous conversations",
            "",
            "`os1 up` with a fresh database, a fake model server streaming at a fixed pace, and",
            "client processes holding WebSocket conversations open, each sending a turn after",
            "an exponential think time. *Added TTFT* is the client's time to first token minus",
            "the model server's own (queueing in it included), i.e. what OS1 adds. *Stored once*",
            "counts the turns accepted (sent and not refused at once as busy) that are in the",
            "database exactly once afterwards; a refused one must not be stored. *Questions",
            "by words* is the share of recalls made without the question's vector because the",
            "embedder had used its CPU share (`OS1_EMBED_SHARE`), from the server's `/healthz`.",
            "*Machine CPU* is how busy all the cores were together (`/proc/stat`): the load",
            "clients, the fake model and PostgreSQL share them with the server. *Workers* is",
            "`os1 up --workers` (more than one share Redis); the knee search and the profiled",
            "level run with the last worker count given.",
            "",
            f"- Command: `{command}`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Commit: {report.git_commit(REPO)}",
            f"- Machine: {report.machine().line()}",
            f"- Model: TTFT {options.ttft:g} s, {options.tokens_per_s:g} tokens/s, "
            f"{options.reply_tokens} tokens per reply, {options.model_concurrency} at once; "
            f"database {options.database}; embedder {options.embedder}; "
            + "".join(f"{k}={v}; " for k, v in options.server_env)
            + f"{options.duration:g} s per level",
            f"- Targets at 8,316 conversations: added TTFT p50 <= {TARGET_P50_MS:g} ms, "
            f"p99 <= {TARGET_P99_MS:g} ms, RSS <= {TARGET_RSS_GB:g} GB, no errors, nothing lost",
            "",
            *rows,
            *splits,
        ]
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_args(argv)
    levels = run(options)
    body = section(options, argv, levels)
    print(body)
    if options.write:
        report.write_section(options.out, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
