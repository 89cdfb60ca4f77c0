"""What the server holds while it runs: the runtime, minds by model name, replies in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fastapi import Request

from os1.errors import NotFoundError
from os1.mind.conversation import Mind
from os1.mind.persona import all_minds, load_mind
from os1.runtime import Runtime
from os1.server.renders import Renders
from os1.server.shared import Shared


@dataclass
class InFlight:
    """Replies being generated, by conversation, each with an event that cancels it."""

    _cancels: dict[int, set[asyncio.Event]] = field(default_factory=dict)
    #: Set whenever no reply is being written.
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()

    @contextmanager
    def reply(self, conversation_id: int) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._cancels.setdefault(conversation_id, set()).add(event)
        self.idle.clear()
        try:
            yield event
        finally:
            events = self._cancels.get(conversation_id, set())
            events.discard(event)
            if not events:
                self._cancels.pop(conversation_id, None)
            if not self._cancels:
                self.idle.set()

    def cancel(self, conversation_id: int) -> bool:
        events = self._cancels.get(conversation_id, set())
        for event in events:
            event.set()
        return bool(events)

    def cancel_all(self) -> None:
        for conversation_id in list(self._cancels):
            self.cancel(conversation_id)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self._cancels.values())


@dataclass
class ServerState:
    runtime: Runtime
    inflight: InFlight = field(default_factory=InFlight)
    #: Rate limits and cancels, agreed among workers (set up by the app at start).
    shared: Shared = field(init=False)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: Letters rendered to PNG or PDF, one at a time in a process of their own (see
    #: :mod:`os1.server.renders`).
    renders: Renders = field(default_factory=Renders)
    _minds: dict[str, Mind] = field(default_factory=dict)

    def model_names(self) -> list[str]:
        settings = self.runtime.settings
        return all_minds(settings.minds_dir)

    def mind(self, model: str) -> Mind:
        """The mind a model name stands for; NotFoundError for names that are not minds."""
        if model not in self._minds:
            if model not in self.model_names():
                raise NotFoundError(f"the model {model!r} does not exist; see GET /v1/models")
            runtime = self.runtime
            spec = load_mind(model, runtime.settings.minds_dir)
            self._minds[model] = Mind(
                runtime.store,
                runtime.llm,
                spec,
                runtime.settings,
                runtime.mind.scheduler,
                runtime.mind.preparing,
            )
        return self._minds[model]

    @property
    def default_mind(self) -> Mind:
        return self.runtime.mind

    async def settle_minds(self, grace: float) -> None:
        """Let the minds' background distillations finish, cancelling them after ``grace``
        seconds (the default mind is settled when the runtime closes)."""
        await asyncio.gather(*(m.settle(grace) for m in self._minds.values()))


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.os1
    return state
