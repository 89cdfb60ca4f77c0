"""The letters studio's service: clients and correspondences kept private to their writer,
letters in versions with diffs and approval, drafting by the (fake) mind from the right
correspondence only, upcoming occasions across the year's end and on February 29, and bad input
refused with nothing saved. Storage tests run on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fixtures_store import open_store
from sqlalchemy import Table, func, select

from os1.errors import LLMError, LLMUnavailable, NotFoundError, UserInputError
from os1.letters.models import ClientEdit, Correspondence, DrewOn, Letter
from os1.letters.studio import Studio, addressed
from os1.letters.tables import clients, letters, mentions, occasions, versions
from os1.memory.models import Person
from os1.memory.store import SqlStore
from os1.mind.fake import FakeLLM
from os1.mind.llm import Message

BOLOGNA = (
    "Dearest Roberta,\n\nI still think of our week in Bologna, the arcades in the rain and the "
    "little trattoria where you ordered for both of us.\nYours, Loretta\n"
)
GARDEN = "Dear Roberta,\n\nThe tomatoes came in at last; the garden is a jungle.\nLoretta\n"
TO_SAM = "Dear Sam,\n\nBologna again this spring? The arcades miss you.\nLoretta\n"


@dataclass
class Desk:
    studio: Studio
    store: SqlStore
    theodore: Person
    paul: Person


@pytest.fixture
async def desk(any_store: SqlStore) -> Desk:
    return Desk(
        Studio(any_store.engine),
        any_store,
        await any_store.ensure_person("theodore"),
        await any_store.ensure_person("paul"),
    )


@pytest.fixture
async def file_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """The studio on a SQLite file only: for tests about the studio's logic, not storage."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'os1.db'}")
    yield Desk(
        Studio(store.engine),
        store,
        await store.ensure_person("theodore"),
        await store.ensure_person("paul"),
    )
    await store.close(30)
    await store.engine.dispose()


async def loretta(desk: Desk) -> Correspondence:
    studio, writer = desk.studio, desk.theodore
    await studio.add_client(
        writer,
        "Loretta",
        stock_hand="dkg",
        phrases=["my sweet pea", "Yours always"],
        never_say=["money", "the war"],
        notes="married to Roberta for fifty years",
    )
    return await studio.add_correspondence(
        writer,
        "Loretta",
        "Roberta",
        address=["12 Elm Street", "Portland, OR 97201"],
        relation="wife",
        since=date(1975, 6, 1),
    )


async def sent(desk: Desk, to: Correspondence, title: str, text: str, on: date) -> Letter:
    letter, _ = await desk.studio.new_letter(desk.theodore, to.id, title, text)
    await desk.studio.approve(desk.theodore, letter.id)
    return await desk.studio.mark_sent(desk.theodore, letter.id, on)


async def count(desk: Desk, table: Table) -> int:
    async with desk.store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


# -- storage: privacy, versions -------------------------------------------------------------
async def test_a_writers_studio_is_invisible_to_another(desk: Desk) -> None:
    studio, theo, paul = desk.studio, desk.theodore, desk.paul
    to = await loretta(desk)
    letter, _ = await studio.new_letter(theo, to.id, "Fifty years", BOLOGNA)
    occasion = await studio.add_occasion(theo, to.id, "anniversary", "Wedding", 6, 1, 1975)
    mention = await studio.add_mention(theo, to.id, "place", "Bologna", letter.id)

    assert [c.name for c in await studio.list_clients(theo)] == ["Loretta"]
    assert await studio.list_clients(paul) == []
    assert await studio.list_correspondences(paul) == []
    assert await studio.list_letters(paul) == []
    assert await studio.upcoming(paul, 366) == []
    # Paul may have a client of the same name: names are unique per writer only.
    await studio.add_client(paul, "Loretta")
    assert (await studio.list_correspondences(paul, "Loretta")) == []

    attempts = [
        lambda: studio.get_letter(paul, letter.id),
        lambda: studio.versions(paul, letter.id),
        lambda: studio.add_version(paul, letter.id, "Dear Roberta, it is Paul."),
        lambda: studio.draft(paul, letter.id, "notes", FakeLLM()),
        lambda: studio.approve(paul, letter.id, 1),
        lambda: studio.mark_sent(paul, letter.id),
        lambda: studio.diff(paul, letter.id, 1, 1),
        lambda: studio.letter_doc(paul, letter.id),
        lambda: studio.remove_letter(paul, letter.id),
        lambda: studio.get_correspondence(paul, to.id),
        lambda: studio.list_occasions(paul, to.id),
        lambda: studio.list_mentions(paul, to.id),
        lambda: studio.add_occasion(paul, to.id, "birthday", "Hers", 1, 2),
        lambda: studio.add_mention(paul, to.id, "name", "Sam"),
        lambda: studio.new_letter(paul, to.id, "Mine now", "text"),
        lambda: studio.remove_occasion(paul, occasion.id),
        lambda: studio.edit_mention(paul, mention.id, "Paris"),
        lambda: studio.remove_mention(paul, mention.id),
        lambda: studio.remove_correspondence(paul, to.id),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError):
            await attempt()
    # Nothing of Theodore's changed.
    assert [v.text for v in await studio.versions(theo, letter.id)] == [BOLOGNA]
    assert (await studio.get_letter(theo, letter.id)).status == "draft"
    assert [m.text for m in await studio.list_mentions(theo, to.id)] == ["Bologna"]
    assert len(await studio.list_occasions(theo, to.id)) == 1
    with pytest.raises(NotFoundError):
        await studio.get_letter(theo, 2**40)  # past PostgreSQL's 32-bit ids: not found either


async def test_versions_diff_approve_and_send(desk: Desk) -> None:
    studio, theo = desk.studio, desk.theodore
    to = await loretta(desk)
    letter, first = await studio.new_letter(theo, to.id, "Fifty years", BOLOGNA, "dictated")
    assert (first.number, first.source, first.drew_on) == (1, "dictated", DrewOn())
    second = await studio.add_version(theo, letter.id, BOLOGNA.replace("rain", "snow"))
    assert second.number == 2

    diff = await studio.diff(theo, letter.id, 1, 2)
    assert "--- letter 1 version 1" not in diff or letter.id == 1
    assert f"+++ letter {letter.id} version 2" in diff
    assert "-I still think of our week in Bologna, the arcades in the rain" in diff
    assert "+I still think of our week in Bologna, the arcades in the snow" in diff
    assert await studio.diff(theo, letter.id, 2, 2) == ""
    with pytest.raises(NotFoundError, match="no version 3"):
        await studio.diff(theo, letter.id, 1, 3)

    approved = await studio.approve(theo, letter.id, 1)
    assert (approved.status, approved.approved_version) == ("approved", 1)
    doc = await studio.letter_doc(theo, letter.id)
    assert (doc.text, doc.client, doc.correspondent) == (BOLOGNA, "Loretta", "Roberta")
    assert doc.recipient == ("Roberta", "12 Elm Street", "Portland, OR 97201")
    # A new text needs a new approval.
    await studio.add_version(theo, letter.id, GARDEN)
    assert (await studio.get_letter(theo, letter.id)).status == "draft"
    with pytest.raises(UserInputError, match="not approved"):
        await studio.mark_sent(theo, letter.id)
    await studio.approve(theo, letter.id)  # the newest
    done = await studio.mark_sent(theo, letter.id, date(2026, 6, 1))
    assert (done.status, done.approved_version, done.sent_on) == ("sent", 3, date(2026, 6, 1))
    assert (await studio.letter_doc(theo, letter.id)).date == date(2026, 6, 1)
    for later in (
        lambda: studio.add_version(theo, letter.id, "too late"),
        lambda: studio.approve(theo, letter.id, 1),
        lambda: studio.mark_sent(theo, letter.id),
    ):
        with pytest.raises(UserInputError):
            await later()
    assert [v.number for v in await studio.versions(theo, letter.id)] == [1, 2, 3]


async def test_a_letter_sent_twice_at_once_is_sent_once(desk: Desk) -> None:
    studio, theo = desk.studio, desk.theodore
    to = await loretta(desk)
    letter, _ = await studio.new_letter(theo, to.id, "Fifty years", BOLOGNA)
    await studio.approve(theo, letter.id)
    both_read = asyncio.Barrier(2)

    async def respond(_: list[Message]) -> str:
        await both_read.wait()  # each call checked the letter before either writes
        return '[{"kind": "place", "text": "Bologna"}]'

    days = (date(2026, 6, 1), date(2026, 6, 2))
    got = await asyncio.gather(
        *(studio.send(theo, letter.id, day, FakeLLM(respond=respond)) for day in days),
        return_exceptions=True,
    )
    done = [g for g in got if isinstance(g, tuple)]
    refused = [g for g in got if isinstance(g, BaseException)]
    assert (len(done), len(refused)) == (1, 1), got
    [(first, added)] = done
    assert isinstance(refused[0], UserInputError), refused[0]
    assert "already sent" in str(refused[0])
    assert first.sent_on == days[got.index(done[0])]
    kept = await studio.get_letter(theo, letter.id)
    assert (kept.status, kept.sent_on) == ("sent", first.sent_on)
    assert [m.text for m in added] == ["Bologna"]
    assert [m.text for m in await studio.list_mentions(theo, to.id)] == ["Bologna"]


async def test_clients_edit_rename_and_remove_everything_beneath(desk: Desk) -> None:
    studio, theo = desk.studio, desk.theodore
    to = await loretta(desk)
    await studio.new_letter(theo, to.id, "Fifty years", BOLOGNA)
    await studio.add_client(theo, "Sam")
    with pytest.raises(UserInputError, match="already has a client named 'Sam'"):
        await studio.edit_client(theo, "Loretta", ClientEdit(name="Sam"))
    with pytest.raises(UserInputError, match="already has a client"):
        await studio.add_client(theo, "Loretta")
    edited = await studio.edit_client(
        theo, "Loretta", ClientEdit(name="Loretta M.", hand="loretta-1", phrases=())
    )
    assert (edited.name, edited.hand, edited.phrases) == ("Loretta M.", "loretta-1", ())
    assert edited.never_say == ("money", "the war")
    cleared = await studio.edit_client(theo, "Loretta M.", ClientEdit(hand=""))
    assert cleared.hand is None
    await studio.remove_client(theo, "Loretta M.")
    assert [c.name for c in await studio.list_clients(theo)] == ["Sam"]
    assert (await count(desk, letters), await count(desk, versions)) == (0, 0)


# -- drafting -------------------------------------------------------------------------------
async def test_draft_uses_this_correspondence_only_and_records_what_it_drew_on(
    file_desk: Desk,
) -> None:
    desk = file_desk
    studio, theo = desk.studio, desk.theodore
    roberta = await loretta(desk)
    sam = await studio.add_correspondence(theo, "Loretta", "Sam", relation="brother")
    bologna = await sent(desk, roberta, "Bologna", BOLOGNA, date(2024, 5, 2))
    await sent(desk, roberta, "Tomatoes", GARDEN, date(2025, 8, 9))
    await sent(desk, sam, "Spring", TO_SAM, date(2025, 3, 1))
    # Sending drew the one place it could be sure of from the letters ("in Bologna").
    [drawn] = await studio.list_mentions(theo, roberta.id)
    assert (drawn.kind, drawn.text, drawn.letter_id) == ("place", "Bologna", bologna.id)
    assert await studio.list_mentions(theo, sam.id) == []  # "Bologna" opens its sentence there
    trattoria = await studio.add_mention(
        theo, roberta.id, "place", "the trattoria under the Bologna arcades"
    )
    dog = await studio.add_mention(theo, roberta.id, "name", "Biscuit, their dog")
    await studio.add_mention(theo, sam.id, "name", "Uncle Sam's boat")
    wedding = await studio.add_occasion(theo, roberta.id, "anniversary", "Wedding", 6, 1, 1975)
    await studio.add_occasion(theo, sam.id, "birthday", "Sam's birthday", 3, 3)
    current, _ = await studio.new_letter(theo, roberta.id, "Fiftieth", "Dear Roberta, ...")

    model = FakeLLM(["My sweet pea,\n\nFifty years since Bologna.\nYours always, Loretta"])
    version = await studio.draft(theo, current.id, "our 50th; the Bologna trip, the arcades", model)

    assert (version.number, version.source) == (2, "mind")
    assert version.notes == "our 50th; the Bologna trip, the arcades"
    assert version.text.startswith("My sweet pea,")
    assert version.drew_on == DrewOn(
        letters=(bologna.id,), mentions=(trattoria.id, drawn.id, dog.id), occasions=(wedding.id,)
    )
    assert (await studio.versions(theo, current.id))[-1].drew_on == version.drew_on

    system, request = model.calls[0]
    assert isinstance(system, Message) and system.role == "system"
    assert "voice of Loretta, to Roberta (wife)" in system.content
    assert '"my sweet pea"' in system.content and "money; the war" in system.content
    assert "the arcades in the rain" in request.content  # the Bologna letter
    assert "tomatoes" not in request.content.lower()  # not relevant to the notes
    assert "Dear Sam" not in request.content and "Uncle Sam" not in request.content
    assert "Sam's birthday" not in request.content
    assert "Wedding (anniversary, since 1975)" in request.content
    assert "Dear Roberta, ..." not in request.content  # the letter being drafted is not "past"

    # Nothing relevant: the latest letter is given for the voice, and recorded as such.
    again = await studio.draft(theo, current.id, "a short hello", FakeLLM(["Hello, pea."]))
    assert again.drew_on.letters != (bologna.id,) and len(again.drew_on.letters) == 1


async def test_a_new_letter_drafted_by_the_mind(file_desk: Desk) -> None:
    desk = file_desk
    to = await loretta(desk)
    model = FakeLLM(["Dear Roberta, a letter."])
    letter, first = await desk.studio.draft_letter(
        desk.theodore, to.id, "Hello", "just hello", model
    )
    assert (letter.status, first.number, first.source, first.text) == (
        "draft",
        1,
        "mind",
        "Dear Roberta, a letter.",
    )
    assert first.drew_on == DrewOn()  # no history yet


async def test_no_model_or_a_failing_one_saves_nothing(file_desk: Desk) -> None:
    desk = file_desk
    studio, theo = desk.studio, desk.theodore
    to = await loretta(desk)
    letter, _ = await studio.new_letter(theo, to.id, "Fifty years", BOLOGNA)
    with pytest.raises(LLMUnavailable, match="drafting needs a language model"):
        await studio.draft(theo, letter.id, "notes", None)
    with pytest.raises(LLMUnavailable):
        await studio.draft_letter(theo, to.id, "Another", "notes", None)
    with pytest.raises(LLMError):
        await studio.draft(theo, letter.id, "notes", FakeLLM(["one two three four"], fail_after=2))
    with pytest.raises(LLMError, match="empty draft"):
        await studio.draft(theo, letter.id, "notes", FakeLLM(["   "]))
    with pytest.raises(LLMError, match="refused"):
        await studio.draft(theo, letter.id, "notes", FakeLLM(["bad \x07 bell"]))
    assert (await count(desk, letters), await count(desk, versions)) == (1, 1)


# -- upcoming occasions ---------------------------------------------------------------------
async def test_upcoming_wraps_the_year_and_keeps_february_29(file_desk: Desk) -> None:
    desk = file_desk
    studio, theo = desk.studio, desk.theodore
    to = await loretta(desk)
    await studio.add_occasion(theo, to.id, "anniversary", "Wedding", 1, 5, 1975)
    await studio.add_occasion(theo, to.id, "birthday", "Leap-day birthday", 2, 29, 1980)
    await studio.add_occasion(theo, to.id, "other", "First snow", 12, 20)

    soon = await studio.upcoming(theo, 30, today=date(2026, 12, 20))
    assert [(u.occasion.label, u.on, u.days, u.years) for u in soon] == [
        ("First snow", date(2026, 12, 20), 0, None),
        ("Wedding", date(2027, 1, 5), 16, 52),
    ]
    assert (soon[0].client, soon[0].correspondent) == ("Loretta", "Roberta")

    common = await studio.upcoming(theo, 10, today=date(2027, 2, 20))
    assert [(u.occasion.label, u.on, u.days) for u in common] == [
        ("Leap-day birthday", date(2027, 2, 28), 8)
    ]
    leap = await studio.upcoming(theo, 10, today=date(2028, 2, 20))
    assert [(u.on, u.years) for u in leap] == [(date(2028, 2, 29), 48)]
    # The day after February 28 in a common year: next year's (leap) February 29 is far off.
    assert await studio.upcoming(theo, 30, today=date(2027, 3, 1)) == []
    with pytest.raises(UserInputError):
        await studio.upcoming(theo, -1)


# -- bad input ------------------------------------------------------------------------------
async def test_bad_input_is_refused_and_nothing_saved(file_desk: Desk) -> None:
    desk = file_desk
    studio, theo = desk.studio, desk.theodore
    to = await loretta(desk)
    letter, _ = await studio.new_letter(theo, to.id, "Fifty years", BOLOGNA)
    before = [await count(desk, t) for t in (clients, letters, versions, occasions, mentions)]
    big = "x" * 100_001
    cases = [
        (lambda: studio.add_client(theo, "   "), "cannot be empty"),
        (lambda: studio.add_client(theo, "A" * 65), "at most 64"),
        (lambda: studio.add_client(theo, "Bad\x1bName"), "control characters"),
        (lambda: studio.add_client(theo, "Ok", hand="no spaces allowed"), "hand's name"),
        (lambda: studio.add_client(theo, "Ok", phrases=["fine", "line\nbreak"]), "control"),
        (lambda: studio.add_client(theo, "Ok", phrases=["p"] * 51), "at most 50"),
        (lambda: studio.add_client(theo, "Ok", notes="\ud800"), "Unicode"),
        (lambda: studio.add_correspondence(theo, "Loretta", ""), "cannot be empty"),
        (lambda: studio.add_correspondence(theo, "Loretta", "Roberta"), "already writes to"),
        (lambda: studio.add_correspondence(theo, "Loretta", "X", address=["a\tb"]), "control"),
        (lambda: studio.new_letter(theo, to.id, "Big", big), "too long"),
        (lambda: studio.new_letter(theo, to.id, "", "text"), "cannot be empty"),
        (lambda: studio.new_letter(theo, to.id, "Nul", "a\x00b"), "control characters"),
        (lambda: studio.new_letter(theo, to.id, "Blank", " \n\t "), "empty"),
        # Only marks that show nothing: a book of the client's letters would refuse it later.
        (lambda: studio.new_letter(theo, to.id, "Ghost", "\ufe0f\ufe0f"), "nothing visible"),
        (lambda: studio.new_letter(theo, to.id, "Ghost", "\u200b \ufeff\n"), "nothing visible"),
        (lambda: studio.new_letter(theo, to.id, "Who", "text", "mind"), "source"),
        (lambda: studio.add_version(theo, letter.id, big), "too long"),
        (lambda: studio.add_version(theo, letter.id, "bell \x07"), "control characters"),
        (lambda: studio.draft(theo, letter.id, "n" * 10_001, FakeLLM()), "too long"),
        (lambda: studio.add_occasion(theo, to.id, "anniversary", "X", 13, 1), "no month 13"),
        (lambda: studio.add_occasion(theo, to.id, "anniversary", "X", 4, 31), "no day 31"),
        (lambda: studio.add_occasion(theo, to.id, "birthday", "X", 2, 29, 2027), "no day 29"),
        (lambda: studio.add_occasion(theo, to.id, "wedding", "X", 2, 2), "one of"),
        (lambda: studio.add_occasion(theo, to.id, "other", " ", 2, 2), "cannot be empty"),
        (lambda: studio.add_mention(theo, to.id, "place", "p" * 501), "at most 500"),
        (lambda: studio.add_mention(theo, to.id, "food", "pasta"), "one of"),
        (lambda: studio.list_letters(theo, status="lost"), "one of"),
    ]
    for attempt, message in cases:
        with pytest.raises(UserInputError, match=message):
            await attempt()
    after = [await count(desk, t) for t in (clients, letters, versions, occasions, mentions)]
    assert after == before
    # Windows line ends are kept as plain ones; a leap-day birthday with no year is fine.
    mixed = await studio.add_version(theo, letter.id, "Dear R,\r\nYours\r\n")
    assert mixed.text == "Dear R,\nYours\n"
    # ... and so are old Macs' and Unicode's; a byte-order mark at the start is dropped.
    other = await studio.add_version(theo, letter.id, "\ufeffDear R,\rWell\u2028Yours\u2029P.S.")
    assert other.text == "Dear R,\nWell\nYours\n\nP.S."
    await studio.add_occasion(theo, to.id, "birthday", "Leap", 2, 29)


async def test_versions_added_at_once_are_numbered_one_after_another(desk: Desk) -> None:
    corr = await loretta(desk)
    letter, _ = await desk.studio.new_letter(desk.theodore, corr.id, "Bologna", BOLOGNA)
    texts = [f"{BOLOGNA}\nP.S. {i}\n" for i in range(6)]
    made = await asyncio.gather(
        *(desk.studio.add_version(desk.theodore, letter.id, t) for t in texts)
    )
    assert sorted(v.number for v in made) == [2, 3, 4, 5, 6, 7]
    kept = await desk.studio.versions(desk.theodore, letter.id)
    assert [v.number for v in kept] == [1, 2, 3, 4, 5, 6, 7]


def test_an_address_that_names_the_person_is_not_given_the_name_twice() -> None:
    assert addressed("Roberta", ["12 Elm Street"]) == ("Roberta", "12 Elm Street")
    assert addressed("Loretta", ["Loretta Day", "4 Hill Rd"]) == ("Loretta Day", "4 Hill Rd")
    assert addressed("loretta day", ["LORETTA DAY", "x"]) == ("LORETTA DAY", "x")
    assert addressed("Al", ["Alvarado Terrace"]) == ("Al", "Alvarado Terrace")
    assert addressed("Ann Lee", ["Ann", "x"]) == ("Ann Lee", "Ann", "x")
    assert addressed("Ann", []) == ("Ann",)
