"""A letter rendered beside a busy event loop: in a thread of the server's process (as letters
were rendered before) and in the render process the server uses now (``os1.server.renders``).

The event loop stands in for a server's: a task that does some ms of pure-Python work, then
waits some ms (:data:`LOADS`: idle, about half busy, and never idle, as at the limit of a
worker's load, where a pause of 0 only yields). Beside it, page 1 of a fixed three-page
letter in the stock dkg hand is rendered with ``os1.letters.paper.page_png``, the code the
HTTP route runs, once through ``Renders`` and once in a thread (``asyncio.to_thread``), in
turn, ``--rounds`` times. Reported: the render's time, and how late the loop's task woke (its
lag) while the render ran. A render not finished in ``--limit`` s is reported as such (the
thread cannot be stopped, so the run then ends).

    .venv/bin/python benchmarks/renders.py            # prints, and writes docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import report

from os1.letters.models import LetterDoc
from os1.letters.paper import page_png, stock_hand
from os1.server.renders import Renders

REPO = Path(__file__).resolve().parents[1]
TEXT = (
    "Dear Roberta,\n\n"
    + (
        "Fifty years ago you spilled your coffee on my shoes at the cafe, and you laughed. " * 12
        + "\n\n"
    )
    * 3
)
LETTER = LetterDoc(
    title="Fifty years",
    client="Loretta",
    correspondent="Roberta",
    date=date(2025, 6, 14),
    text=TEXT,
)
#: (work ms, pause ms) of the loops compared: idle, about half busy, never idle.
LOADS = ((0.0, 1.0), (0.5, 0.5), (1.0, 0.0))


def render_page() -> int:
    """Page 1 of the letter as PNG, in the stock dkg hand: its size in bytes."""
    return len(page_png(LETTER, 1, hand=stock_hand("dkg")))


@dataclass
class Run:
    way: str
    work_ms: float
    pause_ms: float
    seconds: float | None = None
    lags: list[float] = field(default_factory=list)

    def lag(self, q: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def spin(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


async def busy_loop(
    work_ms: float, pause_ms: float, stop: asyncio.Event, lags: list[float]
) -> None:
    while not stop.is_set():
        spin(work_ms)
        began = time.perf_counter()
        await asyncio.sleep(pause_ms / 1000)
        lags.append(1000 * (time.perf_counter() - began) - pause_ms)


async def one(way: str, work_ms: float, pause_ms: float, renders: Renders, limit: float) -> Run:
    run = Run(way, work_ms, pause_ms)
    stop = asyncio.Event()
    loop_task = asyncio.create_task(busy_loop(work_ms, pause_ms, stop, run.lags))
    began = time.perf_counter()
    job = asyncio.to_thread(render_page) if way == "thread" else renders.run(render_page)
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.ensure_future(job)), limit)
        run.seconds = time.perf_counter() - began
    except TimeoutError:
        run.seconds = None
    stop.set()
    await loop_task
    return run


async def measure(rounds: int, limit: float) -> list[Run]:
    renders = Renders()
    await renders.run(render_page)  # the process started and warm, as after a first render
    render_page()
    runs = []
    try:
        for work_ms, pause_ms in LOADS:
            for _ in range(rounds):
                for way in ("process", "thread"):
                    run = await one(way, work_ms, pause_ms, renders, limit)
                    runs.append(run)
                    print(_line(run), flush=True)
                    if run.seconds is None:
                        return runs
    finally:
        renders.close()
    return runs


def _line(run: Run) -> str:
    took = "did not finish" if run.seconds is None else f"{run.seconds:.2f} s"
    return (
        f"{run.way:8s} work {run.work_ms} ms pause {run.pause_ms} ms: render {took}, loop lag "
        f"p50 {run.lag(0.5):.2f} p99 {run.lag(0.99):.2f} ms"
    )


def section(runs: Sequence[Run], argv: Sequence[str], limit: float) -> str:
    rows = [
        "| loop: work / pause ms | render in | render s (median) | loop lag p50 / p99 ms |",
        "|---|---|---|---|",
    ]
    for work_ms, pause_ms in LOADS:
        for way in ("process", "thread"):
            mine = [r for r in runs if (r.way, r.work_ms, r.pause_ms) == (way, work_ms, pause_ms)]
            if not mine:
                continue
            done = [r.seconds for r in mine if r.seconds is not None]
            took = f"{statistics.median(done):.2f}" if len(done) == len(mine) else (
                f"not done in {limit:g} s")  # fmt: skip
            lags = [x for r in mine for x in r.lags]
            pooled = Run(way, work_ms, pause_ms, lags=lags)
            where = "a thread" if way == "thread" else "the render process"
            rows.append(
                f"| {work_ms:g} / {pause_ms:g} | {where} | {took} "
                f"| {pooled.lag(0.5):.2f} / {pooled.lag(0.99):.2f} |"
            )
    return "\n".join(
        [
            "## Renders beside a busy event loop",
            "",
            "Page 1 of a three-page letter in the stock dkg hand (`page_png`, as the HTTP route",
            "renders it), beside an event loop whose one task works and pauses in turn: in a",
            "thread of the loop's process, as before, and in the render process the server uses",
            "now (`os1.server.renders`). Lag: how late the loop's task woke from each pause.",
            "",
            f"- Command: `{report.command_line(__file__, argv)}`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Commit: {report.git_commit(REPO)}",
            f"- Machine: {report.machine().line()}",
            "",
            *rows,
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=float, default=60.0, help="longest wait for a render, s")
    parser.add_argument("--no-write", dest="write", action="store_false")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    options = parser.parse_args(argv)
    runs = asyncio.run(measure(options.rounds, options.limit))
    body = section(runs, argv, options.limit)
    print(body)
    if options.write:
        report.write_section(options.out, "renders", body)
        print(f"wrote the renders section of {options.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
