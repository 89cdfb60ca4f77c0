"""Federation's pure core: guards, envelopes, what a person asks for, what may be shared."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from os1.federation import consult, envelope, privacy
from os1.federation.errors import Refusal
from os1.federation.guards import Guard, Limits
from os1.memory.models import Fact


def _refused(guard: Guard, *args: object) -> str:
    with pytest.raises(Refusal) as caught:
        guard.admit(*args)  # type: ignore[arg-type]
    return caught.value.kind


def test_guards_in_order() -> None:
    guard = Guard(Limits(max_turns=2, max_tokens=60, max_hops=1, max_chars=100, per_minute=6000))
    assert _refused(guard, 1, "m0", "x", " ", 0) == "invalid"
    assert _refused(guard, 1, "m0", "x", "y" * 101, 0) == "too_long"
    assert _refused(guard, 1, "m0", "x", "hi", 2) == "hops"
    guard.admit(1, "m1", "x", "hello", 1)
    assert _refused(guard, 1, "m1", "x", "hello", 0) == "duplicate"
    guard.admit(2, "m1", "x", "the same id from another peer is another message", 0)
    guard.admit(1, "m2", "x", "second", 0)
    assert _refused(guard, 1, "m3", "x", "third", 0) == "budget"  # turns
    guard.admit(1, "m4", "y", "new exchange", 0)
    guard.spend(1, "y", "z" * 400)
    assert _refused(guard, 1, "m5", "y", "too costly now", 0) == "budget"  # tokens


def test_rate_limit_is_per_peer() -> None:
    guard = Guard(Limits(per_minute=1, burst=2))
    guard.admit(1, "a", "x1", "one", 0)
    guard.admit(1, "b", "x2", "two", 0)
    with pytest.raises(Refusal) as caught:
        guard.admit(1, "c", "x3", "three", 0)
    assert caught.value.kind == "rate" and caught.value.retry_after == 60
    guard.admit(2, "c", "x3", "another peer is not held back", 0)


def test_envelope() -> None:
    assert envelope.parse({}) == envelope.Envelope()
    got = envelope.parse({"os1": {"hop": 1, "mind": "Samantha", "extra": True}})
    assert got.hop == 1 and got.relayed().hop == 2
    assert got.to_metadata() == {"os1": {"hop": 1, "mind": "Samantha"}}
    for bad in ({"os1": "x"}, {"os1": {"hop": -1}}, {"os1": {"hop": "lots"}}):
        with pytest.raises(Refusal, match=r"metadata\.os1"):
            envelope.parse(bad)


def test_what_a_person_asks_for() -> None:
    peers = ["athena", "b"]
    assert consult.parse("ask athena: what is love?", peers) == consult.Request(
        "athena", "what is love?"
    )
    assert consult.parse("/consult @B how are you", peers) == consult.Request("b", "how are you")
    assert consult.parse("Introduce me to Athena!", peers) == consult.Request(
        "athena", "", introduce=True
    )
    assert consult.parse("ask zeus something", peers) is None
    assert consult.parse("I will ask athena later", peers) is None
    intro = consult.question_for(consult.Request("athena", "", True), "Samantha", None)
    assert "someone I talk with" in intro and "Samantha" in intro


def test_shared_notes_only_hold_what_was_allowed() -> None:
    now = datetime.now(UTC)
    fact = Fact(1, 1, "fact", "working_on", "a novel", (1,), now)
    assert privacy.notes([], "athena") == []
    lines = privacy.notes([privacy.Shared("ana", "Ana writes.", [fact])], "athena")
    assert lines[1] == "- ana (shared with permission): Ana writes."
    assert lines[2] == "- ana is working on a novel (shared with permission)"
