"""Names and places drawn from a sent letter, for the correspondence to remember.

By rule, with no model: a run of capitalised words inside a sentence ("the trattoria on Via
Zamboni", "dinner with Aunt Jo") is a name or a place; a capitalised word that opens a sentence
or a line is not taken, since any word may stand there. The greeting and the signature are
skipped, and so are the client's and the correspondent's own names, months, weekdays, holidays,
words of address ("Dear", "Mom") and any word the letter also writes in lower case. A run
after "in", "at", "near", "from" ... (or holding "Street", "Lake", "Café" ...) is a place, and
so is one listed after a place ("in Rome, Paris and Vienna"); any other, a name. A run ends at
anything but a space between two words ("Marco, Anna and Luca" are three names), save a
title's dot ("Mr. Ellison"). The rules would rather miss a name than keep a wrong one.

With a language model, the model is asked instead, and only what it names that stands in the
letter word for word is kept; when it fails, cannot be reached, or answers nothing usable (no
list, or none of what it names stands in the letter), the rules answer.

Everything here is a plain function; :meth:`os1.letters.studio.Studio.mark_sent` stores what is
found, leaving out what the correspondence already remembers (:func:`key`: without case,
accents or punctuation).
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from os1.errors import ConfigError, LLMError
from os1.letters.models import MentionKind
from os1.mind.llm import LLM, Message, Sampling, complete

#: At most this many mentions are drawn from one letter.
MAX_FOUND = 20
#: A mention drawn from a letter is at most this many characters and words.
MAX_CHARS = 60
MAX_WORDS = 5
SAMPLING = Sampling(temperature=0.0, max_tokens=400)

#: A word: letters, with inner apostrophes, hyphens or dots ("O'Brien", "Saint-Malo", "St.").
_WORD = re.compile(r"[^\W\d_](?:[\w]|['\u2019.-](?=\w))*")
#: Where a sentence ends: ., ! or ? (with closing quotes or brackets), a colon, a semicolon.
_SENTENCE_END = re.compile(r"""[.!?]+["'\u201d\u2019)\]]*\s|[:;]\s""")
_POSSESSIVE = re.compile(r"['\u2019]s$")
#: Titles whose dot ends no sentence.
_ABBREVIATION = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Mt|Jr|Sr|Ft)\.$")
#: The longest title and the character before it ("\bMrs.").
_TITLE_CHARS = 4
#: Lowercase words that may stand inside a name ("Bay of Naples", "Leonardo da Vinci").
_JOINERS = frozenset(
    {"of", "de", "del", "della", "di", "da", "du", "van", "von", "der", "la", "le"}
)
_PLACE_BEFORE = frozenset(
    {"in", "at", "near", "from", "across", "through", "around", "outside", "inside", "visit",
     "visited", "visiting", "toward", "towards"}
)  # fmt: skip
#: "to" is a place's word after these ("we drove to Monterey"), not after "wrote" or "said".
_MOVES = frozenset(
    {"go", "goes", "going", "went", "gone", "come", "came", "coming", "drive", "drove",
     "driving", "fly", "flew", "flying", "move", "moved", "moving", "travel", "traveled",
     "travelled", "back", "way", "trip", "return", "returned", "walk", "walked", "sail",
     "sailed", "ride", "rode", "road", "train", "get", "got", "on"}
)  # fmt: skip
_PLACE_WORDS = frozenset(
    {"street", "st", "road", "rd", "avenue", "ave", "lane", "boulevard", "square", "park",
     "lake", "river", "bay", "beach", "coast", "island", "isle", "mount", "mountain", "hill",
     "hills", "valley", "bridge", "harbor", "harbour", "hotel", "inn", "café", "cafe",
     "restaurant", "church", "cathedral", "museum", "station", "airport", "county", "city",
     "village", "falls", "canyon", "forest", "garden", "gardens", "via", "rue", "piazza",
     "plaza", "pier", "point", "springs"}
)  # fmt: skip
#: Capitalised words that name no one and nowhere worth remembering: greetings and closings,
#: words of address, months, weekdays, holidays, and words capitalised for their own sake.
_COMMON = frozenset(
    {"i", "i'm", "i've", "i'd", "i'll", "dear", "dearest", "darling", "sweetheart", "honey",
     "love", "loving", "yours", "your", "you", "sincerely", "truly", "faithfully", "always",
     "forever", "affectionately", "warmly", "fondly", "regards", "best", "cheers", "hi", "hello",
     "hey", "greetings", "my", "our", "the", "a", "an", "and", "but", "or", "so", "if", "when",
     "then", "there", "here", "this", "that", "these", "those", "we", "he", "she", "it", "they",
     "his", "her", "its", "their", "ps", "p.s", "mom", "mum", "mommy", "dad", "daddy", "mother",
     "father", "mama", "papa", "grandma", "grandpa", "granny", "grandmother", "grandfather",
     "nana", "baby", "sweetie", "sir", "madam", "miss", "mister", "god", "lord", "heaven",
     "christmas", "easter", "thanksgiving", "halloween", "year's", "eve", "valentine's", "day",
     "birthday", "anniversary", "january", "february", "march", "april", "may", "june", "july",
     "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun",
     "jul", "aug", "sep", "sept", "oct", "nov", "dec", "monday", "tuesday", "wednesday",
     "thursday", "friday", "saturday", "sunday", "today", "tomorrow", "yesterday", "english",
     "french", "italian", "spanish", "german", "american", "irish", "british", "european",
     "mexican", "chinese", "japanese", "catholic", "christian", "jewish", "internet", "tv", "ok",
     "okay"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Found:
    """A name or place the letter mentions, as written in it."""

    kind: MentionKind
    text: str


def key(text: str) -> str:
    """``text`` to compare mentions by: without case, accents, punctuation or extra spaces
    ("the Café on Alvarado!" and "the cafe on alvarado" are one)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w\s]|_", " ", plain).split())


def new_only(found: Iterable[Found], remembered: Iterable[str]) -> list[Found]:
    """``found`` less what is already remembered, whole ("Bologna") or as words of a longer
    mention ("Alvarado" in "the café on Alvarado"), and less repeats."""
    known = [f" {key(text)} " for text in remembered]
    out: list[Found] = []
    for item in found:
        wanted = f" {key(item.text)} "
        if wanted.strip() and not any(wanted in k for k in known):
            out.append(item)
            known.append(wanted)
    return out


# -- by rule ----------------------------------------------------------------------------------
def by_rule(text: str, people: Sequence[str] = ()) -> list[Found]:
    """The names and places in ``text``, first seen first; ``people`` (the client, the
    correspondent) are left out, and so is every word of their names."""
    lines = _joined(_body(text.splitlines()))
    lowered = {_fold(w) for w in _WORD.findall("\n".join(lines)) if w[0].islower()}
    skip = _COMMON | lowered | {_fold(w) for p in people for w in _WORD.findall(p)}
    kinds: dict[str, MentionKind] = {}
    shown: dict[str, str] = {}
    for line in lines:
        for sentence in _sentences(line):
            for phrase, words, place in _runs(sentence):
                if any(_fold(w) in skip and w not in _JOINERS for w in words):
                    continue  # a common word in the run: not a name as a whole
                if not _fits(words):
                    continue
                found = key(phrase)
                shown.setdefault(found, phrase)
                is_place = place or any(w.casefold() in _PLACE_WORDS for w in words)
                kinds[found] = "place" if is_place or kinds.get(found) == "place" else "name"
    return [Found(kinds[k], shown[k]) for k in shown][:MAX_FOUND]


def _fold(word: str) -> str:
    """A word to look up in the lists above: lower case, with a straight apostrophe."""
    return word.casefold().replace("\u2019", "'")


def _fits(words: list[str]) -> bool:
    joined = " ".join(words)
    return 0 < len(words) <= MAX_WORDS and len(joined) <= MAX_CHARS and not joined.isupper()


def _body(lines: list[str]) -> list[str]:
    """The letter without its greeting ("Dearest Roberta,") and its signature (from the last
    short line ending in a comma, "Yours always,", near the end)."""
    kept = [line.strip() for line in lines]
    filled = [i for i, line in enumerate(kept) if line]
    if filled and _short_with_comma(kept[filled[0]]):
        kept[filled[0]] = ""
    for i in reversed(filled[-4:]):
        if i != filled[0] and _short_with_comma(kept[i]):
            kept = kept[:i]
            break
    return kept


def _joined(lines: list[str]) -> list[str]:
    """Lines broken inside a sentence ("the dinner at the" / "Hotel Negresco") joined again:
    a line goes on when it ends in a comma or a lower-case word; a line ending in a
    capitalised word (an address, a verse) does not."""
    out: list[list[str]] = []
    last = ""  # the last word so far (each line is read once: a letter may be long)
    for line in lines:
        if line and (last.endswith(",") or last[:1].islower()):
            out[-1].append(line)
        else:
            out.append([line])
        words = line.split()
        last = words[-1] if words else ""
    return [" ".join(parts) for parts in out]


def _short_with_comma(line: str) -> bool:
    return line.endswith(",") and len(line.split()) <= 5


def _sentences(line: str) -> list[str]:
    """A line's sentences: each begins after ., !, ?, : or ; (or at the line's start), but
    not after a title such as "Mr." or "St."."""
    out, start = [], 0
    for end in _SENTENCE_END.finditer(line):
        # Only the few characters before the dot may be a title ("Mrs."): a line may be long.
        if _ABBREVIATION.search(line[max(end.start() - _TITLE_CHARS, 0) : end.start() + 1]):
            continue
        out.append(line[start : end.end()])
        start = end.end()
    out.append(line[start:])
    return [s for s in out if s.strip()]


def _runs(sentence: str) -> list[tuple[str, list[str], bool]]:
    """Runs of capitalised words in ``sentence`` (a name may hold "of", "da" ...), each as
    written, its words, and whether it is a place's: a place's word stands before it, or it
    follows a place in a list ("in Rome, Paris and Vienna"). A run ends where anything but a
    space stands between two words ("Marco, Anna"), save the dot of a title ("Mr. Ellison").
    A run that opens the sentence is dropped, unless it opens with a common word ("In
    Bologna" gives "Bologna")."""
    words = list(_WORD.finditer(sentence))
    found: list[tuple[list[re.Match[str]], bool]] = []
    i = 0
    while i < len(words):
        if not _capital(words[i].group()) or _quoted(sentence, words[i].start()):
            i += 1
            continue
        j = i + 1
        while j < len(words) and _goes_on(sentence, words, j):
            j += 1
        run = words[i:j]
        before = [_fold(w.group()) for w in words[max(i - 2, 0) : i]]
        if i == 0:
            before = [_fold(run[0].group())]
            run = run[1:] if before[0] in _COMMON else []
        if run:
            found.append((run, _place(before)))
        i = j
    places = _listed_places(sentence, found)
    return [
        (
            " ".join(_POSSESSIVE.sub("", sentence[run[0].start() : run[-1].end()]).split()),
            [_POSSESSIVE.sub("", w.group()) for w in run],
            place,
        )
        for (run, _), place in zip(found, places, strict=True)
    ]


def _goes_on(sentence: str, words: list[re.Match[str]], j: int) -> bool:
    """Whether word ``j`` carries on the run before it: a capitalised word, or a joiner
    before one, with only a space (or a title's dot) since the word before."""
    if not _spaced(sentence, words[j - 1], words[j]):
        return False
    if _capital(words[j].group()):
        return True
    return (
        words[j].group() in _JOINERS
        and j + 1 < len(words)
        and _capital(words[j + 1].group())
        and sentence[words[j].end() : words[j + 1].start()].isspace()
    )


def _spaced(sentence: str, left: re.Match[str], right: re.Match[str]) -> bool:
    between = sentence[left.end() : right.start()]
    if between[:1] == "." and _ABBREVIATION.search(left.group() + "."):
        between = between[1:]
    return between.isspace()


def _listed_places(sentence: str, found: list[tuple[list[re.Match[str]], bool]]) -> list[bool]:
    """Which runs are places: those with a place's word before them, and those after a
    place in a closed list ("Rome, Paris and Vienna"; not "Rome, Anna said")."""
    places = [place for _, place in found]
    k = 0
    while k < len(found):
        m = k  # the list is found[k : m + 1]
        while m + 1 < len(found) and _link(sentence, found[m][0], found[m + 1][0]) is not None:
            m += 1
        closed = m > k and _link(sentence, found[m - 1][0], found[m][0]) == "and"
        if closed and _fold(found[m][0][0].group()) not in _COMMON:
            for n in range(k + 1, m + 1):
                places[n] = places[n] or places[n - 1]
        k = m + 1
    return places


def _link(sentence: str, left: list[re.Match[str]], right: list[re.Match[str]]) -> str | None:
    """How two runs are listed: "," ("Rome, Paris"), "and" ("Paris and Vienna", "Paris, or
    Vienna"), or None (not one after the other in a list)."""
    between = sentence[left[-1].end() : right[0].start()].replace(",", " , ").split()
    if between == [","]:
        return ","
    if between in (["and"], ["or"], [",", "and"], [",", "or"]):
        return "and"
    return None


def _capital(word: str) -> bool:
    return word[0].isupper()


def _quoted(sentence: str, at: int) -> bool:
    """A word just after an opening quote or bracket opens a quoted sentence."""
    while at > 0 and sentence[at - 1] == " ":  # looking back from ``at`` only: a long sentence
        at -= 1
    return sentence[at - 1 : at] in {'"', "\u201c", "(", "[", "\u2018"}


def _place(before: list[str]) -> bool:
    if not before:
        return False
    if before[-1] in _PLACE_BEFORE:
        return True
    return before[-1] == "to" and len(before) > 1 and before[-2] in _MOVES


# -- by the mind ------------------------------------------------------------------------------
INSTRUCTIONS = (
    "List the people and the places this letter mentions by name, for the writer to remember. "
    "Leave out {people}, greetings, months, weekdays and holidays. Reply with JSON only: a "
    'list of objects such as {{"kind": "name", "text": "Marco"}} or '
    '{{"kind": "place", "text": "Bologna"}}, each text exactly as the letter writes it; [] when '
    "there are none."
)


async def by_mind(text: str, people: Sequence[str], llm: LLM) -> list[Found]:
    """What the model finds; only mentions written in the letter word for word are kept, and
    not the people's own names. Raises :class:`LLMError` when the reply is not such a list."""
    who = " and ".join(people) or "the writer and the reader"
    ask = [
        Message("system", INSTRUCTIONS.format(people=who)),
        Message("user", text),
    ]
    reply = (await complete(llm, ask, SAMPLING)).strip()
    return _parsed(reply, text, people)


def _parsed(reply: str, text: str, people: Sequence[str]) -> list[Found]:
    body = reply.removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        items = json.loads(body)
    except ValueError as exc:
        raise LLMError("the language model's list of mentions is not JSON") from exc
    if not isinstance(items, list):
        raise LLMError("the language model's list of mentions is not a list")
    letter = f" {key(text)} "
    theirs = {key(p) for p in people} | {key(w) for p in people for w in _WORD.findall(p)}
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind, said = item.get("kind"), item.get("text")
        if kind not in ("name", "place") or not isinstance(said, str):
            continue
        said = " ".join(said.split())
        found = key(said)
        if found and found not in theirs and f" {found} " in letter and _fits(said.split()):
            out.append(Found("place" if kind == "place" else "name", said))
    return out[:MAX_FOUND]


async def extract(text: str, people: Sequence[str], llm: LLM | None = None) -> list[Found]:
    """The names and places of a letter: the model's when one is given and answers usefully,
    else the rules' (when it fails, cannot be reached, or keeps nothing). The rules read in a
    thread: a long letter takes a moment, and the event loop serves others meanwhile."""
    if llm is not None:
        try:
            found = await by_mind(text, people, llm)
        except (LLMError, ConfigError):
            found = []
        if found:
            return found
    return await asyncio.to_thread(by_rule, text, people)
