"""Recall's in-memory index: isolation between people at the index level, freshness across
store instances sharing one database (as worker processes do), and the ranking rules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fixtures_store import open_store
from sqlalchemy import event, select

from os1.memory import recall
from os1.memory import terms as lex
from os1.memory.asking import asking_share
from os1.memory.db import make_engine, migrate
from os1.memory.embed import MiniLMEmbedder
from os1.memory.embedqueue import MAX_PARTS, embed_turns, parts
from os1.memory.fake import HashingEmbedder
from os1.memory.index import STORED, Entry, PersonIndex, dots
from os1.memory.models import NewTurn, Person, Role, Turn
from os1.memory.neighbours import WordNeighbours
from os1.memory.places import asks_where, says_where
from os1.memory.query import analyze, without_speakers
from os1.memory.store import SqlStore
from os1.memory.tables import turn_vectors
from os1.memory.when import asks_when, says_when, spans

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def turn(text: str, minutes: int = 0, role: Role = "user", speaker: str | None = None) -> NewTurn:
    return NewTurn(role=role, content=text, time=T0 + timedelta(minutes=minutes), speaker=speaker)


async def say(store: SqlStore, person: Person, *texts: str) -> None:
    conv = await store.start_conversation(person)
    for i, text in enumerate(texts):
        await store.add_turn(conv, turn(text, i))
    assert await store.settle(30)  # embeddings follow in the background


ALICE = ("I planted tomatoes in the garden", "My brother Tom plays the trumpet", "Rainy day")
SECRET = "the launch code is tomato trumpet garden 4242"


async def scores(store: SqlStore, person: Person, query: str) -> list[tuple[str, float]]:
    return [(i.text, i.score) for i in await store.recall(person, query, 10)]


async def test_another_persons_items_never_score_rank_or_return(any_store: SqlStore) -> None:
    """B's turn matches the query word for word. A's results, their order and their scores
    are the same as in a store where B does not exist, and A's index holds nothing of B."""
    url = any_store.engine.url.render_as_string(hide_password=False)
    alice = await any_store.ensure_person("alice")
    await say(any_store, alice, *ALICE)
    query = "tomato trumpet garden launch code 4242"
    alone = await scores(any_store, alice, query)
    bob = await any_store.ensure_person("bob")
    await say(any_store, bob, SECRET, SECRET + " again", "tomato " * 50)
    other = await open_store(url)  # a fresh process's view: indexes built from the database
    try:
        beside = await scores(other, alice, query)
        assert beside == alone
        assert all(SECRET not in text for text, _ in beside)
        index = other.indexes._items[alice.id].index
        bob_ids = {i.id for i in await other.list_turns(bob, 100)}
        assert not bob_ids & set(index.position)
        assert len(index) == len(ALICE)
        assert (await other.recall(bob, query, 1))[0].text == SECRET
    finally:
        await other.engine.dispose()


async def test_indexes_follow_writes_made_by_other_processes(any_store: SqlStore) -> None:
    url = any_store.engine.url.render_as_string(hide_password=False)
    alice = await any_store.ensure_person("alice")
    await say(any_store, alice, "I adopted a cat named Miso")
    worker = await open_store(url)
    try:
        assert [i.text for i in await worker.recall(alice, "Miso", 5)] == [
            "I adopted a cat named Miso"
        ]
        await say(any_store, alice, "Miso learned to open doors")
        found = {i.text for i in await worker.recall(alice, "Miso", 5)}
        assert found == {"I adopted a cat named Miso", "Miso learned to open doors"}
        first = (await any_store.recall(alice, "adopted", 1))[0]
        await any_store.edit_turn(alice, int(first.id.removeprefix("turn:")), "I adopted a dog")
        texts = [i.text for i in await worker.recall(alice, "adopted cat dog", 5)]
        assert "I adopted a dog" in texts and "I adopted a cat named Miso" not in texts
        assert await any_store.forget(alice, "doors") == 1
        assert "Miso learned to open doors" not in [
            i.text for i in await worker.recall(alice, "Miso doors", 5)
        ]
    finally:
        await worker.engine.dispose()


async def test_a_vector_that_arrives_late_is_picked_up(store: SqlStore) -> None:
    alice = await store.ensure_person("alice")
    embedder = store.embedder
    store.embedder = None  # the turn is stored, its vector is not there yet
    await say(store, alice, "We went sailing on the lake")
    await store.recall(alice, "sailing", 1)
    index = store.indexes._items[alice.id].index
    assert not index.has_vector.view.any()
    store.embedder = embedder
    turns = await store.list_turns(alice, 10)
    other = SqlStore(store.engine, embedder)  # another worker process writes the vector
    await other._embed(turns)
    assert not index.has_vector.view.any()
    await store.recall(alice, "sailing", 1)
    assert index.has_vector.view.all()


async def test_vectors_this_process_writes_are_not_read_back(any_store: SqlStore) -> None:
    """A conversation's recall does not look in the database for the vectors this process
    makes: the question's own turn is still being embedded, and the last reply's vector,
    written after the previous recall, went straight into the cached index."""
    alice = await any_store.ensure_person("alice")
    conv = await any_store.start_conversation(alice)
    await any_store.add_turn(conv, turn("I adopted a cat named Miso"))
    await any_store.recall(alice, "a cat", 5)
    await any_store.add_turn(conv, turn("What a lovely name for a cat", 1, "assistant"))
    assert await any_store.settle(30)
    await any_store.add_turn(conv, turn("Miso sleeps on the piano", 2))
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(any_store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        found = await any_store.recall(alice, "Where does Miso sleep?", 5)
    finally:
        event.remove(any_store.engine.sync_engine, "before_cursor_execute", seen)
    assert found and found[0].text == "Miso sleeps on the piano"
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert reads and not [s for s in reads if "turn_vectors" in s]
    assert await any_store.settle(30)
    index = any_store.indexes._items[alice.id].index
    assert index.has_vector.view.all()


async def test_recall_without_an_embedder_uses_words_only(tmp_path: object) -> None:
    store = await open_store("sqlite+aiosqlite:///:memory:")
    store.embedder = None
    store.indexes.model = None
    try:
        alice = await store.ensure_person("alice")
        await say(store, alice, "My sister paints landscapes")
        await say(store, alice, "Nothing to report")
        assert [i.text for i in await store.recall(alice, "painting", 5)] == [
            "My sister paints landscapes"
        ]
        assert await store.recall(alice, "   ", 5) == []
        assert await store.recall(alice, "painting", 0) == []
    finally:
        await store.engine.dispose()


class WithWords(HashingEmbedder):
    """Hashed vectors, and a small vocabulary in which "dessert" lies near "cake"."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def word_vectors(self) -> tuple[list[str], np.ndarray]:
        self.asked += 1
        return ["dessert", "cake", "rain"], unit(0, 30, 90)


async def test_recall_brings_in_the_words_near_the_questions(tmp_path: object) -> None:
    store = await open_store("sqlite+aiosqlite:///:memory:")
    alice, bob = await store.ensure_person("alice"), await store.ensure_person("bob")
    try:
        await say(store, alice, "I baked a cake for Sunday")
        await say(store, alice, "It rained all week")
        await say(store, bob, "Sweets are bad for you")
        assert await store.recall(alice, "which dessert?", 5) == []  # no word in common
        # Word neighbours come with the embedder, loaded once however many recalls ask.
        store.embedder = words = WithWords()
        found = await asyncio.gather(*(store.recall(alice, "which dessert?", 5) for _ in range(4)))
        assert [[i.text for i in items] for items in found] == [["I baked a cake for Sunday"]] * 4
        assert words.asked == 1
        assert await store.recall(bob, "which dessert?", 5) == []  # bob never said "cake"
    finally:
        await store.engine.dispose()


async def test_recall_works_when_word_neighbours_cannot_be_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(HashingEmbedder):
        def word_vectors(self) -> None:
            raise OSError("no space left on device")

    store = await open_store("sqlite+aiosqlite:///:memory:")
    store.embedder = Broken()
    try:
        alice = await store.ensure_person("alice")
        await say(store, alice, "I baked a cake for Sunday")
        assert [i.text for i in await store.recall(alice, "cake", 5)] == [
            "I baked a cake for Sunday"
        ]
        assert "word neighbours unavailable" in caplog.text
    finally:
        await store.engine.dispose()


def build(*entries: tuple[str, str | None], apart: bool = False) -> PersonIndex:
    """An index of one conversation, or of one conversation per entry if ``apart``."""
    index = PersonIndex(1, 4)
    index.add(
        Entry(i + 1, i if apart else 1, "user", speaker, (T0 + timedelta(days=i)).timestamp(), text)
        for i, (text, speaker) in enumerate(entries)
    )
    return index


def test_a_named_speaker_becomes_a_preference_not_a_search_word() -> None:
    index = build(
        ("Caroline, did you finish the painting?", "Melanie"),
        ("Yes, a sunset over the lake", "Caroline"),
        ("I went running this morning", "Caroline"),
    )
    query = analyze("What did Caroline paint?", index)
    assert query.speakers == {index.speaker_code("Caroline")}
    assert "carolin" not in dict(query.terms)
    final, base = recall.score(index, query, None)
    # The answer scores through the question before it, and its speaker is the one named:
    # it comes first (the question, which only asks, goes lower: see the next test), and
    # well above its own score when the question names the other speaker.
    ranked = [t for t, _ in recall.top(index, final, base, 3)]
    assert ranked[0] == 2 and set(ranked) == {1, 2, 3}
    other_final, _ = recall.score(index, analyze("What did Melanie paint?", index), None)
    assert final[1] - other_final[1] == pytest.approx(recall.WEIGHTS.speaker)
    assert final[1] > final[2]  # the other turn of the named speaker


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("I tried a pottery class at the studio", 0.0),
        ("Which pottery class did you try?", 1.0),
        ("We moved to Tampa! Have you been there?", 0.5),
        ("Really?! Wow.", 0.5),
        ("", 0.0),
    ],
)
def test_the_share_of_a_turn_that_asks(text: str, share: float) -> None:
    assert asking_share(text) == pytest.approx(share)


def test_a_turn_that_asks_goes_below_a_turn_that_tells() -> None:
    """Two turns with the question's words, in conversations of their own (so neither lifts
    the other): the one that asks is shorter and matches better, but holds no fact, so the
    one that tells goes first; with no weight for asking, the order is the other way."""
    index = build(
        ("Which pottery class did you try?", None),
        ("I tried a pottery class at the studio on Main Street, so calming", None),
        apart=True,
    )
    query = analyze("What pottery class did she try?", index)
    final, base = recall.score(index, query, None)
    assert [t for t, _ in recall.top(index, final, base, 2)] == [2, 1]
    plain, _ = recall.score(index, query, None, replace(recall.WEIGHTS, asking=0.0))
    assert [t for t, _ in recall.top(index, plain, base, 2)] == [1, 2]
    assert final[0] == pytest.approx(plain[0] * (1 - recall.WEIGHTS.asking))
    assert final[1] == pytest.approx(plain[1])


def test_i_and_you_in_a_question_prefer_the_persons_or_the_minds_turns() -> None:
    index = PersonIndex(1, 4)
    index.add(
        Entry(i + 1, 1, role, None, (T0 + timedelta(minutes=i)).timestamp(), text)
        for i, (role, text) in enumerate(
            [("user", "I painted a sunset by the lake"), ("assistant", "I painted a sunset too")]
        )
    )
    roles = {
        "What did I paint?": "user",
        "Can you remind me what I painted?": "user",  # the asker's own pronouns win
        "What did you paint?": "assistant",
        "Do you remember the sunset painting?": None,  # a request, not about the mind's turns
        "You told me about a painting: which one?": "assistant",  # what the mind said
        "What did you suggest I paint?": "assistant",
        "What was painted?": None,
    }
    for question, role in roles.items():
        assert analyze(question, index).role == role, question
    mine, _ = recall.score(index, analyze("What did I paint?", index), None)
    yours, _ = recall.score(index, analyze("What did you paint?", index), None)
    assert mine[0] - yours[0] == pytest.approx(recall.WEIGHTS.pronoun)
    assert yours[1] - mine[1] == pytest.approx(recall.WEIGHTS.pronoun)
    # A named speaker is the stronger hint: with a name, pronouns are not read.
    named = build(("I painted a sunset", "Caroline"))
    assert analyze("What did Caroline tell you she painted?", named).role is None


def unit(*angles: float) -> np.ndarray:
    """Unit vectors in a plane, one per angle in degrees: cosine is the angle's cosine."""
    radians = np.radians(angles)
    return np.column_stack([np.cos(radians), np.sin(radians)]).astype(np.float32)


def test_a_word_brings_in_its_nearest_words_that_the_person_used() -> None:
    # cos 0 = 1, cos 20 = 0.94, cos 40 = 0.77, cos 50 = 0.64, cos 60 = 0.5
    near = WordNeighbours(
        ["dessert", "desserts", "pie", "pudding", "cake", "cuisine", "weather"],
        unit(0, 0, 20, 40, 45, 50, 60),
    )
    assert near.near("dessert") == [
        ("pie", pytest.approx(0.94, abs=0.01)),
        ("pud", pytest.approx(0.77, abs=0.01)),
        ("cake", pytest.approx(0.71, abs=0.01)),
        ("cuisin", pytest.approx(0.64, abs=0.01)),
    ]  # its own stem left out, "weather" (0.5) too far
    assert near.near("unknown") == []
    index = build(
        ("Nate made a chocolate cake", "Joanna"),
        ("Then some pudding for Nate", "Joanna"),
        ("The cuisine here is great", "Joanna"),
        ("It rained all week", "Joanna"),
    )
    # "pie" is never said: the next two nearest that were said come in, weighted by similarity.
    terms = dict(analyze("What desserts does Joanna like?", index, near).terms)
    assert "pie" not in terms and "cuisin" not in terms
    assert terms["pud"] == pytest.approx(0.5 * 0.77, abs=0.01)
    assert terms["cake"] == pytest.approx(0.5 * 0.71, abs=0.01)
    assert terms["dessert"] == 1.0 and "joanna" not in terms  # a speaker's name is not a word
    final, base = recall.score(index, analyze("What desserts does Joanna like?", index, near), None)
    assert [t for t, _ in recall.top(index, final, base, 4)][:2] == [2, 1]
    assert not dict(analyze("What desserts does Joanna like?", index).terms).keys() & {"cake"}


def test_speakers_names_can_be_taken_out_of_a_question() -> None:
    index = build(("hi", "Caroline Smith"), ("hello", "Mel"))
    assert without_speakers("What did Caroline paint?", index) == "What did paint?"
    assert without_speakers("Is Mel's dog older than Caroline\u2019s cat?", index) == (
        "Is dog older than cat?"
    )
    assert without_speakers("What  is   art?", index) == "What  is   art?"  # untouched
    assert without_speakers("Caroline Smith", index) == ""
    assert without_speakers("Where is Carolina?", index) == "Where is Carolina?"


class Asked(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    async def query(self, text: str) -> np.ndarray:
        self.asked.append(text)
        return await super().query(text)


async def test_a_question_naming_a_speaker_is_embedded_with_and_without_the_name() -> None:
    """The two vectors are averaged: with the name alone, a turn that merely greets the
    person ("Caroline, good morning!") would outrank the answer for the embedding."""
    engine = make_engine("sqlite+aiosqlite:///:memory:")
    await migrate(engine)
    embedder = Asked()
    store = SqlStore(engine, embedder)
    try:
        alice = await store.ensure_person("alice")
        conv = await store.start_conversation(alice)
        await store.add_turn(conv, turn("Caroline, good morning Caroline!", 0, speaker="Mel"))
        await store.add_turn(conv, turn("a sunset over the lake", 1, speaker="Caroline"))
        assert await store.settle(30)
        await store.recall(alice, "Which sunset did Caroline paint?", 2)
        assert embedder.asked == ["Which sunset did Caroline paint?", "Which sunset did paint?"]
        embedder.asked.clear()
        await store.recall(alice, "Which sunset over the lake?", 2)
        assert embedder.asked == ["Which sunset over the lake?"]  # names nobody: once
        mixed = await store._without_names(
            "Caroline lake", store.indexes._items[alice.id].index, await embedder.query("x")
        )
        assert mixed is not None and float(np.linalg.norm(mixed)) == pytest.approx(1.0)
    finally:
        await store.close(5)
        await engine.dispose()


def test_repeated_words_go_below_the_rest() -> None:
    index = build(("I love jazz", None), ("I love jazz", None), ("jazz clubs in Paris", None))
    final, base = recall.score(index, analyze("jazz", index), None)
    ids = [t for t, _ in recall.top(index, final, base, 3)]
    assert ids[-1] in (1, 2) and set(ids) == {1, 2, 3}
    assert [t for t, _ in recall.top(index, final, base, 3, exclude={3})] != ids


def test_stems_match_other_forms_of_a_word() -> None:
    index = build(("She painted her kitchen", None), ("We ate pasta", None), apart=True)
    final, base = recall.score(index, analyze("painting", index), None)
    assert [t for t, _ in recall.top(index, final, base, 2)] == [1]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("what did I do yesterday?", "2023-08-19", "2023-08-20"),
        ("anything in May 2023?", "2023-05-01", "2023-06-01"),
        ("in May", "2023-05-01", "2023-06-01"),
        ("in December", "2022-12-01", "2023-01-01"),
        ("two weeks ago", "2023-08-03", "2023-08-10"),
        ("in 2022", "2022-01-01", "2023-01-01"),
        ("last weekend", "2023-08-19", "2023-08-21"),
        ("what did she start, as mentioned on 3 June, 2023?", "2023-06-03", "2023-06-04"),
        ("who came to dinner on May 3, 2023", "2023-05-03", "2023-05-04"),
        ("June 3rd", "2023-06-03", "2023-06-04"),
        ("on the 3rd of September", "2022-09-03", "2022-09-04"),
        ("what happened on 2023-06-03?", "2023-06-03", "2023-06-04"),
        # Letters that match under IGNORECASE but are no ASCII letter (long s, Kelvin sign)
        # and digits of other scripts: read like their plain forms, not a KeyError.
        ("what about the 3rd of \u017feptember?", "2022-09-03", "2022-09-04"),
        ("in augu\u017ft 2021", "2021-08-01", "2021-09-01"),
        ("two wee\u212as ago", "2023-08-03", "2023-08-10"),
        ("\u0662\u0660\u0662\u0663-\u0660\u0666-\u0660\u0663", "2023-06-03", "2023-06-04"),
    ],
)
def test_time_expressions_resolve_against_the_conversations_own_dates(
    text: str, start: str, end: str
) -> None:
    now = datetime(2023, 8, 20, 15, 0, tzinfo=UTC)
    assert [(a.date().isoformat(), b.date().isoformat()) for a, b in spans(text, now)] == [
        (start, end)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "you may go",
        "what may 5 people do",
        "on 31 February 2023",
        "what happened?",
        "100000 years ago",
        "",
    ],
)
def test_no_time_expression_no_span(text: str) -> None:
    assert spans(text, datetime(2023, 8, 20, tzinfo=UTC)) == []


def test_a_span_prefers_turns_inside_it() -> None:
    index = build(("we talked about the garden", None), ("more about the garden", None))
    start = datetime.fromtimestamp(float(index.times.view[0]), UTC)
    query = analyze(f"the garden on {start:%B} {start.year}", index)
    assert query.spans
    _final, base = recall.score(index, query, None)
    assert np.all(base > 0)


def test_a_turn_that_names_the_day_asked_about_counts_as_on_that_day() -> None:
    index = build(  # said on 1, 2 and 3 May, one conversation per day
        ("Went to the gym, nothing else", None),
        ("We watched a film last night, it was great", None),
        ("We watched a film at Anna's place", None),
        apart=True,
    )
    assert np.isnan(index.named_from.view[[0, 2]]).all()
    assert datetime.fromtimestamp(index.named_from.view[1], UTC).date() == T0.date()
    final, base = recall.score(index, analyze("What film did we watch on 1 May 2026?", index), None)
    assert [t for t, _ in recall.top(index, final, base, 3)][:2] == [2, 3]
    assert final[1] - final[2] == pytest.approx(recall.WEIGHTS.day, abs=0.1)


def test_a_named_day_is_a_stronger_hint_than_its_month() -> None:
    """Turns a day apart: one on the named day, one in the same month. A named day lifts its
    own turns by ``Weights.day``; the month's other turns get nothing from it, where a question
    naming only the month lifts both by ``Weights.time``."""
    index = build(("the garden party", None), ("the garden party again", None), apart=True)
    first = datetime.fromtimestamp(float(index.times.view[0]), UTC)
    plain, _ = recall.score(index, analyze("the garden party", index), None)
    by_day, _ = recall.score(index, analyze(f"the garden party on {first:%d %B %Y}", index), None)
    by_month, _ = recall.score(index, analyze(f"the garden party in {first:%B %Y}", index), None)
    assert by_day - plain == pytest.approx([recall.WEIGHTS.day, 0.0])
    assert by_month - plain == pytest.approx([recall.WEIGHTS.time] * 2)
    assert recall.WEIGHTS.day > recall.WEIGHTS.time


_TIME_AND_PLACE: list[tuple[Callable[[str], bool], str, bool]] = [
    (says_when, "Yesterday I took my dogs to the beach", True),
    (says_when, "Last Friday I went to the car show", True),
    (says_when, "I adopted another dog the other day", True),
    (says_when, "Been playing it for a month now", True),
    (says_when, "We moved in March", True),
    (says_when, "back in 2019, before the move", True),
    (says_when, "I'm leaving the day after tomorrow", True),
    (says_when, "I may go to the beach", False),
    (says_when, "they march on", False),
    (says_when, "it cost 2500 dollars", False),
    (says_when, "the 1990s were loud", False),
    (says_when, "born in 1987, raised in Porto", True),
    (says_when, "See you on Sunday!", True),
    (says_when, "Two weeks ago we met", True),
    (says_when, "I love painting sunsets", False),
    (says_when, "", False),
    (asks_when, "When did James meet Samantha?", True),
    (asks_when, "In which year did he move to Berlin?", True),
    (asks_when, "What date was the party?", True),
    (asks_when, "Since when has she painted?", True),
    (asks_when, "How long ago did we meet?", True),
    (asks_when, "For how long has Nate had his turtles?", True),
    (asks_when, "What did Caroline paint?", False),
    (asks_when, "Who was there when I fell?", False),
    (says_where, "I took my turtles to the beach in Tampa yesterday", True),
    (says_where, "We flew to Canada", True),
    (says_where, "Visited Rome with my sister", True),
    (says_where, "in the Alps, it snowed", True),
    (says_where, "I went to the beach", False),
    (says_where, "Talk to you later, Sam!", False),
    (says_where, "in march we moved", False),
    (says_where, "", False),
    (asks_where, "Where did Nate take his turtles?", True),
    (asks_where, "What state did Nate visit?", True),
    (asks_where, "Which US state did Jolene visit during her internship?", True),
    (asks_where, "In which city does she live now?", True),
    (asks_where, "What did Nate take to the beach?", False),
    (asks_where, "When did Nate go to the beach?", False),
]


@pytest.mark.parametrize(
    ("read", "text", "expected"),
    _TIME_AND_PLACE,
    ids=[f"{read.__name__}-{text[:24]}" for read, text, _ in _TIME_AND_PLACE],
)
def test_questions_asking_when_or_where_and_turns_saying_it_are_told_apart(
    read: Callable[[str], bool], text: str, expected: bool
) -> None:
    assert read(text) is expected
    if read is says_when:  # as the index asks it, with the words it has already
        assert says_when(text, lex.words(text)) is expected


@pytest.mark.parametrize(
    ("asked", "plain", "turns", "weight"),
    [
        (
            "When did I move to Berlin?",
            "Did I move to Berlin?",
            ("Berlin! We moved to Berlin, I love moving", "We moved to Berlin last week, chaos"),
            "when",
        ),
        (
            "Where was the beach trip?",
            "How was the beach trip?",
            (
                "The beach trip! The beach was great, we love the beach trip",
                "My beach trip was in Tampa, hot",
            ),
            "where",
        ),
    ],
)
def test_a_question_asking_when_or_where_prefers_turns_that_say_it(
    asked: str, plain: str, turns: tuple[str, str], weight: str
) -> None:
    """Two turns about the same thing, the second saying when or where: asked that, the second
    gains the weight and goes first; asked otherwise, neither gains and the first stays first."""
    index = build(*((text, None) for text in turns))
    lifted, base = recall.score(index, analyze(asked, index), None)
    same, _ = recall.score(index, analyze(plain, index), None)
    assert lifted - same == pytest.approx([0.0, getattr(recall.WEIGHTS, weight)])
    assert [t for t, _ in recall.top(index, same, base, 2)] == [1, 2]
    assert [t for t, _ in recall.top(index, lifted, base, 2)] == [2, 1]


async def models(store: SqlStore, person: Person) -> set[str]:
    """The embedding models of the person's stored vectors."""
    async with store.engine.connect() as conn:
        query = select(turn_vectors.c.model).where(turn_vectors.c.person_id == person.id)
        return set((await conn.execute(query)).scalars())


async def test_reembed_replaces_another_models_vectors(any_store: SqlStore) -> None:
    """Turns stored with no embedder, or with another model, get vectors from the current one
    (``os1 reindex``), and recall uses them at once, in this process and in others."""
    url = any_store.engine.url.render_as_string(hide_password=False)
    alice = await any_store.ensure_person("alice")
    await say(any_store, alice, "I bought a violin yesterday", "The quarterly report is due")
    minilm = SqlStore(any_store.engine, MiniLMEmbedder())
    # The turns have the test embedder's vectors, none of MiniLM's. (No recall before the
    # re-embedding: a recall would queue the turns to be healed in the background, racing it.)
    assert await models(any_store, alice) == {HashingEmbedder().name}
    assert await minilm.reembed(alice) == 2
    assert await minilm.reembed(alice) == 0  # nothing left to do
    assert await models(any_store, alice) == {"minilm-l6-q8"}
    # A word-free paraphrase can only be found through the new vectors.
    found = await minilm.recall(alice, "musical instrument", 1)
    assert found and found[0].text == "I bought a violin yesterday"
    other = await open_store(url)
    try:
        other = SqlStore(other.engine, MiniLMEmbedder())
        assert (await other.recall(alice, "musical instrument", 1))[
            0
        ].text == "I bought a violin yesterday"
    finally:
        await other.engine.dispose()


async def test_recall_moves_an_upgraded_store_to_the_current_model(any_store: SqlStore) -> None:
    """Vectors another model made (a store from before an upgrade of the embedder) are
    replaced by recall's healing, with no ``os1 reindex``; then a paraphrase finds the turn."""
    alice = await any_store.ensure_person("alice")
    await say(any_store, alice, "I bought a violin yesterday", "The quarterly report is due")
    minilm = SqlStore(any_store.engine, MiniLMEmbedder())
    assert await models(any_store, alice) != {"minilm-l6-q8"}
    await minilm.recall(alice, "anything", 1)  # finds no current vector: queues them
    assert await minilm.settle(30)
    assert await models(any_store, alice) == {"minilm-l6-q8"}
    found = await minilm.recall(alice, "musical instrument", 1)
    assert found and found[0].text == "I bought a violin yesterday"
    await minilm.close(1.0)


async def test_vectors_written_twice_at_once_keep_one(any_store: SqlStore) -> None:
    """A recall's background healing and ``os1 reindex`` can embed the same turns at the same
    time (as can two workers): both writes succeed and each turn keeps one vector."""
    minilm, _, stored, vectors = await _two_turns_without_vectors(any_store)
    await asyncio.gather(*(minilm._write_vectors(stored, vectors) for _ in range(6)))
    assert sorted(await _vector_ids(any_store)) == sorted(t.id for t in stored)


async def _two_turns_without_vectors(
    any_store: SqlStore,
) -> tuple[SqlStore, Person, list[Turn], np.ndarray]:
    """A MiniLM store over ``any_store``'s database, Alice, her two turns and their vectors,
    with no vector in the database yet."""
    alice = await any_store.ensure_person("alice")
    await say(any_store, alice, "I bought a violin yesterday", "The quarterly report is due")
    minilm = SqlStore(any_store.engine, MiniLMEmbedder())
    stored = await minilm.list_turns(alice, 10)
    vectors = await MiniLMEmbedder().passages([t.content for t in stored])
    async with any_store.engine.begin() as conn:
        await conn.execute(turn_vectors.delete())
    return minilm, alice, stored, vectors


async def _vector_ids(store: SqlStore) -> list[int]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(select(turn_vectors.c.turn_id))).scalars().all())


async def test_a_turn_forgotten_while_it_was_embedded_gets_no_vector(any_store: SqlStore) -> None:
    """Vectors are written after their turns may have gone: the others of the batch are
    written, the forgotten turn's is not, and nothing fails."""
    minilm, alice, stored, vectors = await _two_turns_without_vectors(any_store)
    await minilm.delete_turn(alice, stored[0].id)
    await minilm._write_vectors(stored, vectors)
    assert await _vector_ids(any_store) == [stored[1].id]


async def test_near_duplicates_do_not_crowd_the_top_k() -> None:
    """The same thing said in other words ("named" / "called") is kept, but below every turn
    that says something else; a different fact in similar words is not a duplicate."""
    store = SqlStore(make_engine("sqlite+aiosqlite:///:memory:"), MiniLMEmbedder())
    await migrate(store.engine)
    try:
        theo = await store.ensure_person("theo")
        named, called = "I adopted a cat named Miso", "I adopted a cat called Miso"
        sister = "My sister adopted a cat named Miso"
        await say(store, theo, named, called, sister, "Miso the cat sleeps on the piano")
        top3 = [i.text for i in await store.recall(theo, "the cat Miso I adopted", 3)]
        assert len({named, called} & set(top3)) == 1
        assert sister in top3
        everything = [i.text for i in await store.recall(theo, "the cat Miso I adopted", 10)]
        assert len(everything) == 4 and everything[-1] in (named, called)
    finally:
        await store.engine.dispose()


async def test_the_cache_keeps_to_its_budget_and_its_count_of_bytes(any_store: SqlStore) -> None:
    people = [await any_store.ensure_person(name) for name in ("ann", "ben", "cai")]
    for person in people:
        await say(any_store, person, f"{person.name} keeps bees", "and grows figs")
    cache = any_store.indexes
    for person in people:
        await any_store.recall(person, "bees", 3)
    assert cache.total_bytes == sum(c.index.nbytes() for c in cache._items.values())
    cache.budget_bytes = cache.total_bytes - 1  # one index too many
    await any_store.recall(people[0], "bees", 3)  # used now: the least recent goes
    assert list(cache._items) == [people[2].id, people[0].id]
    assert cache.total_bytes == sum(c.index.nbytes() for c in cache._items.values())
    await any_store.forget(people[0], "figs")  # an edit drops that person's index
    assert cache.total_bytes == sum(c.index.nbytes() for c in cache._items.values())


# -- long turns in parts ----------------------------------------------------------------------
LONG = (
    "We finally moved into the new flat across the river last weekend, and the boxes are still "
    "everywhere in the hall. Work has been busy too, since the new manager wants a written "
    "report on every project by Friday. Oh, and we adopted a tiny grey kitten from the "
    "shelter! She sleeps on my keyboard."
)


def _turn(content: str, speaker: str | None = None) -> Turn:
    return Turn(1, 1, 1, "user", content, T0, speaker)


def test_only_long_turns_are_embedded_in_parts() -> None:
    assert parts(_turn("Rainy day. Stayed in.")) == []
    assert parts(_turn("One sentence that is long enough to be a part on its own, really.")) == []
    moved, work, kitten = parts(_turn(LONG, "Mel"))
    assert moved.startswith("Mel: We finally moved") and moved.endswith("in the hall.")
    assert work.startswith("Mel: Work has been busy")
    # A run shorter than PART_WORDS joins the sentence after it; what is left joins the last.
    assert (
        kitten
        == "Mel: Oh, and we adopted a tiny grey kitten from the shelter! She sleeps on my keyboard."
    )
    many = parts(
        _turn(
            " ".join(
                f"Sentence {i} has quite enough words in it to stand as one part here."
                for i in range(40)
            )
        )
    )
    assert len(many) == MAX_PARTS and many[0].startswith("Sentence 0 ")
    assert {len(p.split(". ")) for p in many} == {2, 3}  # 40 runs shared out evenly
    assert many[-1].endswith("Sentence 39 has quite enough words in it to stand as one part here.")
    # Text without punctuation is read in pieces of SENTENCE_WORDS words.
    unpunctuated = parts(_turn(" ".join(f"word{i}" for i in range(125))))
    assert [len(p.split()) for p in unpunctuated] == [60, 65]  # the short rest joins the last


async def test_parts_are_stored_read_back_and_scored(any_store: SqlStore) -> None:
    """A long turn's parts are written with its vector, read back by an index built from the
    database, and a turn's similarity is the mean of its own and its best part's."""
    url = any_store.engine.url.render_as_string(hide_password=False)
    alice = await any_store.ensure_person("alice")
    await say(any_store, alice, LONG, "Rainy day")
    fresh = await open_store(url)
    try:
        async with fresh.autocommit.connect() as conn:
            index = await fresh.indexes.get(conn, alice.id)
        (stored,) = [t for t in await fresh.list_turns(alice, 10) if t.content == LONG]
        long_at = index.position[stored.id]
        assert index.part_owner.view.tolist() == [long_at] * 3
        expected = await fresh.embedder.passages(parts(stored))
        # Held in half precision: within its rounding (under 1e-3 for a unit vector's parts).
        assert np.allclose(index.part_vectors.view, expected, rtol=0, atol=1e-3)
        # The turn is not embedded whole too: its vector is its parts', weighted by words.
        mean = np.array([len(p.split()) for p in parts(stored)], np.float32) @ expected
        assert np.allclose(index.vectors.view[long_at], mean / np.linalg.norm(mean), atol=1e-3)
        query = await fresh.embedder.query("grey kitten from the shelter")
        whole = float(mean / np.linalg.norm(mean) @ query)
        best = max(whole, float((expected @ query).max()))
        assert index.cosine(query)[long_at] == pytest.approx(0.5 * whole + 0.5 * best, abs=1e-3)
    finally:
        await fresh.close(5)
        await fresh.engine.dispose()


async def test_reindex_adds_parts_to_vectors_made_before_them(any_store: SqlStore) -> None:
    url = any_store.engine.url.render_as_string(hide_password=False)
    alice = await any_store.ensure_person("alice")
    await say(any_store, alice, LONG, "Rainy day")
    async with any_store.engine.begin() as conn:  # as a store from before parts left them
        await conn.execute(turn_vectors.update().values(parts=None))
    for expected_parts, step in ((0, None), (3, "reindex")):
        if step:  # only the long turn is embedded again; the short one keeps its vector
            assert await any_store.reembed(alice) == 1
            async with any_store.engine.connect() as conn:
                after = (await conn.execute(select(turn_vectors))).all()
            long_id = next(t.id for t in await any_store.list_turns(alice, 10) if t.content == LONG)
            assert sorted((r.turn_id == long_id, len(r.parts) > 0) for r in after) == [
                (False, False),  # the short turn: no parts, noted as such
                (True, True),
            ]
        fresh = await open_store(url)
        try:
            async with fresh.autocommit.connect() as conn:
                index = await fresh.indexes.get(conn, alice.id)
            assert index.part_owner.size == expected_parts
            assert index.has_vector.view.all()
        finally:
            await fresh.close(5)
            await fresh.engine.dispose()
    assert await any_store.reembed(alice) == 0  # nothing left to do


async def test_a_question_about_one_part_of_a_long_turn_matches_that_part() -> None:
    """With the real model: the kitten part answers the question far better than the whole
    turn (which is mostly about the move and work), so the turn scores higher in parts."""
    embedder = MiniLMEmbedder()
    whole, (split,) = await embed_turns(embedder, [_turn(LONG)])
    query = await embedder.query("What pet did they adopt?")
    assert float((split @ query).max()) > float(whole[0] @ query) + 0.1


def test_scoring_in_half_precision_agrees_with_float32() -> None:
    """Every turn's similarity from the index's stored vectors (half precision where the CPU has
    fast kernels for it) is within 1e-3 of the float32 product, in both code paths."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((5_000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[17] + 0.3 * vectors[99]
    query /= np.linalg.norm(query)
    exact = vectors @ query
    for kind in {STORED, np.float16, np.float32}:
        got = dots(vectors.astype(kind), query.astype(kind).reshape(1, -1))
        assert got.dtype == np.float32 and got.shape == exact.shape
        assert np.abs(got - exact).max() < 1e-3, kind
        assert int(got.argmax()) == 17
    assert len(dots(np.zeros((0, 384), np.float16), query.astype(np.float16).reshape(1, -1))) == 0
    index = PersonIndex(1, 384)
    index.add(Entry(i + 1, 1, "user", "Ana", 0.0, f"turn {i}") for i in range(len(vectors)))
    index.set_vectors(list(range(1, len(vectors) + 1)), vectors)
    assert index.vectors.view.dtype == STORED
    assert np.abs(index.cosine(query) - exact).max() < 1e-3
