"""Markdown tables for a benchmark run, the machine it ran on, and a delimited section of a
markdown file that reruns replace."""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scoring import GROUPS, KS, SystemRun

#: Groups scored with hit@k and all@k (category 5 is adversarial: its evidence only shows the
#: question is unanswerable).
HIT_GROUPS = ("1", "2", "3", "4", "1-4")


@dataclass(frozen=True, slots=True)
class Machine:
    cpus: int
    cpu_model: str
    ram_gib: float
    python: str

    def line(self) -> str:
        return (
            f"{self.cpus} CPUs (nproc), {self.cpu_model}, {self.ram_gib:.0f} GiB RAM, "
            f"Python {self.python}"
        )


def machine() -> Machine:
    return Machine(
        cpus=len(os.sched_getaffinity(0)),
        cpu_model=_proc_field("/proc/cpuinfo", "model name") or platform.processor() or "?",
        ram_gib=int((_proc_field("/proc/meminfo", "MemTotal") or "0 kB").split()[0]) / 2**20,
        python=platform.python_version(),
    )


def _proc_field(path: str, name: str) -> str | None:
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    match = re.search(rf"^{re.escape(name)}\s*:\s*(.+)$", text, re.MULTILINE)
    return match[1].strip() if match else None


def git_commit(repo: Path) -> str:
    """The commit checked out, and whether os1/ differs from it."""
    try:
        head = _git(repo, "rev-parse", "--short=12", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--", "os1")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} (os1/ has uncommitted changes)" if dirty else head


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def _pct(value: float) -> str:
    return "-" if value != value else f"{100 * value:.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def recall_table(runs: Sequence[SystemRun]) -> str:
    """Evidence recall@k (%), every category and aggregate, one row per system."""
    rows = []
    for group in GROUPS:
        for run in runs:
            s = run.by_group()[group]
            rows.append([group, run.name, str(s.n), *(_pct(r) for r in s.recall)])
    return _table(["category", "system", "n", *(f"R@{k}" for k in KS)], rows)


def hit_table(runs: Sequence[SystemRun]) -> str:
    """hit@k and all@k (%), categories 1-4."""
    rows = []
    for group in HIT_GROUPS:
        for run in runs:
            s = run.by_group()[group]
            rows.append(
                [group, run.name, str(s.n), *(_pct(h) for h in s.hit), *(_pct(a) for a in s.all)]
            )
    header = ["category", "system", "n", *(f"hit@{k}" for k in KS), *(f"all@{k}" for k in KS)]
    return _table(header, rows)


def speed_table(runs: Sequence[SystemRun]) -> str:
    rows = [
        [
            run.name,
            f"{run.turns_per_s:,.1f}",
            f"{run.load_s:,.1f}",
            f"{run.latency_ms(50):.1f}",
            f"{run.latency_ms(95):.1f}",
        ]
        for run in runs
    ]
    header = ["system", "index turns/s", "index s", "query p50 ms", "query p95 ms"]
    return _table(header, rows)


def replace_section(document: str, name: str, body: str) -> str:
    """``document`` with the section between ``<!-- name:begin -->`` and ``<!-- name:end -->``
    replaced by ``body``, or with the section appended when there is none."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(document):
        return pattern.sub(lambda _: section, document, count=1)
    return f"{document.rstrip()}\n\n{section}\n" if document.strip() else f"{section}\n"


def write_section(path: Path, name: str, body: str) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace_section(old, name, body), encoding="utf-8")


def command_line(script: str, argv: Sequence[str]) -> str:
    """How a benchmark was run, with paths relative to the current folder where they can be."""
    parts = []
    for path in (Path(sys.executable), Path(script).resolve()):
        parts.append(str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path))
    return shlex.join([*parts, *argv])
