"""Names and places drawn from sent letters into the correspondence's mentions: by rule on
realistic letters (what is kept, what is left out), by a (fake) model when asked, without
duplicates, editable; and lists in the same order on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import date

import pytest

from os1.errors import NotFoundError, UserInputError
from os1.letters.mentions import Found, by_mind, by_rule, extract, key, new_only
from os1.letters.studio import Studio
from os1.memory.store import SqlStore
from os1.mind.fake import FakeLLM

ANNIVERSARY = """Dearest Roberta,

Fifty years! I still think of the little trattoria on Via Zamboni, and of Marco's face when we
walked in soaked to the skin. In June we drove to Monterey with Aunt Jo, and it rained every
single day; she still says it was the best week of her life. Do you remember the dinner at the
Hotel Negresco with Mr. Ellison? On Tuesday I found the photograph from St. Mark's Square.

Yours always,
Loretta
"""

EVERYDAY = """My sweet pea,

Sunday was quiet. The Garden Club met at the church, and Dear old Pastor Bell gave a sermon on
patience; I thought of you. I miss you in April, May and every month of the year. I'm fine,
really, and the Christmas cards are already in the drawer. We must get the TV fixed. Bologna
again next spring? Say yes.

With love,
Loretta Day
"""


def texts(found: list[Found]) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in found]


# -- by rule ---------------------------------------------------------------------------------
def test_names_and_places_of_a_real_letter() -> None:
    assert texts(by_rule(ANNIVERSARY, ["Loretta", "Roberta"])) == [
        ("place", "Via Zamboni"),
        ("name", "Marco"),
        ("place", "Monterey"),
        ("name", "Aunt Jo"),
        ("place", "Hotel Negresco"),
        ("name", "Mr. Ellison"),
        ("place", "St. Mark's Square"),
    ]
    # The same letter typed with a line a paragraph gives the same.
    flowed = ANNIVERSARY.replace("\n\n", "\0").replace("\n", " ").replace("\0", "\n\n")
    assert by_rule(flowed, ["Loretta", "Roberta"]) == by_rule(ANNIVERSARY, ["Loretta", "Roberta"])


def test_rules_would_rather_miss_than_keep_junk() -> None:
    found = texts(by_rule(EVERYDAY, ["Loretta Day", "Roberta"]))
    # Months, weekdays, holidays, "Dear", "I'm", "TV", the signature and words that open a
    # sentence ("Sunday", "Bologna") are all left out.
    # "The Garden Club" is a name, its "The" no more than a sentence's first word.
    assert found == [("place", "Garden Club"), ("name", "Pastor Bell")]
    assert all("Loretta" not in text and "Day" not in text for _, text in found)


def test_greeting_signature_and_people_are_left_out() -> None:
    letter = "Dear Sam,\n\nWe saw Roberta and Ella at the Lakeside Inn.\n\nLove,\nLoretta\n"
    assert texts(by_rule(letter, ["Loretta", "Sam"])) == [
        ("name", "Roberta"),
        ("name", "Ella"),
        ("place", "Lakeside Inn"),
    ]
    assert texts(by_rule(letter, ["Loretta", "Sam", "Roberta"])) == [
        ("name", "Ella"),
        ("place", "Lakeside Inn"),
    ]


def test_a_word_the_letter_also_writes_in_lower_case_is_not_a_name() -> None:
    letter = "Dear Roberta,\n\nThe rose bush is out, and I picked a Rose for you at Rose Hill.\n"
    assert by_rule(letter, ["Roberta"]) == []  # "rose" is a word here; better missed


def test_names_and_places_in_a_list_are_each_their_own() -> None:
    letter = "Dear Sam,\n\nThis summer I saw Marco, Anna and Luca in Rome, Paris and Vienna.\n"
    assert texts(by_rule(letter, ["Loretta", "Sam"])) == [
        ("name", "Marco"),
        ("name", "Anna"),
        ("name", "Luca"),
        ("place", "Rome"),
        ("place", "Paris"),
        ("place", "Vienna"),
    ]


LONG_LINE = "We walked with Marco and Mr. Ellison along the Via Zamboni, then on to St. Mark's. "
OPENING = "We sat with Marco at the trattoria on Via Zamboni.\n"


@pytest.mark.parametrize(
    "letter",
    [
        pytest.param("Dear Sam,\n\n" + LONG_LINE * (100_000 // len(LONG_LINE)), id="one-line"),
        pytest.param("Dear Sam,\n\n" + OPENING + "and so,\n" * 11_000, id="many-lines"),
    ],
)
def test_a_long_letter_is_read_in_well_under_a_second(letter: str) -> None:
    started = time.perf_counter()
    found = by_rule(letter, ["Loretta", "Sam"])
    assert time.perf_counter() - started < 1.5
    assert ("name", "Marco") in texts(found) and ("place", "Via Zamboni") in texts(found)


async def test_the_rules_run_off_the_event_loop() -> None:
    """Reading a long letter by rule leaves the event loop free for everyone else."""
    letter = "Dear Sam,\n\n" + LONG_LINE * (100_000 // len(LONG_LINE))
    loop, ticks = asyncio.get_running_loop(), 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = loop.create_task(tick())
    await asyncio.sleep(0)
    before = ticks
    try:
        found = await extract(letter, ["Loretta", "Sam"])
    finally:
        ticker.cancel()
    assert found == by_rule(letter, ["Loretta", "Sam"])
    assert ticks > before + 1  # the loop went on while the rules read


def test_key_and_new_only_ignore_case_accents_and_punctuation() -> None:
    assert key("the Café on Alvarado!") == key("THE cafe on  alvarado") == "the cafe on alvarado"
    found = [
        Found("place", "Bologna"),
        Found("place", "bologna."),
        Found("place", "Alvarado"),
        Found("name", "Marco"),
        Found("name", "Biscuit"),
    ]
    kept = new_only(found, ["the café on Alvarado", "BISCUIT!"])
    assert texts(kept) == [("place", "Bologna"), ("name", "Marco")]


# -- by the mind -----------------------------------------------------------------------------
async def test_the_mind_may_name_them_but_only_what_the_letter_says() -> None:
    reply = (
        '[{"kind": "place", "text": "Via Zamboni"}, {"kind": "name", "text": "Marco"},'
        ' {"kind": "place", "text": "Paris"}, {"kind": "name", "text": "Roberta"},'
        ' {"kind": "food", "text": "pasta"}, "junk"]'
    )
    model = FakeLLM([reply])
    found = await by_mind(ANNIVERSARY, ["Loretta", "Roberta"], model)
    # Paris is not in the letter (made up), Roberta is the reader, "food" is no kind.
    assert texts(found) == [("place", "Via Zamboni"), ("name", "Marco")]
    assert "Loretta and Roberta" in model.calls[0][0].content


async def test_a_model_that_answers_nonsense_leaves_it_to_the_rules() -> None:
    found = await extract(ANNIVERSARY, ["Loretta", "Roberta"], FakeLLM(["Sure! Here they are"]))
    assert found == by_rule(ANNIVERSARY, ["Loretta", "Roberta"])
    assert await extract(ANNIVERSARY, ["Loretta", "Roberta"]) == found  # no model: the rules


async def test_a_model_that_names_nothing_in_the_letter_leaves_it_to_the_rules() -> None:
    made_up = '[{"kind": "place", "text": "Paris"}, {"kind": "name", "text": "Roberta"}]'
    for reply in (made_up, "[]"):
        model = FakeLLM([reply])
        found = await extract(ANNIVERSARY, ["Loretta", "Roberta"], model)
        assert len(model.calls) == 1
        assert found == by_rule(ANNIVERSARY, ["Loretta", "Roberta"]) != []


# -- in the studio ---------------------------------------------------------------------------
async def test_sending_remembers_names_and_places_once(any_store: SqlStore) -> None:
    studio = Studio(any_store.engine)
    theo = await any_store.ensure_person("theodore")
    await studio.add_client(theo, "Loretta")
    to = await studio.add_correspondence(theo, "Loretta", "Roberta")
    already = await studio.add_mention(theo, to.id, "place", "the little trattoria on VIA ZAMBONI")
    marco = await studio.add_mention(theo, to.id, "name", "marco")

    letter, _ = await studio.new_letter(theo, to.id, "Fifty years", ANNIVERSARY)
    await studio.approve(theo, letter.id)
    sent, added = await studio.send(theo, letter.id, date(2025, 6, 14))
    assert sent.status == "sent"
    assert [(m.kind, m.text, m.letter_id) for m in added] == [
        ("place", "Monterey", letter.id),
        ("name", "Aunt Jo", letter.id),
        ("place", "Hotel Negresco", letter.id),
        ("name", "Mr. Ellison", letter.id),
        ("place", "St. Mark's Square", letter.id),
    ]
    listed = await studio.list_mentions(theo, to.id)
    assert [m.id for m in listed][:2] == [already.id, marco.id]
    assert len(listed) == 7

    # A second letter naming the same people and places adds nothing twice.
    again = "Dear Roberta,\n\nWe went back to Monterey with aunt jo, then on to Carmel.\n"
    second, _ = await studio.new_letter(theo, to.id, "Again", again)
    await studio.approve(theo, second.id)
    _, more = await studio.send(theo, second.id)
    assert [(m.kind, m.text) for m in more] == [("place", "Carmel")]

    # The writer still corrects and forgets them.
    fixed = await studio.edit_mention(theo, added[3].id, "Walter Ellison", "name")
    assert (fixed.text, fixed.letter_id) == ("Walter Ellison", letter.id)
    moved = await studio.edit_mention(theo, added[1].id, kind="history")
    assert (moved.kind, moved.text) == ("history", "Aunt Jo")
    with pytest.raises(UserInputError):
        await studio.edit_mention(theo, added[1].id)
    await studio.remove_mention(theo, added[0].id)
    assert "Monterey" not in [m.text for m in await studio.list_mentions(theo, to.id)]
    paul = await any_store.ensure_person("paul")
    with pytest.raises(NotFoundError):
        await studio.edit_mention(paul, fixed.id, "Paul's now")


async def test_the_model_is_asked_only_when_given(any_store: SqlStore) -> None:
    studio = Studio(any_store.engine)
    theo = await any_store.ensure_person("theodore")
    await studio.add_client(theo, "Loretta")
    to = await studio.add_correspondence(theo, "Loretta", "Roberta")
    letter, _ = await studio.new_letter(theo, to.id, "T", ANNIVERSARY)
    await studio.approve(theo, letter.id)
    model = FakeLLM(['[{"kind": "place", "text": "Monterey"}]'])
    _, added = await studio.send(theo, letter.id, llm=model)
    assert [(m.kind, m.text) for m in added] == [("place", "Monterey")]
    assert len(model.calls) == 1


# -- the same order on both databases --------------------------------------------------------
NAMES = ["bob", "Émile", "Zoë", "alice", "Alice", "Emma", "Ève", "Zed", "adam", "Órla", "ólafur"]
ORDER = ["adam", "Alice", "alice", "bob", "Émile", "Emma", "Ève", "ólafur", "Órla", "Zed", "Zoë"]


async def test_lists_are_in_the_same_order_on_every_database(any_store: SqlStore) -> None:
    studio = Studio(any_store.engine)
    theo = await any_store.ensure_person("theodore")
    for name in NAMES:
        await studio.add_client(theo, name)
    assert [c.name for c in await studio.list_clients(theo)] == ORDER
    for name in reversed(NAMES):
        await studio.add_correspondence(theo, "bob", name)
        await studio.add_correspondence(theo, "Émile", name)
    found = [(c.client, c.name) for c in await studio.list_correspondences(theo)]
    assert found == [("bob", n) for n in ORDER] + [("Émile", n) for n in ORDER]
    assert [c.name for c in await studio.list_correspondences(theo, "Émile")] == ORDER
    today = date(2025, 1, 1)
    for c in await studio.list_correspondences(theo, "bob"):
        await studio.add_occasion(theo, c.id, "birthday", "Birthday", 1, 5)
    coming = await studio.upcoming(theo, 10, today)
    assert [u.correspondent for u in coming] == ORDER
