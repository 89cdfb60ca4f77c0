"""Prompt assembly: persona, what the mind knows, recalled memories and the recent turns, within
a token budget. Plain functions over plain data.

Recalled memories are listed oldest first, each with its date, under a line saying that a later
statement replaces an earlier one; so "I moved to Berlin" visibly supersedes "I live in Lisbon".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from os1.memory.models import Fact, RecallItem, Turn
from os1.memory.presence import Presence
from os1.mind.llm import Message
from os1.mind.persona import MindSpec

FACT_LABELS = {
    "preferred_name": "likes to be called",
    "working_on": "is working on",
    "what_matters": "cares most about",
}


def estimate_tokens(text: str) -> int:
    """A cheap, tokenizer-free estimate (about four characters a token for English)."""
    return len(text) // 4 + 1


@dataclass(frozen=True, slots=True)
class Budget:
    total: int
    memories: int
    reply: int


@dataclass(slots=True)
class PromptParts:
    mind: MindSpec
    person: str
    now: datetime
    facts: Sequence[Fact] = ()
    memories: Sequence[RecallItem] = ()
    recent: Sequence[Turn] = ()
    presence: Presence | None = None
    notes: list[str] = field(default_factory=list)
    #: A short prompt for very small models: the short voice, no values, a plain instruction.
    compact: bool = False


def _stamp(time: datetime) -> str:
    return time.strftime("%Y-%m-%d %H:%M")


def _who(item: RecallItem, mind: str, person: str) -> str:
    if item.speaker:
        return item.speaker
    return mind if item.role == "assistant" else person


def statements_first(items: Sequence[RecallItem], k: int) -> list[RecallItem]:
    """The ``k`` items to show, the person's statements before questions and replies (which
    seldom hold facts of their own), each part still best first."""

    def is_statement(item: RecallItem) -> bool:
        return item.role == "user" and not item.text.rstrip().endswith("?")

    ordered = [i for i in items if is_statement(i)] + [i for i in items if not is_statement(i)]
    return ordered[:k]


def persona_block(mind: MindSpec, compact: bool = False) -> str:
    if compact:
        first = mind.short_voice or mind.voice.strip().split(". ")[0].rstrip(".") + "."
        return (
            f"{first} Reply as {mind.name}, in the first person, in one to three short "
            "sentences. Never speak as the person you are talking with."
        )
    lines = [mind.voice.strip()]
    if mind.values:
        lines.append("What you hold to:\n" + "\n".join(f"- {v}" for v in mind.values))
    return "\n\n".join(lines)


def situation_block(parts: PromptParts) -> str:
    lines = [f"You are talking with {parts.person}. It is now {_stamp(parts.now)} UTC."]
    if parts.presence is not None:
        lines.append(
            f"Right now you are in {parts.presence.conversations} conversation(s) "
            f"with {parts.presence.people} people in all."
        )
    lines.extend(parts.notes)
    return "\n".join(lines)


def facts_block(parts: PromptParts) -> str:
    if not parts.facts:
        return ""
    rows = [
        f"- {parts.person} {FACT_LABELS.get(f.key, f.key.replace('_', ' ') + ':')} "
        f"{f.value} (since {f.created_at:%Y-%m-%d})"
        for f in parts.facts
    ]
    return f"What you know about {parts.person}:\n" + "\n".join(rows)


def memories_block(parts: PromptParts, budget_tokens: int) -> str:
    """The best memories that fit the budget, then shown oldest first."""
    header = (
        f"Things {parts.person} and you said before that may matter now, oldest first. "
        "When two disagree, the later one is what is true now:"
    )
    chosen: list[RecallItem] = []
    used = estimate_tokens(header)
    for item in parts.memories:  # best first
        line = _memory_line(item, parts)
        cost = estimate_tokens(line)
        if used + cost > budget_tokens:
            continue
        chosen.append(item)
        used += cost
    if not chosen:
        return ""
    chosen.sort(key=lambda i: i.time)
    return header + "\n" + "\n".join(_memory_line(i, parts) for i in chosen)


def _memory_line(item: RecallItem, parts: PromptParts) -> str:
    who = _who(item, parts.mind.name, parts.person)
    # "X said: ..." rather than "X: ...", which small models take for a script to continue.
    return f"- On {_stamp(item.time)}, {who} said: {item.text}"


def fit(text: str, tokens: int) -> str:
    """``text`` cut in the middle to about ``tokens`` tokens, if it is longer (the whole text is
    still stored; only the prompt gets the cut)."""
    if estimate_tokens(text) <= tokens:
        return text
    keep = max(tokens * 4 - 40, 80) // 2
    return f"{text[:keep]}\n[... {len(text) - 2 * keep:,} characters left out ...]\n{text[-keep:]}"


def build_messages(parts: PromptParts, user_text: str, budget: Budget) -> list[Message]:
    """System message, then as many recent turns as fit, then the new user message."""
    blocks = [
        persona_block(parts.mind, parts.compact),
        situation_block(parts),
        facts_block(parts),
        memories_block(parts, budget.memories),
    ]
    system = "\n\n".join(b for b in blocks if b)
    room = budget.total - budget.reply - estimate_tokens(system)
    user_text = fit(user_text, max(room, 64))
    left = room - estimate_tokens(user_text)
    history: list[Message] = []
    for turn in reversed(parts.recent):
        cost = estimate_tokens(turn.content)
        if cost > left:
            break
        history.append(Message(role=turn.role, content=turn.content))
        left -= cost
    history.reverse()
    return [Message("system", system), *history, Message("user", user_text)]
