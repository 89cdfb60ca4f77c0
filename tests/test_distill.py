"""Distilling facts after a reply, with scripted fake-brain answers (well-formed and not)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from os1.errors import LLMUnavailable
from os1.memory.models import Fact, NewTurn, Person, Turn
from os1.memory.store import SqlStore
from os1.mind.conversation import Mind, Session, distills
from os1.mind.distill import MARKER, check_ops, distill, parse_answer
from os1.mind.fake import FakeLLM, echo_reply
from os1.mind.llm import BrainInfo, Message
from os1.mind.persona import load_mind
from os1.settings import Settings

TURN = re.compile(r"^\[turn (\d+)\] (\S+):", re.M)
FACT = re.compile(r"^\[fact (\d+)\] \w+ (\w+):", re.M)


@dataclass
class Seen:
    """What a distillation prompt showed: the exchange's turn ids (the person's first) and the
    current facts' ids by key."""

    said: list[int]
    turns: list[int]
    facts: dict[str, int]


Answer = Callable[[Seen], Any] | str | dict[str, Any]
NOTHING: dict[str, Any] = {"operations": [], "profile": None}


class Brain(FakeLLM):
    """Chat replies echo the message; each distillation gets the next scripted answer, which may
    be written from the ids its prompt showed. ``gate``, when set, holds distillations back."""

    def __init__(self, *answers: Answer, gate: asyncio.Event | None = None) -> None:
        super().__init__(respond=self._respond)
        self.answers = list(answers)
        self.gate = gate
        self.prompts: list[list[Message]] = []

    async def _respond(self, messages: list[Message]) -> str:
        if not messages[0].content.startswith(MARKER):
            return echo_reply(messages)
        self.prompts.append(messages)
        if self.gate is not None:
            await self.gate.wait()
        text = messages[-1].content
        turns = [(int(i), who) for i, who in TURN.findall(text)]
        seen = Seen(
            said=[i for i, who in turns if who != "Samantha"],
            turns=[t for t, _ in turns],
            facts={key: int(i) for i, key in FACT.findall(text)},
        )
        answer = self.answers.pop(0) if self.answers else NOTHING
        value = answer(seen) if callable(answer) else answer
        return value if isinstance(value, str) else json.dumps(value)


def make_mind(store: SqlStore, llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory) -> Mind:
    settings = Settings(home=tmp_path_factory.mktemp("home"), interview=False, distill="on")
    return Mind(store, llm, load_mind("samantha", settings.minds_dir), settings)


async def say(session: Session, text: str) -> str:
    return "".join([p async for p in session.reply(text)])


async def talk(mind: Mind, *texts: str, person: str = "theo") -> None:
    """Say each text in one conversation, letting each distillation finish."""
    async with await mind.open(person) as session:
        for text in texts:
            await say(session, text)
            await mind.settle()


def op(name: str, /, **fields: Any) -> dict[str, Any]:
    return {"op": name, "fact_id": None, "kind": "fact", "source_ids": [], **fields}


def system_prompt(llm: FakeLLM) -> str:
    chats = [c for c in llm.calls if not c[0].content.startswith(MARKER)]
    return chats[-1][0].content


async def facts_of(store: SqlStore, name: str = "theo", current: bool = True) -> list[Fact]:
    return await store.list_facts(await store.get_person(name), current=current)


# -- the whole round, through a conversation ------------------------------------------------
async def test_add_links_each_fact_to_its_turns(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = Brain(
        lambda s: {
            "operations": [
                op("ADD", key="sister_city", value="Lisbon", source_ids=s.said),
                op("ADD", kind="preference", key="Coffee", value="black, no sugar"),
            ],
            "profile": None,
        }
    )
    mind = make_mind(store, llm, tmp_path_factory)
    await talk(mind, "My sister Anna lives in Lisbon. I take my coffee black.")
    said = [
        t for t in await store.list_turns(await store.get_person("theo"), 10) if t.role == "user"
    ]
    facts = await facts_of(store)
    assert [(f.kind, f.key, f.value) for f in facts] == [
        ("fact", "sister_city", "Lisbon"),
        ("preference", "coffee", "black, no sugar"),
    ]
    # Given sources are kept; with none given, the fact rests on what the person said.
    assert [f.source_turn_ids for f in facts] == [(said[0].id,), (said[0].id,)]
    prompt = llm.prompts[0][-1].content
    assert "My sister Anna lives in Lisbon" in prompt and "(none yet)" in prompt


async def test_update_refines_and_keeps_the_old_version(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = Brain(
        lambda s: {"operations": [op("ADD", key="job", value="designer", source_ids=s.said)]},
        lambda s: {
            "operations": [
                op("UPDATE", fact_id=s.facts["job"], value="designer at Loom", source_ids=s.said)
            ]
        },
    )
    mind = make_mind(store, llm, tmp_path_factory)
    await talk(mind, "I work as a designer", "I design at a startup called Loom")
    [old, new] = await facts_of(store, current=False)
    assert (old.ended_reason, old.replaced_by, new.value) == ("updated", new.id, "designer at Loom")
    assert len(new.source_turn_ids) == 2  # the old turn and the new one
    assert [f.value for f in await facts_of(store)] == ["designer at Loom"]


async def test_supersede_keeps_the_past_and_shows_it_as_the_past(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = Brain(
        lambda s: {
            "operations": [op("ADD", key="home_city", value="Lisbon", source_ids=s.said)],
            "profile": "Theo lives in Lisbon.",
        },
        lambda s: {
            "operations": [
                op("SUPERSEDE", fact_id=s.facts["home_city"], value="Berlin", source_ids=s.said)
            ],
            "profile": None,
        },
    )
    mind = make_mind(store, llm, tmp_path_factory)
    await talk(mind, "I live in Lisbon", "I moved to Berlin last month", "How are you?")
    # A fact changed and no new profile came: the stale one is not kept.
    assert await store.get_profile(await store.get_person("theo")) is None
    [lisbon, berlin] = await facts_of(store, current=False)
    assert (lisbon.value, lisbon.ended_reason, lisbon.replaced_by) == (
        "Lisbon",
        "superseded",
        berlin.id,
    )
    prompt = system_prompt(llm)
    assert "theo home city: Berlin (since" in prompt
    past = prompt[prompt.index("In the past (no longer true):") :]
    assert "theo home city: Lisbon (until" in past
    assert prompt.index("Berlin (since") < prompt.index("In the past")


async def test_delete_retracts_and_is_never_shown_as_the_past(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = Brain(
        lambda s: {"operations": [op("ADD", key="pet", value="a cat named Miso")]},
        lambda s: {"operations": [op("DELETE", fact_id=s.facts["pet"])]},
    )
    mind = make_mind(store, llm, tmp_path_factory)
    await talk(mind, "I have a cat named Miso", "I was joking, I have no cat", "Hello again")
    assert await facts_of(store) == []
    [miso] = await facts_of(store, current=False)
    assert (miso.ended_reason, miso.replaced_by) == ("retracted", None)
    assert "Miso" not in system_prompt(llm).split("Things theo and you said")[0]


async def test_profile_is_kept_current_and_always_in_the_prompt(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = Brain(
        {"operations": [], "profile": "Theo writes letters\nfor other people."},
        {"operations": [], "profile": None},  # keep
        {"operations": [], "profile": "x" * 1001},  # too long: refused, the old one stays
    )
    mind = make_mind(store, llm, tmp_path_factory)
    await talk(mind, "I write letters for a living", "ok", "fine", "What do I do?")
    profile = await store.get_profile(await store.get_person("theo"))
    assert profile is not None and profile.text == "Theo writes letters for other people."
    assert "In short: Theo writes letters for other people." in system_prompt(llm)
    assert "Current profile: Theo writes letters" in llm.prompts[-1][-1].content


@pytest.mark.parametrize(
    "answer",
    [
        "I could not find anything worth remembering.",
        '{"operations": [{"op": "ADD", "kind": "fact", "key": "city", "value": "Oslo"}',
        '{"operations": "ADD city Oslo", "profile": null}',
        '[{"op": "ADD", "kind": "fact", "key": "city", "value": "Oslo"}]',
        '{"ops": [{"op": "ADD", "kind": "fact", "key": "city", "value": "Oslo"}]}',
        '{"operations": [], "profile": 42}',
        "",
        "{" * 5000,
    ],
)
async def test_malformed_answers_change_nothing(
    answer: str, store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    theo = await store.ensure_person("theo")
    await store.add_fact(theo, "fact", "city", "Lisbon", [])
    await store.set_profile(theo, "Theo lives in Lisbon.")
    llm = Brain(answer)
    result = await distill(
        llm,
        store,
        theo,
        await _exchange(store, theo, "I moved to Oslo"),
        mind="Samantha",
        name="theo",
    )
    assert result.malformed
    assert [f.value for f in await facts_of(store, current=False)] == ["Lisbon"]
    profile = await store.get_profile(theo)
    assert profile is not None and profile.text == "Theo lives in Lisbon."


async def test_json_wrapped_in_prose_or_a_fence_is_read(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    theo = await store.ensure_person("theo")
    body = {"operations": [op("ADD", key="city", value="Oslo")], "profile": "Theo lives in Oslo."}
    answer = f"Sure! Here is what I found {{}}:\n```json\n{json.dumps(body, indent=2)}\n```\nBye {{"
    result = await distill(
        Brain(answer),
        store,
        theo,
        await _exchange(store, theo, "I live in Oslo"),
        mind="S",
        name="t",
    )
    assert (result.malformed, result.applied, result.profile) == (False, 1, "Theo lives in Oslo.")
    assert [f.value for f in await facts_of(store)] == ["Oslo"]


async def test_invalid_operations_are_skipped_and_the_rest_applied(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    theo = await store.ensure_person("theo")
    bob = await store.ensure_person("bob")
    [bobs_turn] = await _exchange(store, bob, "my PIN is 9931")
    bobs_fact = await store.add_fact(bob, "fact", "pin", "9931", [bobs_turn.id])
    exchange = await _exchange(store, theo, "I live in Oslo and like tea")
    mine = exchange[0].id
    answer = {
        "operations": [
            op("UPDATE", fact_id=9999, value="Bergen"),  # unknown fact
            op("DELETE", fact_id=bobs_fact.id),  # another person's fact
            op("ADD", key="pin", value="9931", source_ids=[bobs_turn.id]),  # another's turn
            op("ADD", key="city", value="x" * 501),  # oversized value
            op("ADD", key="k" * 101, value="Oslo"),  # oversized key
            op("ADD", key="city", value="Oslo\u0000"),  # control character
            op("ADD", key="city", value="Oslo\nBergen"),  # line break
            op("ADD", key="city", value="   "),  # blank
            op("MERGE", key="city", value="Oslo"),  # unknown op
            op("ADD", key="city"),  # no value
            op("ADD", key="city", value="Oslo", source_ids=["1"]),  # no coercion
            op("ADD", key="city", value="Oslo", kind="secret"),  # unknown kind
            "ADD city Oslo",
            op("add", key="city", value="Oslo", source_ids=[mine], reason="said so"),  # valid
        ],
        "profile": None,
    }
    result = await distill(Brain(answer), store, theo, exchange, mind="Samantha", name="theo")
    assert (result.applied, result.skipped) == (1, 13)
    assert [(f.key, f.value, f.source_turn_ids) for f in await facts_of(store)] == [
        ("city", "Oslo", (mine,))
    ]
    assert [f.value for f in await facts_of(store, "bob")] == ["9931"]


def test_check_ops_takes_ids_only_from_the_prompt() -> None:
    now = datetime.now(UTC)
    fact = Fact(7, 1, "fact", "city", "Lisbon", (3,), now)
    exchange = [Turn(10, 1, 1, "user", "I moved", now), Turn(11, 1, 1, "assistant", "Oh!", now)]
    ops, problems = check_ops(
        [
            {"op": "SUPERSEDE", "fact_id": 7, "value": "Berlin", "source_ids": [10, 10]},
            {"op": "DELETE", "fact_id": 7},  # the same fact twice
            {"op": "ADD", "kind": "fact", "key": "x", "value": "y", "source_ids": [3]},
            {"op": "UPDATE", "fact_id": True, "value": "y"},
        ],
        [fact],
        exchange,
    )
    assert [(o.op, o.fact_id, o.value, o.source_ids) for o in ops] == [
        ("SUPERSEDE", 7, "Berlin", (10,))
    ]
    assert len(problems) == 3 and "changed twice" in problems[0] and "source id 3" in problems[1]


def test_parse_answer_finds_the_first_object_of_the_right_shape() -> None:
    text = 'First {"op": "ADD"} then {"operations": [], "profile": "P"} and {"operations": [1]}'
    answer = parse_answer(text)
    assert answer is not None and (answer.operations, answer.profile) == ([], "P")
    assert parse_answer("no json here") is None


# -- in the background -----------------------------------------------------------------------
async def test_the_reply_never_waits_for_distillation(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    gate = asyncio.Event()
    llm = Brain(lambda s: {"operations": [op("ADD", key="city", value="Oslo")]}, gate=gate)
    mind = make_mind(store, llm, tmp_path_factory)
    async with await mind.open("theo") as session:
        reply = await asyncio.wait_for(say(session, "I live in Oslo"), timeout=5)
        assert reply.startswith("I hear you")
        await asyncio.sleep(0.05)
        assert mind.pending == 1 and len(llm.prompts) == 1  # asked, and still thinking
        assert await facts_of(store) == []
        second = await asyncio.wait_for(say(session, "And I like tea"), timeout=5)
        assert second.startswith("I hear you")
    gate.set()
    await mind.settle()
    assert mind.pending == 0
    assert [f.value for f in await facts_of(store)] == ["Oslo"]


async def test_settle_cancels_what_outlasts_the_grace(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = Brain(
        lambda s: {"operations": [op("ADD", key="city", value="Oslo")]}, gate=asyncio.Event()
    )
    mind = make_mind(store, llm, tmp_path_factory)
    async with await mind.open("theo") as session:
        await say(session, "I live in Oslo")
    await mind.settle(0.1)
    assert mind.pending == 0 and await facts_of(store) == []


async def test_distillation_failures_stay_in_the_background(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def failing(messages: list[Message]) -> str:
        if messages[0].content.startswith(MARKER):
            raise LLMUnavailable("cannot reach the language model")
        return echo_reply(messages)

    mind = make_mind(store, FakeLLM(respond=failing), tmp_path_factory)
    logger = logging.getLogger("os1.mind")  # os1's loggers may not propagate to the root
    logger.addHandler(caplog.handler)
    try:
        async with await mind.open("theo") as session:
            assert (await say(session, "I live in Oslo")).startswith("I hear you")
            await mind.settle()
            assert (await say(session, "still there?")).startswith("I hear you")
        await mind.settle()
    finally:
        logger.removeHandler(caplog.handler)
    assert "distillation failed: cannot reach the language model" in caplog.text


async def test_what_is_forgotten_while_the_model_thinks_is_not_distilled(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    gate = asyncio.Event()
    llm = Brain(
        lambda s: {"operations": [], "profile": "Theo's PIN is 9931."},
        gate=gate,
    )
    mind = make_mind(store, llm, tmp_path_factory)
    async with await mind.open("theo") as session:
        await say(session, "my PIN is 9931")
    await asyncio.sleep(0.05)
    theo = await store.get_person("theo")
    assert await store.forget(theo, "PIN 9931") == 2
    gate.set()
    await mind.settle()
    assert await store.get_profile(theo) is None
    assert "9931" not in repr(await store.export(theo))


async def test_forget_drops_distilled_facts_and_the_profile(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = Brain(
        lambda s: {
            "operations": [op("ADD", key="sister_city", value="Lisbon", source_ids=s.said)],
            "profile": "Theo's sister lives in Lisbon.",
        },
        lambda s: {"operations": [op("ADD", key="instrument", value="cello")], "profile": None},
    )
    mind = make_mind(store, llm, tmp_path_factory)
    await talk(mind, "My sister lives in Lisbon", "I play the cello")
    theo = await store.get_person("theo")
    assert await store.get_profile(theo) is not None
    await store.forget(theo, "sister Lisbon")
    assert [f.value for f in await facts_of(store, current=False)] == ["cello"]
    assert await store.get_profile(theo) is None
    assert "Lisbon" not in repr(await store.export(theo))


def test_distilling_is_on_only_with_a_real_model() -> None:
    class Remote(FakeLLM):
        def __init__(self, kind: str, small: bool = False) -> None:
            super().__init__(small=small)
            self.kind = kind

        def describe(self) -> BrainInfo:
            return BrainInfo(kind=self.kind, model="m", detail="", small=self.small)  # type: ignore[arg-type]

    assert distills("auto", Remote("openai")) and distills("auto", Remote("ollama"))
    assert not distills("auto", Remote("ollama", small=True))
    assert not distills("auto", Remote("embedded", small=True))
    assert not distills("auto", FakeLLM()) and not distills("auto", None)
    assert distills("on", FakeLLM()) and not distills("on", None)
    assert not distills("off", Remote("openai"))


async def test_auto_does_not_distill_with_the_fake_brain(
    store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    llm = Brain({"operations": [op("ADD", key="city", value="Oslo")]})
    settings = Settings(home=tmp_path_factory.mktemp("home"), interview=False)
    mind = Mind(store, llm, load_mind("samantha", settings.minds_dir), settings)
    await talk(mind, "I live in Oslo")
    assert llm.prompts == [] and await facts_of(store) == []


async def _exchange(store: SqlStore, person: Person, *texts: str) -> list[Turn]:
    conv = await store.start_conversation(person)
    return [
        await store.add_turn(conv, NewTurn(role="user", content=t, time=datetime.now(UTC)))
        for t in texts
    ]


def test_facts_that_say_the_same_thing_are_shown_once(tmp_path: Path) -> None:
    from os1.mind.context import PromptParts, facts_block

    def fact(i: int, key: str, value: str, kind: str = "fact") -> Fact:
        return Fact(i, 1, kind, key, value, (i,), datetime(2026, 1, i, tzinfo=UTC))

    parts = PromptParts(
        mind=load_mind("samantha", tmp_path),
        person="Theo",
        now=datetime(2026, 2, 1, tzinfo=UTC),
        facts=[
            fact(1, "home_city", "Berlin"),
            fact(2, "home_city", "berlin."),
            fact(3, "pet", "a cat named Miso"),
            fact(4, "home_city", "Berlin", kind="preference"),
        ],
    )
    block = facts_block(parts)
    assert block.count("Berlin") + block.count("berlin") == 2  # the fact, and the preference
    assert "Miso" in block and "berlin." not in block
