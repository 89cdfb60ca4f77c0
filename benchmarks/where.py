"""Where a server's time goes: py-spy samples of a process, grouped into the parts of a turn.

``record`` samples a process with py-spy (``py-spy record --format raw``) for a while;
``split`` reads the collapsed stacks and gives each sample to the part of OS1 it was in, found
by walking its stack from the innermost frame outwards to the first frame that belongs to a
part (a ``json.loads`` called by the model client counts as the model stream, a NumPy call made
by recall as recall). Samples of threads waiting idle are not recorded by py-spy.

    .venv/bin/python benchmarks/where.py PROFILE.txt      # print the split of a recording
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

#: The parts of a turn, each with the patterns of the frames that belong to it, in the order
#: they are tried on a frame.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("embedding (MiniLM, onnxruntime)", ("onnxruntime", "tokenizers", "os1/memory/embed")),
    (
        "recall (index and ranking)",
        (
            "os1/memory/recall",
            "os1/memory/index",
            "os1/memory/query",
            "os1/memory/terms",
            "os1/memory/cache",
            "os1/memory/when",
            "snowballstemmer",
        ),
    ),
    ("database (SQLAlchemy, asyncpg)", ("sqlalchemy", "asyncpg", "aiosqlite")),
    (
        "model client (HTTP stream)",
        ("aiohttp", "yarl", "multidict", "httpx", "httpcore", "h11", "anyio", "backends/"),
    ),
    ("prompt", ("os1/mind/context", "os1/mind/persona")),
    ("scheduling", ("os1/mind/scheduler", "os1/server/shared", "os1/server/limits")),
    (
        "serving (WebSocket, HTTP)",
        ("websockets", "uvicorn", "starlette", "fastapi", "httptools", "os1/server", "pydantic"),
    ),
    ("conversation", ("os1/mind/", "os1/memory/")),
)
OTHER = "event loop and other"
_FRAME = re.compile(r"\(([^():]+)(?::\d+)?\)$")


def record(pid: int, seconds: float, out: Path, rate: int = 50) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` and the processes it started for ``seconds``; wait on the
    returned process."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--subprocesses",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--duration",
            str(max(1, round(seconds))),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def part_of(stack: Sequence[str]) -> str:
    """The part a sample belongs to; ``stack`` is outermost frame first, as py-spy writes."""
    for frame in reversed(stack):
        found = _FRAME.search(frame)
        where = found.group(1) if found else frame
        for name, patterns in PARTS:
            if any(p in where for p in patterns):
                return name
    return OTHER


def split(text: str) -> Counter[str]:
    """Samples per part from py-spy's raw output (``frame;frame;... count`` lines)."""
    parts: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if frames and frames[0].startswith(("process ", "thread ")):
            frames = frames[1:]
        parts[part_of(frames)] += int(count)
    return parts


def table(parts: Counter[str], cpu_ms_per_turn: float | None) -> list[str]:
    """Markdown rows: each part's share of the samples and, given the server's CPU time per
    turn, its milliseconds per turn."""
    total = sum(parts.values())
    if not total:
        return ["(no samples)"]
    rows = ["| part | share of samples % | CPU ms per turn |", "|---|---|---|"]
    for name, count in parts.most_common():
        share = count / total
        ms = f"{share * cpu_ms_per_turn:.2f}" if cpu_ms_per_turn is not None else "-"
        rows.append(f"| {name} | {100 * share:.1f} | {ms} |")
    if cpu_ms_per_turn is not None:
        rows.append(f"| **all** | 100 | {cpu_ms_per_turn:.2f} |")
    return rows


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    print("\n".join(table(split(Path(argv[0]).read_text()), None)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
