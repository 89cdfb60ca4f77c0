"""The first-run setup interview: a few questions, answers kept as facts linked to the turns.

Pure functions: which question comes next, and what an answer means.
"""

from __future__ import annotations

import itertools
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
_NOT_NAMES = frozenset(
    [
        "by",
        "a",
        "an",
        "the",
        "my",
        "me",
        "it",
        "that",
        "this",
        "just",
        "whatever",
        "anything",
        "not",
        "when",
        "if",
        "i",
        "you",
        "no",
        "nothing",
        "please",
        "what",
        "why",
        "how",
    ]
)


def next_question(interview: Interview, facts: Sequence[Fact]) -> Question | None:
    answered = {f.key for f in facts if f.kind == "interview"}
    return next((q for q in interview.questions if q.key not in answered), None)


def is_skip(interview: Interview, text: str) -> bool:
    return text.strip().lower().strip(".!") == interview.skip_word.lower()


def answer_value(question: Question, text: str) -> str | None:
    """What to remember from an answer; for a name, just the name (None if there is none)."""
    answer = " ".join(text.split())
    if question.key != "preferred_name":
        return answer[:MAX_VALUE]
    for pattern in _NAME_PATTERNS:
        found = pattern.search(answer)
        if found and _just_the_name(found.group("name")):
            return _just_the_name(found.group("name"))
    first = re.split(r"[,.;!?]", answer, maxsplit=1)[0].strip()
    if 0 < len(first.split()) <= 3 and first.split()[0].lower() not in _NOT_NAMES:
        return first
    return None


def _just_the_name(phrase: str) -> str:
    """ "Ted from now on" -> "Ted"; "Mary Ann please" -> "Mary Ann"; "theo" -> "theo"."""
    words = phrase.split()
    if not words:
        return ""
    named = list(itertools.takewhile(lambda w: w[:1].isupper(), words))[:3]
    if not named and words[0].lower() in _NOT_NAMES:
        return ""
    return " ".join(named or words[:1]).strip(" .,!?;:'\"")


def name_change(text: str) -> str | None:
    """A new name the person asks to be called by, said at any point ("call me Ted")."""
    for pattern in _NAME_PATTERNS[:2]:
        found = pattern.search(text)
        if found and found.group("name")[:1].isupper():
            return _just_the_name(found.group("name")) or None
    return None


def preferred_name(facts: Sequence[Fact], default: str) -> str:
    for fact in facts:
        if fact.kind == "interview" and fact.key == "preferred_name":
            return fact.value
    return default
