"""The first-run setup interview: a few questions, answers kept as facts linked to the turns.

Pure functions: which question comes next, and what an answer means.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from os1.memory.models import Fact
from os1.mind.persona import Interview, Question

_NAME_PATTERNS = [
    re.compile(r"\bcall me\s+(?P<name>[^.,!?;\n]{1,40})", re.I),
    re.compile(r"\bmy name is\s+(?P<name>[^.,!?;\n]{1,40})", re.I),
    re.compile(r"^\s*(?:i am|i'm|it's|its)\s+(?P<name>[^.,!?;\n]{1,40})", re.I),
]
MAX_VALUE = 300


def next_question(interview: Interview, facts: Sequence[Fact]) -> Question | None:
    answered = {f.key for f in facts if f.kind == "interview"}
    return next((q for q in interview.questions if q.key not in answered), None)


def is_skip(interview: Interview, text: str) -> bool:
    return text.strip().lower().strip(".!") == interview.skip_word.lower()


def answer_value(question: Question, text: str) -> str:
    """What to remember from an answer; for a name, just the name."""
    answer = " ".join(text.split())
    if question.key == "preferred_name":
        for pattern in _NAME_PATTERNS:
            found = pattern.search(answer)
            if found:
                return found.group("name").strip()
        if len(answer.split()) <= 4:
            return answer.strip(" .!")
    return answer[:MAX_VALUE]


def preferred_name(facts: Sequence[Fact], default: str) -> str:
    for fact in facts:
        if fact.kind == "interview" and fact.key == "preferred_name":
            return fact.value
    return default
