"""Drafting in a client's voice: what the mind is given, and how it is chosen.

The past letters come from the project's own recall ranking (``os1.memory.recall``): the
correspondence's approved letters go into a throwaway :class:`PersonIndex`, each as its own
"conversation" so that no letter borrows relevance from the one before it, and the writer's notes
are read with the same analyzer as a question in chat (stems, stop words, related words, spans of
time such as "last spring"). Ranking is BM25 over stems with a very small preference for newer
letters; there is no embedding pass, since letters are not embedded and embedding a whole
correspondence for every draft would cost more than a few letters gain from it. Only letters that
share words with the notes are given; when none does, the latest letter is given for the voice.

Everything here is a plain function over dataclasses; :class:`os1.letters.studio.Studio` reads
the rows, calls the model and stores the version with what it drew on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from os1.errors import LLMError, LLMUnavailable
from os1.letters.models import Client, Correspondence, DrewOn, Mention, Occasion
from os1.letters.occasions import next_date
from os1.memory import recall
from os1.memory.index import Entry, PersonIndex
from os1.memory.query import analyze
from os1.mind.llm import LLM, Message, Sampling, complete
from os1.mind.offline import HOW_TO_CONNECT

#: Past letters given to the mind, at most, and how much of each.
MAX_LETTERS = 3
LETTER_CHARS = 2_000
#: Mentions given, at most: the relevant ones first, then the newest.
MAX_MENTIONS = 30
SAMPLING = Sampling(temperature=0.7, max_tokens=1_200)

NO_MODEL = "drafting needs a language model, and none is connected. " + HOW_TO_CONNECT


@dataclass(frozen=True, slots=True)
class PastLetter:
    """A letter already written in the correspondence: its approved text, and when."""

    id: int
    title: str
    text: str
    on: date


@dataclass(frozen=True, slots=True)
class Brief:
    """Everything the mind is given for one draft."""

    client: Client
    correspondence: Correspondence
    notes: str
    letters: tuple[PastLetter, ...]
    mentions: tuple[Mention, ...]
    occasions: tuple[Occasion, ...]
    today: date

    @property
    def drew_on(self) -> DrewOn:
        return DrewOn(
            letters=tuple(p.id for p in self.letters),
            mentions=tuple(m.id for m in self.mentions),
            occasions=tuple(o.id for o in self.occasions),
        )


def rank(items: Sequence[tuple[int, date, str]], query: str, k: int) -> list[int]:
    """Ids of the (id, date, text) items that share words with ``query``, best first, at most
    ``k``: the recall ranking of chat, over these items alone."""
    if not items or k <= 0:
        return []
    index = PersonIndex(0, 0)
    index.add(
        Entry(id=i, conversation_id=i, role="user", speaker=None, time=_stamp(on), text=text)
        for i, on, text in sorted(items)
    )
    final, base = recall.score(index, analyze(query, index), None)
    return [item_id for item_id, _ in recall.top(index, final, base, k)]


def _stamp(on: date) -> float:
    return datetime.combine(on, time(12), UTC).timestamp()


def choose_letters(past: Sequence[PastLetter], notes: str) -> tuple[PastLetter, ...]:
    """The past letters most relevant to the notes; the latest one when none is."""
    by_id = {p.id: p for p in past}
    found = rank([(p.id, p.on, f"{p.title}\n{p.text}") for p in past], notes, MAX_LETTERS)
    if not found and past:
        return (max(past, key=lambda p: (p.on, p.id)),)
    return tuple(by_id[i] for i in found)


def choose_mentions(mentions: Sequence[Mention], notes: str) -> tuple[Mention, ...]:
    """Mentions relevant to the notes first, then the newest, at most ``MAX_MENTIONS``."""
    today = date.today()
    first = rank([(m.id, today, m.text) for m in mentions], notes, MAX_MENTIONS)
    rest = sorted((m.id for m in mentions if m.id not in first), reverse=True)
    by_id = {m.id: m for m in mentions}
    return tuple(by_id[i] for i in [*first, *rest][:MAX_MENTIONS])


def messages(brief: Brief) -> list[Message]:
    """The conversation that asks for the draft: who writes to whom and how, then the notes
    and the correspondence's history."""
    return [Message("system", _system(brief)), Message("user", _request(brief))]


def _system(brief: Brief) -> str:
    client, to = brief.client, brief.correspondence
    relation = f" ({to.relation})" if to.relation else ""
    parts = [
        f"You write a personal letter in the voice of {client.name}, to {to.name}{relation}. "
        f"Write as {client.name}, in the first person, warmly and specifically. Use only the "
        "names, places and memories given here; invent no new ones.",
    ]
    if client.phrases:
        parts.append("Phrases they use: " + "; ".join(f'"{p}"' for p in client.phrases) + ".")
    if client.never_say:
        parts.append("They never say or mention: " + "; ".join(client.never_say) + ".")
    if client.notes:
        parts.append(f"About {client.name}: {client.notes}")
    parts.append("Reply with the letter only, from the greeting to the signature.")
    return "\n".join(parts)


def _request(brief: Brief) -> str:
    to = brief.correspondence
    out = [f"The writer's notes for this letter:\n{brief.notes}"]
    if to.notes:
        out.append(f"About {to.name}: {to.notes}")
    if brief.occasions:
        out.append(
            "Their occasions:\n" + "\n".join(_occasion(o, brief.today) for o in brief.occasions)
        )
    if brief.mentions:
        out.append(
            "Remembered from their letters:\n"
            + "\n".join(f"- ({m.kind}) {m.text}" for m in brief.mentions)
        )
    for past in brief.letters:
        body = past.text[:LETTER_CHARS] + ("…" if len(past.text) > LETTER_CHARS else "")
        out.append(f"An earlier letter, {_day(past.on)}, “{past.title}”:\n{body}")
    return "\n\n".join(out)


def _occasion(o: Occasion, today: date) -> str:
    since = f", since {o.year}" if o.year else ""
    return f"- {o.label} ({o.kind}{since}): next on {_day(next_date(o, today))}"


def _day(on: date) -> str:
    return f"{on:%B} {on.day}, {on.year}"


async def write(brief: Brief, llm: LLM | None) -> str:
    """The mind's draft for ``brief``. With no model, :class:`LLMUnavailable`: nothing is made
    up in its place."""
    if llm is None:
        raise LLMUnavailable(NO_MODEL)
    reply = (await complete(llm, messages(brief), SAMPLING)).strip()
    if not reply:
        raise LLMError("the language model returned an empty draft; nothing was saved")
    return reply
