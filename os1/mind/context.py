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
from os1.memory.terms import words
from os1.mind.llm import Message
from os1.mind.persona import MindSpec

FACT_LABELS = {
    "preferred_name": "likes to be called",
    "working_on": "is working on",
    "what_matters": "cares most about",
}


#: The facts block gets at most this fraction (1/N) of the whole prompt budget.
FACTS_SHARE = 6
#: How many superseded facts are shown as the past, the most recent.
PAST_FACTS = 5


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
    #: A few sentences about the person, kept current by distillation.
    profile: str | None = None
    #: Facts that ended; the superseded ones are shown as the past.
    past: Sequence[Fact] = ()
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
        lines.append(f"Right now you are in {parts.presence.phrase()} in all.")
    lines.extend(parts.notes)
    return "\n".join(lines)


def _fact_phrase(fact: Fact, person: str) -> str:
    return f"{person} {FACT_LABELS.get(fact.key, fact.key.replace('_', ' ') + ':')} {fact.value}"


def _distinct(found: Sequence[Fact]) -> list[Fact]:
    """``found`` without facts that say what an earlier one says (same kind, same words in the
    key and the value, whatever the case and punctuation), so repeats do not use the budget."""
    seen: set[tuple[str, tuple[str, ...], tuple[str, ...]]] = set()
    out = []
    for fact in found:
        said = (fact.kind, tuple(words(fact.key)), tuple(words(fact.value)))
        if said not in seen:
            seen.add(said)
            out.append(fact)
    return out


def facts_block(parts: PromptParts, budget_tokens: int | None = None) -> str:
    """The profile, then the current facts, then a few facts that the world has superseded
    (never the retracted ones), within ``budget_tokens``: the profile gets up to a third, the
    newest facts come before older ones, the past comes last."""
    left = budget_tokens if budget_tokens is not None else 1 << 30
    lines: list[str] = []
    if parts.profile:
        profile = f"In short: {fit(parts.profile, max(left // 3, 32))}"
        lines.append(profile)
        left -= estimate_tokens(profile)
    now = _within(
        [
            f"- {_fact_phrase(f, parts.person)} (since {f.created_at:%Y-%m-%d})"
            for f in _distinct(parts.facts)
        ],
        left,
    )
    lines.extend(now)
    left -= sum(estimate_tokens(line) for line in now)
    ended = sorted(
        (f for f in parts.past if f.ended_reason == "superseded" and f.superseded_at),
        key=lambda f: f.superseded_at or f.created_at,
    )[-PAST_FACTS:]
    header = "In the past (no longer true):"
    past = _within(
        [f"- {_fact_phrase(f, parts.person)} (until {f.superseded_at:%Y-%m-%d})" for f in ended],
        left - estimate_tokens(header),
    )
    if past:
        lines.extend([header, *past])
    if not lines:
        return ""
    return f"What you know about {parts.person}:\n" + "\n".join(lines)


def _within(rows: Sequence[str], budget: int) -> list[str]:
    """The last rows (the newest) that fit ``budget`` tokens, in their order."""
    kept: list[str] = []
    for row in reversed(rows):
        cost = estimate_tokens(row)
        if cost > budget:
            break
        kept.append(row)
        budget -= cost
    return kept[::-1]


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


def echo_stops(parts: PromptParts) -> tuple[str, ...]:
    """Where a small model has started to recite its own prompt instead of replying: the
    openings of the prompt's blocks and of a memory line, and the "Chat History" heading such a
    model makes up. The reply ends there, so none of it is streamed or stored."""
    return (
        f"You are talking with {parts.person}",
        "Right now you are in",
        f"What you know about {parts.person}",
        "said before that may matter now",
        "- On 20",
        f"Reply as {parts.mind.name}, in the first person",
        "Chat History",
    )


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
        facts_block(parts, budget.total // FACTS_SHARE),
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
