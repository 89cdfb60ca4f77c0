"""LoCoMo turn-retrieval benchmark: OS1 recall against plain BM25 and plain dense retrieval.

Each LoCoMo conversation becomes one person, imported through the code path of ``os1 import``
into a fresh SQLite database; every question is asked through the code path of
``os1 recall --json`` (k=50), and the distinct source ids that come back are scored against the
question's evidence dia_ids. The baselines see the same turn texts and the same questions.

    .venv/bin/python benchmarks/locomo.py --split report

Split: the first three conversations (``TUNE_SAMPLE_IDS``) are for tuning recall; figures to
publish come from the other seven (``--split report``). ``--split all`` takes all ten.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import locomo_data
import report
from locomo_data import Defects, LocomoConversation, Question
from retrievers import BM25Retriever, DenseRetriever, OS1Retriever, Retriever
from scoring import KS, SystemRun, score

from os1.memory.db import make_engine, migrate
from os1.memory.embed import Embedder
from os1.memory.store import SqlStore
from os1.runtime import make_embedder
from os1.settings import Settings

DESCRIPTION = "LoCoMo turn retrieval: OS1 recall against plain BM25 and plain dense retrieval."
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "locomo" / "locomo10.json"
#: Conversations used to tune recall; the rest form the report split. Never change this
#: after figures are published from the report split.
TUNE_SAMPLE_IDS = ("conv-26", "conv-30", "conv-41")
SPLITS = ("tune", "report", "all")
SYSTEMS = ("os1", "bm25", "dense")
K = max(KS)
SECTION = "locomo"
DEFAULT_EMBEDDER = str(Settings.model_fields["embedder"].default)
EMBEDDERS = typing.get_args(Settings.model_fields["embedder"].annotation)
PRONOUNS_NOTE = [
    "With `--pronouns`, each conversation is read as a chat between its first speaker (the",
    "person, role `user`) and its second (role `assistant`), and only the questions that name",
    "one of them are asked, as the person would ask them: the first speaker's name becomes",
    'I / my, the second\'s you / your ("What did Caroline paint?" to "What did I paint?").',
    "",
]
CATEGORY_NAMES = "1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial"


@dataclass(frozen=True, slots=True)
class Options:
    data: Path
    limit_conversations: int | None
    split: str
    systems: tuple[str, ...]
    database_url: str | None
    embedder: str
    out: Path
    write: bool
    details: Path | None
    pronouns: bool = False


def parse_args(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo10.json")
    parser.add_argument("--limit-conversations", type=int, metavar="N")
    parser.add_argument("--split", choices=SPLITS, default="report")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated")
    parser.add_argument("--database-url", help="an empty database (default: a temporary one)")
    parser.add_argument(
        "--embedder",
        choices=[e for e in EMBEDDERS if e != "none"],
        default=DEFAULT_EMBEDDER,
        help="the embedding model OS1 and the dense baseline use",
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--details", type=Path, help="write per-question results (JSON Lines)")
    parser.add_argument(
        "--pronouns",
        action="store_true",
        help="ask only the questions that name one speaker, as that speaker's partner in a chat "
        "would: the first speaker's name as I/my, the second's as you/your",
    )
    args = parser.parse_args(argv)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    if not systems or set(systems) - set(SYSTEMS):
        parser.error(f"--systems takes a comma-separated subset of {','.join(SYSTEMS)}")
    if args.limit_conversations is not None and args.limit_conversations < 1:
        parser.error("--limit-conversations must be at least 1")
    return Options(
        data=args.data,
        limit_conversations=args.limit_conversations,
        split=args.split,
        systems=systems,
        database_url=args.database_url,
        embedder=args.embedder,
        out=args.out,
        write=not args.no_write,
        details=args.details,
        pronouns=args.pronouns,
    )


def choose(all_ids: Sequence[str], split: str, limit: int | None) -> list[str]:
    """The sample_ids of ``split``, in file order, at most ``limit`` of them."""
    if split == "tune":
        chosen = [s for s in all_ids if s in TUNE_SAMPLE_IDS]
    elif split == "report":
        chosen = [s for s in all_ids if s not in TUNE_SAMPLE_IDS]
    else:
        chosen = list(all_ids)
    return chosen[:limit]


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="os1-locomo-") as folder:
        yield f"sqlite+aiosqlite:///{folder}/locomo.db"


def build(systems: Sequence[str], store: SqlStore, embedder: Embedder) -> list[Retriever]:
    max_chars = Settings.model_fields["max_message_chars"].default
    made: dict[str, Retriever] = {
        "os1": OS1Retriever(store, max_chars),
        "bm25": BM25Retriever(),
        "dense": DenseRetriever(embedder),
    }
    return [made[name] for name in systems]


async def evaluate(
    conversation: LocomoConversation,
    retrievers: Sequence[Retriever],
    runs: dict[str, SystemRun],
    details: IO[str] | None,
) -> None:
    for retriever in retrievers:
        run = runs[retriever.name]
        started = time.perf_counter()
        await retriever.load(conversation)
        run.load_s += time.perf_counter() - started
        run.turns += len(conversation.turns)
    for question in conversation.questions:
        found = {r.name: await _ask(r, question, runs[r.name]) for r in retrievers}
        if details is not None:
            details.write(json.dumps({**asdict(question), "retrieved": found}) + "\n")


async def _ask(retriever: Retriever, question: Question, run: SystemRun) -> list[str]:
    started = time.perf_counter()
    ids = await retriever.search(question.question, K)
    run.latencies_s.append(time.perf_counter() - started)
    run.scored.append(score(question.category, question.evidence, ids))
    return ids


async def run_all(
    options: Options, conversations: Sequence[LocomoConversation], details: IO[str] | None
) -> list[SystemRun]:
    embedder = make_embedder(Settings.model_validate({"embedder": options.embedder}))
    assert embedder is not None
    if {"os1", "dense"} & set(options.systems):
        await embedder.query("warm up")  # load the model before anything is timed
    with database(options.database_url) as url:
        engine = make_engine(url)
        try:
            await migrate(engine)
            store = SqlStore(engine, embedder)
            await store.word_neighbours()  # made once per machine, before anything is timed
            retrievers = build(options.systems, store, embedder)
            runs = {r.name: SystemRun(r.name) for r in retrievers}
            for conversation in conversations:
                started = time.perf_counter()
                await evaluate(conversation, retrievers, runs, details)
                _progress(conversation, time.perf_counter() - started)
        finally:
            await engine.dispose()
    return list(runs.values())


def _progress(conversation: LocomoConversation, seconds: float) -> None:
    print(
        f"{conversation.sample_id}: {len(conversation.turns)} turns, "
        f"{len(conversation.questions)} questions, {seconds:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def section(
    options: Options,
    argv: Sequence[str],
    conversations: Sequence[LocomoConversation],
    runs: Sequence[SystemRun],
    defects: Defects,
    seconds: float,
) -> str:
    """The markdown section for this run: what was run where, then the tables."""
    lines = [
        "## LoCoMo: turn retrieval"
        + (
            ""
            if options.embedder == DEFAULT_EMBEDDER
            else f", with the `{options.embedder}` embedder"
        )
        + (", questions in the first and second person" if options.pronouns else ""),
        "",
        *(PRONOUNS_NOTE if options.pronouns else []),
        "How often recall brings back the turns that hold the answer to a LoCoMo question",
        "(Maharana et al., ACL 2024; locomo10.json, CC BY-NC 4.0). Each conversation is one",
        "person, imported with the code path of `os1 import`; each question is asked with the",
        f"code path of `os1 recall --json` (k={K}). Baselines on the same turns: `bm25` is plain",
        "Okapi BM25 (rank-bm25, lower-cased word tokens), `dense` is cosine similarity with the",
        f"embedder OS1 uses (`{options.embedder}`). Index throughput includes the embeddings.",
        "",
        *_provenance(options, argv, conversations, defects, seconds),
        "",
        *_tables(runs),
        "",
        "### Data defects handled",
        "",
        *(f"- {line}" for line in defects.lines() or ["none in these conversations"]),
    ]
    return "\n".join(lines)


def _provenance(
    options: Options,
    argv: Sequence[str],
    conversations: Sequence[LocomoConversation],
    defects: Defects,
    seconds: float,
) -> list[str]:
    turns = sum(len(c.turns) for c in conversations)
    questions = sum(len(c.questions) for c in conversations)
    return [
        f"- Command: `{report.command_line(__file__, argv)}`",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; run time {seconds / 60:.1f} min",
        f"- Commit: {report.git_commit(REPO)}",
        f"- Machine: {report.machine().line()}",
        f"- Split `{options.split}`: {len(conversations)} conversation(s) "
        f"({', '.join(c.sample_id for c in conversations)}), {turns:,} turns, "
        f"{questions:,} questions scored, {sum(defects.skipped.values())} skipped",
        f"- Category codes: {CATEGORY_NAMES}",
    ]


def _tables(runs: Sequence[SystemRun]) -> list[str]:
    return [
        "### Evidence recall@k (%), the LoCoMo paper's retrieval metric",
        "",
        report.recall_table(runs),
        "",
        "### hit@k (any evidence turn found) and all@k (every one found), %",
        "",
        report.hit_table(runs),
        "",
        "### Speed",
        "",
        report.speed_table(runs),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_args(argv)
    started = time.perf_counter()
    defects = Defects()
    keep = choose(locomo_data.sample_ids(options.data), options.split, options.limit_conversations)
    conversations = locomo_data.load(options.data, keep, defects)
    if options.pronouns:
        conversations = [locomo_data.in_pronouns(c) for c in conversations]
    with _maybe_open(options.details) as details:
        runs = asyncio.run(run_all(options, conversations, details))
    body = section(options, argv, conversations, runs, defects, time.perf_counter() - started)
    print(body)
    if options.write:
        # The default embedder's run is the main section; another embedder's run gets its own
        # section beside it, so both can be compared.
        name = SECTION if options.embedder == DEFAULT_EMBEDDER else f"{SECTION}-{options.embedder}"
        name += "-pronouns" if options.pronouns else ""
        report.write_section(options.out, name, body)
        print(f"\nwrote the {name} section of {options.out}", file=sys.stderr)
    return 0


@contextmanager
def _maybe_open(path: Path | None) -> Iterator[IO[str] | None]:
    if path is None:
        yield None
        return
    with path.open("w", encoding="utf-8") as file:
        yield file


if __name__ == "__main__":
    sys.exit(main())
