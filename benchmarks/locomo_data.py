"""LoCoMo (locomo10.json) as plain dataclasses, and as the JSON Lines that ``os1 import`` reads.

Evidence defects are handled as ../shared/data/locomo/README.md advises: every evidence string
is parsed with ``D:?(\\d+):(\\d+)`` (which splits "D8:6; D9:17", repairs "D:11:26" and "D30:05",
and finds nothing in "D"), ids that do not exist in the conversation are dropped, and a question
left with no evidence is skipped. Every repair, drop and skip is counted in ``Defects``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

#: Seconds between consecutive turns of a session; keeps turns in order by time.
TURN_SPACING_S = 10
EVIDENCE_ID = re.compile(r"D:?(\d+):(\d+)")
_SESSION_KEY = re.compile(r"session_(\d+)")
_DATE_FORMAT = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"


@dataclass(frozen=True, slots=True)
class DialogTurn:
    dia_id: str
    session: int
    role: Literal["user", "assistant"]
    speaker: str
    content: str
    time: datetime


@dataclass(frozen=True, slots=True)
class Question:
    sample_id: str
    category: int
    question: str
    answer: str
    #: Distinct, existing dia_ids after repair, in the order the data gives them.
    evidence: tuple[str, ...]


@dataclass(slots=True)
class Defects:
    """What was repaired, dropped or skipped while reading the questions."""

    repaired: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        out = [f"repaired evidence string: {r}" for r in self.repaired]
        out += [f"dropped evidence id: {d}" for d in self.dropped]
        out += [f"skipped {n} question(s): {why}" for why, n in sorted(self.skipped.items())]
        return out


@dataclass(frozen=True, slots=True)
class LocomoConversation:
    sample_id: str
    turns: tuple[DialogTurn, ...]
    questions: tuple[Question, ...]

    def jsonl(self) -> bytes:
        """The conversation in the format of ``os1 import``, one line per turn."""
        return b"".join(json.dumps(_import_line(t)).encode() + b"\n" for t in self.turns)


def sample_ids(path: Path) -> list[str]:
    return [str(item["sample_id"]) for item in json.loads(path.read_bytes())]


def load(path: Path, keep: Collection[str], defects: Defects) -> list[LocomoConversation]:
    """The conversations whose sample_id is in ``keep``, in file order."""
    raw = json.loads(path.read_bytes())
    return [_conversation(item, defects) for item in raw if item["sample_id"] in keep]


def _conversation(item: dict[str, Any], defects: Defects) -> LocomoConversation:
    sample_id = str(item["sample_id"])
    turns = tuple(_turns(item["conversation"]))
    known = {t.dia_id for t in turns}
    questions = []
    for qa in item["qa"]:
        question = _question(sample_id, qa, known, defects)
        if question is not None:
            questions.append(question)
    return LocomoConversation(sample_id, turns, tuple(questions))


def _turns(conv: dict[str, Any]) -> Iterator[DialogTurn]:
    roles: dict[str, Literal["user", "assistant"]] = {
        conv["speaker_a"]: "user",
        conv["speaker_b"]: "assistant",
    }
    sessions = sorted(int(m[1]) for k in conv if (m := _SESSION_KEY.fullmatch(k)))
    for n in sessions:
        start = datetime.strptime(conv[f"session_{n}_date_time"], _DATE_FORMAT).replace(tzinfo=UTC)
        for index, turn in enumerate(conv[f"session_{n}"]):
            yield DialogTurn(
                dia_id=turn["dia_id"],
                session=n,
                role=roles[turn["speaker"]],
                speaker=turn["speaker"],
                content=_content(turn),
                time=start + timedelta(seconds=TURN_SPACING_S * index),
            )


def _content(turn: dict[str, Any]) -> str:
    text = str(turn["text"])
    caption = turn.get("blip_caption")
    return f"{text} [shares a photo: {caption}]" if caption else text


def _import_line(turn: DialogTurn) -> dict[str, str]:
    return {
        "id": turn.dia_id,
        "session": f"session_{turn.session}",
        "role": turn.role,
        "speaker": turn.speaker,
        "content": turn.content,
        "time": turn.time.isoformat(),
    }


def _question(
    sample_id: str, qa: dict[str, Any], known: set[str], defects: Defects
) -> Question | None:
    category = int(qa["category"])
    if not qa["evidence"]:
        defects.skipped[f"category {category}: no evidence given"] += 1
        return None
    evidence = parse_evidence(sample_id, qa["evidence"], known, defects)
    if not evidence:
        defects.skipped[f"category {category}: no valid evidence left after repair"] += 1
        return None
    answer = qa.get("answer", qa.get("adversarial_answer", ""))
    return Question(sample_id, category, str(qa["question"]), str(answer), evidence)


def parse_evidence(
    sample_id: str, raw: Sequence[str], known: set[str], defects: Defects
) -> tuple[str, ...]:
    """Distinct existing dia_ids named by ``raw``; repairs and drops go to ``defects``."""
    found: dict[str, None] = {}
    for text in raw:
        ids = [f"D{int(s)}:{int(t)}" for s, t in EVIDENCE_ID.findall(text)]
        if not ids:
            defects.dropped.append(f"{sample_id} {text!r} (names no turn)")
        elif ids != [text]:
            defects.repaired.append(f"{sample_id} {text!r} -> {', '.join(ids)}")
        for dia_id in ids:
            if dia_id in known:
                found.setdefault(dia_id, None)
            else:
                defects.dropped.append(f"{sample_id} {dia_id} (no such turn)")
    return tuple(found)


def in_pronouns(conversation: LocomoConversation) -> LocomoConversation:
    """``conversation`` with only the questions that name exactly one of its two speakers,
    each as the first speaker would ask it in a chat with the second: the first speaker's
    name as "I" ("my" for the possessive), the second's as "you" ("your")."""
    first = next(t.speaker for t in conversation.turns if t.role == "user")
    second = next(t.speaker for t in conversation.turns if t.role == "assistant")
    asked = []
    for question in conversation.questions:
        named = [n for n in (first, second) if re.search(rf"\b{re.escape(n)}\b", question.question)]
        if len(named) != 1:
            continue
        own, subject = ("my", "I") if named[0] == first else ("your", "you")
        text = re.sub(rf"\b{re.escape(named[0])}['\u2019]s\b", own, question.question)
        text = re.sub(rf"\b{re.escape(named[0])}\b", subject, text)
        asked.append(replace(question, question=text))
    return replace(conversation, questions=tuple(asked))
