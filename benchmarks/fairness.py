"""Fairness benchmark: one person flooding the model beside many normal ones.

A fake model server with few slots (``--slots``), and ``os1 up`` allowed as many model calls
at once (``OS1_LLM_CONCURRENCY``), so OS1's scheduler decides who goes next. ``--people``
normal people each hold a WebSocket conversation and send a turn after an exponential think
time; the load is set so the model is busy but not overrun. Two runs of the same length, each
on a fresh server: without and with a flooder, who sends ``--flood`` messages at once (one per
conversation, over HTTP) and keeps that many waiting all the time. The figure is the normal
people's wait for their first token beyond the model's own time (what OS1 adds, scheduler queue
included), p50/p95/p99, side by side. The target: with the flooder, the normal people's p99
stays within 20% of the run without.

    .venv/bin/python benchmarks/fairness.py                 # writes docs/benchmarks.md
    .venv/bin/python benchmarks/fairness.py --duration 20 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx
import load
import report
from load import ClientResult, Options, pct

SECTION = "fairness"


@dataclass(frozen=True)
class Plan:
    people: int
    interval: float
    flood: int
    duration: float
    slots: int
    write: bool


def parse_args(argv: Sequence[str]) -> Plan:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", type=int, default=100)
    p.add_argument("--interval", type=float, default=20.0, help="normal people's think time")
    p.add_argument("--flood", type=int, default=100, help="the flooder's messages at once")
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--slots", type=int, default=8, help="the model server's concurrency")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args(argv)
    if min(a.people, a.flood, a.slots) < 1 or a.interval <= 0 or a.duration <= 0:
        p.error("all numbers must be positive")
    return Plan(a.people, a.interval, a.flood, a.duration, a.slots, not a.no_write)


def options(plan: Plan) -> Options:
    return Options(
        levels=(plan.people,),
        interval=plan.interval,
        duration=plan.duration,
        ttft=0.3,
        tokens_per_s=30.0,
        reply_tokens=20,
        model_concurrency=plan.slots,
        database="postgresql",
        clients=1,
        knee=False,
        write=False,
        out=load.REPO / "docs" / "benchmarks.md",
        embedder="none",
    )


async def flooder(url: str, token: str, conversations: list[int], stop_at: float) -> int:
    """Keep one message waiting in every conversation until ``stop_at``; returns replies."""
    done = 0
    auth = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=len(conversations) + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def keep(conv: int) -> None:
            nonlocal done
            n = 0
            while time.time() < stop_at:
                n += 1
                r = await client.post(
                    f"/v1/conversations/{conv}/messages",
                    json={"content": f"flood {n}"},
                    headers=auth,
                )
                if r.status_code == 200:
                    done += 1
                else:
                    await asyncio.sleep(1)

        await asyncio.gather(*(keep(c) for c in conversations))
    return done


async def normal_people(
    url: str, people: list[tuple[str, int]], interval: float, start_at: float, stop_at: float
) -> ClientResult:
    return await load._client(url, people, interval, start_at, stop_at, "fair", 7)


def one_run(plan: Plan, with_flood: bool) -> tuple[ClientResult, int]:
    opts = options(plan)
    extra = {"OS1_LLM_CONCURRENCY": str(plan.slots), "OS1_RATE_LIMIT_PER_MINUTE": "100000"}
    extra["OS1_RATE_LIMIT_BURST"] = "100000"
    with (
        load.fake_model(replace(opts, model_concurrency=10 * plan.slots)) as model_url,
        load.database("postgresql") as db,
        load.os1_server(opts, model_url, db[0], extra) as server,
    ):
        return asyncio.run(drive(plan, server, with_flood))


async def drive(plan: Plan, server: load.Server, with_flood: bool) -> tuple[ClientResult, int]:
    people = await load.make_people(server, plan.people + 1, 0)
    flood_token = people[-1][0]
    normal = people[:-1]
    flood_convs: list[int] = []
    if with_flood:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            auth = {"Authorization": f"Bearer {flood_token}"}
            for _ in range(plan.flood):
                made = await client.post("/v1/conversations", json={}, headers=auth)
                flood_convs.append(int(made.json()["id"]))
    start_at = time.time() + 5
    stop_at = start_at + plan.duration
    flood_task = (
        asyncio.create_task(flooder(server.url, flood_token, flood_convs, stop_at))
        if with_flood
        else None
    )
    result = await normal_people(server.url, normal, plan.interval, start_at, stop_at)
    flood_done = await flood_task if flood_task is not None else 0
    return result, flood_done


def section(plan: Plan, argv: Sequence[str], runs: list[tuple[str, ClientResult, int]]) -> str:
    rows = [
        "| run | normal turns | errors | added wait p50 / p95 / p99 ms | flooder replies |",
        "|---|---|---|---|---|",
    ]
    for name, r, flood in runs:
        rows.append(
            f"| {name} | {r.completed} | {sum(r.errors.values())} | "
            f"{pct(r.added_ms, 50):.0f} / {pct(r.added_ms, 95):.0f} / {pct(r.added_ms, 99):.0f} "
            f"| {flood} |"
        )
    base, flooded = runs[0][1], runs[1][1]
    ratio = pct(flooded.added_ms, 99) / max(pct(base.added_ms, 99), 1e-9)
    opts = options(plan)
    call_s = opts.ttft + opts.reply_tokens / opts.tokens_per_s
    busy = plan.people / plan.interval * call_s / plan.slots
    command = report.command_line(__file__, argv)
    return "\n".join(
        [
            "## Fairness: one person flooding the model",
            "",
            f"{plan.people} people, each sending a turn every {plan.interval:g} s on average over",
            f"WebSocket, to a model with {plan.slots} slots (TTFT 0.3 s, 30 tokens/s, 20 tokens),",
            f"for {plan.duration:g} s; in the second run one more person keeps {plan.flood}",
            "messages waiting at all times. *Added wait* is the normal people's time to first",
            "token beyond the model's own, OS1's scheduler queue included. The normal people",
            f"alone keep the model about {100 * busy:.0f}% busy (a call lasts {call_s:.2f} s);",
            "calls are not preempted, so every slot the flooder holds is one a normal person",
            "may wait for, and the busier the model, the more that wait shows.",
            "",
            f"- Command: `{command}`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Commit: {report.git_commit(load.REPO)}",
            f"- Machine: {report.machine().line()}",
            f"- With the flooder, the normal people's p99 is {ratio:.2f} times the p99 without "
            "(target: at most 1.2).",
            "",
            *rows,
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    plan = parse_args(argv)
    runs = []
    for name, flood in (("without the flooder", False), ("with the flooder", True)):
        result, done = one_run(plan, flood)
        print(
            f"{name}: {result.completed} turns, added p50 {pct(result.added_ms, 50):.0f} "
            f"p99 {pct(result.added_ms, 99):.0f} ms, flooder replies {done}",
            flush=True,
        )
        runs.append((name, result, done))
    body = section(plan, argv, runs)
    print(body)
    if plan.write:
        report.write_section(options(plan).out, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
