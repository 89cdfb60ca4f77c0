"""The mind in conversation, with the fake brain and in-memory SQLite."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from os1.errors import BusyError, LLMStreamBroken, LLMUnavailable, UserInputError
from os1.memory.store import SqlStore
from os1.mind import interview as iv
from os1.mind.conversation import Mind, Session
from os1.mind.fake import FakeLLM
from os1.mind.llm import LLM, Message
from os1.mind.persona import load_mind
from os1.settings import Settings


def make_mind(
    store: SqlStore, llm: LLM | None, tmp_path_factory: pytest.TempPathFactory, **overrides: object
) -> Mind:
    settings = Settings(home=tmp_path_factory.mktemp("home"), **overrides)  # type: ignore[arg-type]
    return Mind(store, llm, load_mind("samantha", settings.minds_dir), settings)


async def say(session: Session, text: str) -> str:
    return "".join([p async for p in session.reply(text)])


def system_of(call: Sequence[Message]) -> str:
    assert call[0].role == "system"
    return call[0].content


@pytest.fixture
def mind(store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory) -> Mind:
    return make_mind(store, fake_llm, tmp_path_factory, interview=False)


async def test_memories_reach_a_later_conversation(mind: Mind, fake_llm: FakeLLM) -> None:
    async with await mind.open("theo") as first:
        await say(first, "My sister Anna lives in Lisbon")
        await say(first, "I had a long day at work")
    async with await mind.open("theo") as second:
        reply = await say(second, "Where does my sister live?")
    assert reply.startswith("I hear you")
    prompt = system_of(fake_llm.calls[-1])
    assert "My sister Anna lives in Lisbon" in prompt
    assert fake_llm.calls[-1][-1] == Message("user", "Where does my sister live?")


async def test_newer_statement_is_listed_after_the_older(mind: Mind, fake_llm: FakeLLM) -> None:
    async with await mind.open("theo") as s:
        await say(s, "My sister lives in Lisbon")
    async with await mind.open("theo") as s:
        await say(s, "My sister moved to Berlin last month")
    async with await mind.open("theo") as s:
        await say(s, "Where does my sister live now?")
    prompt = system_of(fake_llm.calls[-1])
    assert prompt.index("Lisbon") < prompt.index("Berlin")
    assert "the later one is what is true now" in prompt


async def test_other_people_never_reach_the_prompt(mind: Mind, fake_llm: FakeLLM) -> None:
    async with await mind.open("bob") as s:
        await say(s, "My bank PIN is 9931 and my sister lives in Oslo")
    async with await mind.open("theo") as s:
        await say(s, "What is my bank PIN? where does my sister live?")
    for message in fake_llm.calls[-1]:
        assert "9931" not in message.content and "Oslo" not in message.content


async def test_user_turn_is_kept_when_the_model_fails(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = FakeLLM(fail_with=LLMUnavailable("cannot reach the language model"))
    mind = make_mind(store, llm, tmp_path_factory, interview=False)
    async with await mind.open("theo") as s:
        with pytest.raises(LLMUnavailable):
            await say(s, "Remember that I love jazz")
    dump = await store.export(await store.get_person("theo"))
    assert [(t["role"], t["content"]) for t in dump["turns"]] == [
        ("user", "Remember that I love jazz")
    ]


async def test_broken_stream_stores_no_partial_reply(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = FakeLLM(["one two three four five six"], fail_after=2)
    mind = make_mind(store, llm, tmp_path_factory, interview=False)
    got: list[str] = []
    async with await mind.open("theo") as s:
        with pytest.raises(LLMStreamBroken):
            async for piece in s.reply("hello"):
                got.append(piece)
    assert got == ["one ", "two "]
    dump = await store.export(await store.get_person("theo"))
    assert [t["role"] for t in dump["turns"]] == ["user"]


async def test_bad_messages_store_nothing(mind: Mind, store: SqlStore) -> None:
    async with await mind.open("theo") as s:
        for bad in ["", "   ", "x" * 40_000, "bin\x00ary"]:
            with pytest.raises(UserInputError):
                await say(s, bad)
    assert (await store.export(await store.get_person("theo")))["turns"] == []


async def test_interview_stores_answers_as_facts(
    store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mind = make_mind(store, fake_llm, tmp_path_factory)
    async with await mind.open("theodore") as s:
        opening = await s.opening()
        assert opening is not None and "call you" in opening
        assert "working on" in await say(s, "Please call me Theo")
        assert "matters" in await say(s, "I write letters for other people")
        assert "Thank you, Theo" in await say(s, "My friends, and writing well")
        await say(s, "Hi!")
    assert len(fake_llm.calls) == 1  # the interview itself needs no model
    facts = {f.key: f.value for f in await store.list_facts(await store.get_person("theodore"))}
    assert facts == {
        "preferred_name": "Theo",
        "working_on": "I write letters for other people",
        "what_matters": "My friends, and writing well",
    }
    prompt = system_of(fake_llm.calls[0])
    assert "Theo likes to be called Theo" in prompt and "writing well" in prompt
    async with await mind.open("theodore") as again:
        assert await again.opening() is None  # asked once only


async def test_interview_asks_once_more_for_a_name_it_did_not_catch(
    store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mind = make_mind(store, fake_llm, tmp_path_factory)
    async with await mind.open("theodore") as s:
        await s.opening()
        assert "didn't catch a name" in await say(s, "the")
        assert "working on" in await say(s, "Theo")
    async with await mind.open("amelia") as s:
        await s.opening()
        assert "didn't catch a name" in await say(s, "what?")
        assert "working on" in await say(s, "no idea")  # asked once more only: the login name
    names = {}
    for login in ("theodore", "amelia"):
        facts = await store.list_facts(await store.get_person(login))
        names[login] = [f.value for f in facts if f.key == "preferred_name"]
    assert names == {"theodore": ["Theo"], "amelia": ["amelia"]}


async def test_interview_can_be_skipped(
    store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mind = make_mind(store, fake_llm, tmp_path_factory)
    async with await mind.open("amy") as s:
        assert await s.opening()
        assert "as we go" in await say(s, "skip")
        assert (await say(s, "hello")).startswith("I hear you")
    async with await mind.open("zoe", interview=False) as s:
        assert await s.opening() is None


async def test_presence_counts_open_conversations(mind: Mind, fake_llm: FakeLLM) -> None:
    a = await mind.open("amy")
    b = await mind.open("bob")
    c = await mind.open("bob")
    await say(a, "hi")
    assert "3 conversations with 2 people" in system_of(fake_llm.calls[-1])
    await b.close()
    await c.close()
    await say(a, "hi again")
    assert "1 conversation with 1 person" in system_of(fake_llm.calls[-1])
    await a.close()


async def test_offline_mode_answers_from_memory(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mind = make_mind(store, None, tmp_path_factory, interview=False)
    async with await mind.open("theo") as s:
        assert "offline mode" in await say(s, "My sister Anna lives in Lisbon")
        await say(s, "I bought a green bicycle")
        await say(s, "My sister Anna has a cat. Does your sister have one?")
        await say(s, "Where does my sister work?")
    async with await mind.open("theo") as s:
        answer = await say(s, "What do you remember about my sister?")
        assert "My sister Anna lives in Lisbon" in answer
        # A turn that tells something is recalled though it ends in a question; one that
        # only asks is not.
        assert "My sister Anna has a cat" in answer and "Where does my sister work" not in answer
        assert "offline mode" in answer
        assert "talking with 1 person" in await say(s, "How many people are you talking to?")


async def test_small_model_presence_question_is_answered_exactly(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = FakeLLM(small=True)
    mind = make_mind(store, llm, tmp_path_factory, interview=False)
    async with await mind.open("theo") as s, await mind.open("ann"):
        reply = await say(s, "how many people are you talking with right now?")
    assert reply.startswith("I'm talking with 2 people right now, in 2 conversations")
    assert llm.calls == []


@pytest.mark.parametrize("small", [True, False])
async def test_a_small_model_stops_where_it_starts_reciting_its_prompt(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory, small: bool
) -> None:
    llm = FakeLLM(small=small)
    mind = make_mind(store, llm, tmp_path_factory, interview=False)
    theo = await store.ensure_person("theo")
    await store.add_fact(theo, "fact", "home", "Berlin", [])
    async with await mind.open("theo") as s:
        await say(s, "My sister Anna lives in Lisbon")
    async with await mind.open("theo") as s:
        await say(s, "Where does my sister live?")
    stops = llm.samplings[-1].stop
    if not small:
        assert stops == ()
        return
    prompt = system_of(llm.calls[-1])
    assert "Anna lives in Lisbon" in prompt and "Berlin" in prompt
    # Each stop but the made-up heading opens a part of this very prompt, so a change to the
    # prompt's wording that leaves one stale fails here.
    assert [stop for stop in stops if stop not in prompt] == ["Chat History"]


async def test_prompt_stays_within_budget(
    store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mind = make_mind(
        store,
        fake_llm,
        tmp_path_factory,
        interview=False,
        context_tokens=1024,
        memory_tokens=200,
        max_reply_tokens=128,
    )
    async with await mind.open("theo") as s:
        for i in range(40):
            await say(s, f"note {i}: " + "the garden needs water and the cat wants food " * 8)
        await say(s, "what does the garden need?")
    size = sum(len(m.content) for m in fake_llm.calls[-1]) // 4
    assert size <= 1024 - 128 + 50
    assert fake_llm.calls[-1][-1].content == "what does the garden need?"


async def test_asking_for_a_new_name_supersedes_the_old(
    mind: Mind, fake_llm: FakeLLM, store: SqlStore
) -> None:
    async with await mind.open("theodore") as s:
        await say(s, "Please call me Ted from now on.")
        await say(s, "hello")
    assert "You are talking with Ted." in system_of(fake_llm.calls[-1])
    history = await store.list_facts(await store.get_person("theodore"), current=False)
    assert [(f.key, f.value) for f in history] == [("preferred_name", "Ted")]


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("call me Ted from now on", "Ted"),
        ("My name is Mary Ann, nice to meet you", "Mary Ann"),
        ("you can call me theo please", "theo"),
        ("I'm Theodore Twombly", "Theodore Twombly"),
        ("Theo", "Theo"),
        ("I'd rather you call me by my initials", None),
        ("Ivy, please", "Ivy"),
        ("My sister Anna lives in Porto and I work in a bakery", None),
        ("My name is not important.", None),
        ("theo", "theo"),
    ],
)
def test_names_are_taken_from_answers(said: str, name: str | None) -> None:
    question = load_mind("samantha", Path("/nowhere")).interview.questions[0]
    assert iv.answer_value(question, said) == name


async def test_an_overlong_message_is_cut_to_fit_the_prompt(
    store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mind = make_mind(
        store,
        fake_llm,
        tmp_path_factory,
        interview=False,
        context_tokens=1024,
        max_reply_tokens=128,
    )
    long = "start " + "blah " * 6000 + " end"
    async with await mind.open("theo") as s:
        await say(s, long)
    sent = fake_llm.calls[-1][-1].content
    assert sent.startswith("start ") and sent.endswith(" end") and "left out" in sent
    assert sum(len(m.content) for m in fake_llm.calls[-1]) // 4 <= 1024 - 128 + 50
    stored = (await store.export(await store.get_person("theo")))["turns"][0]["content"]
    assert stored == long


async def test_forget_takes_the_replies_too(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = FakeLLM(["How lovely that Anna works as a doctor in Porto!", "Noted."])
    mind = make_mind(store, llm, tmp_path_factory, interview=False)
    async with await mind.open("ana") as s:
        await say(s, "My sister Anna is a doctor in Porto.")
        await say(s, "I like tea.")
    person = await store.get_person("ana")
    assert await store.forget(person, "sister") == 2
    dump = json.dumps(await store.export(person))
    assert "Porto" not in dump and "tea" in dump


async def test_updates_are_found_without_shared_words(
    store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mind = make_mind(store, fake_llm, tmp_path_factory, interview=False)
    async with await mind.open("noor") as s:
        await say(s, "I live in Lisbon.")
        for i in range(30):
            await say(s, f"Random chatter number {i} about the weather and football.")
    async with await mind.open("noor") as s:
        await say(s, "I moved to Berlin.")
    async with await mind.open("noor") as s:
        await say(s, "Where do I live now?")
    prompt = system_of(fake_llm.calls[-1])
    assert "I live in Lisbon." in prompt and "I moved to Berlin." in prompt
    assert prompt.index("I live in Lisbon.") < prompt.index("I moved to Berlin.")


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("Please call me Ted from now on.", "Ted"),
        ("My name is Mary Ann.", "Mary Ann"),
        ("Call me when you are free tomorrow.", None),
        ("My name is not important.", None),
        ("I love my name.", None),
    ],
)
def test_name_changes_in_conversation(said: str, name: str | None) -> None:
    assert iv.name_change(said) == name


async def test_a_flooding_person_is_prepared_after_a_newcomer(
    store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Turns wait for preparation (store, recall, prompt) in fair shares: five turns of one
    person waiting at once do not go before another person's one, who asked last."""
    mind = make_mind(store, fake_llm, tmp_path_factory, interview=False, prepare_concurrency=1)
    flooder = [await mind.open("flo") for _ in range(5)]
    other = await mind.open("otto")
    release = asyncio.Event()

    async def hold() -> None:
        async with mind.preparing.use(0):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(say(s, f"flood {i}")) for i, s in enumerate(flooder)]
    await asyncio.sleep(0.01)
    tasks.append(asyncio.create_task(say(other, "hello from otto")))
    await asyncio.sleep(0.01)
    assert mind.preparing.waiting == 6
    release.set()
    await asyncio.gather(holder, *tasks)
    turns = [
        t
        for name in ("flo", "otto")
        for t in (await store.export(await store.get_person(name)))["turns"]
        if t["role"] == "user"
    ]
    order = [t["content"] for t in sorted(turns, key=lambda t: t["id"])]
    assert order.index("hello from otto") <= 1, order
    for s in [*flooder, other]:
        await s.close()


@pytest.mark.parametrize("queue", ["preparing", "scheduler"])
async def test_a_full_queue_refuses_before_storing(
    queue: str, store: SqlStore, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A message refused as busy, whether preparation or the model is full, is not stored."""
    limits = {"prepare_concurrency": 1} if queue == "preparing" else {"llm_concurrency": 1}
    mind = make_mind(store, fake_llm, tmp_path_factory, interview=False, llm_queue=0, **limits)
    release = asyncio.Event()

    async def hold() -> None:
        async with getattr(mind, queue).use(0):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    async with await mind.open("theo") as s:
        with pytest.raises(BusyError) as refused:
            await say(s, "are you there?")
        assert refused.value.retry_after >= 1
        release.set()
        await holder
        assert await say(s, "are you there now?")
    turns = (await store.export(await store.get_person("theo")))["turns"]
    assert [t["content"] for t in turns if t["role"] == "user"] == ["are you there now?"]
