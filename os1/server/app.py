"""The ASGI application: ``create_app(settings)`` wires the runtime into FastAPI routes."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy import text

from os1 import __version__
from os1.runtime import open_runtime
from os1.server import (
    a2a,
    a2a_api,
    admin,
    errors,
    facts,
    letters,
    native,
    openai_api,
    voice,
    ws,
)
from os1.server.access import AccessLog
from os1.server.limits import BodyLimit, RateLimiter
from os1.server.schemas import Health, Load
from os1.server.shared import LocalShared, RedisShared, Shared
from os1.server.state import ServerState
from os1.settings import Settings

log = logging.getLogger("os1.server")


async def _shared(settings: Settings, state: ServerState) -> Shared:
    per_minute, burst = settings.rate_limit_per_minute, settings.rate_limit_burst
    if settings.redis_url is None:
        return LocalShared(RateLimiter(per_minute, burst), state.inflight.cancel)
    url = settings.redis_url.get_secret_value()
    return await RedisShared.connect(url, per_minute, burst, state.inflight.cancel)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            runtime = await stack.enter_async_context(open_runtime(settings, server=True))
            state = ServerState(runtime)
            state.shared = await _shared(settings, state)
            stack.push_async_callback(state.shared.close)
            stack.callback(state.renders.close)
            app.state.os1 = state
            if runtime.store.embedder is not None:
                # Load the embedding model and its word neighbours now, not in the first
                # person's first reply (the neighbours take seconds on a machine's first start).
                await runtime.store.embedder.query("ready")
                await runtime.store.word_neighbours()
            log.info("ready", extra={"mind": runtime.mind.spec.name})
            yield
            state.stopping.set()
            log.info("stopping", extra={"replies_in_flight": state.inflight.count})
            await state.settle_minds(settings.shutdown_grace)

    app = FastAPI(
        title="OS1",
        version=__version__,
        summary="An AI companion that remembers each person it talks with.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(openai_api.router)
    app.include_router(native.router)
    app.include_router(facts.router)
    app.include_router(letters.router)
    app.include_router(admin.router)
    app.include_router(ws.router)
    app.include_router(voice.router)
    app.include_router(a2a_api.router)
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        response_model=Health,
        tags=["ops"],
        responses={503: errors.COMMON_RESPONSES[503]},
    )
    a2a.mount(app, settings)  # after every other route: see os1.server.a2a
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    app.add_middleware(AccessLog)  # outermost: refusals by the body limit are logged too
    return app


async def healthz(request: Request) -> Health:
    """Alive and able to reach its database; with this worker's load."""
    state: ServerState = request.app.state.os1
    async with state.runtime.store.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    mind, embedding = state.default_mind, state.runtime.store.embedding
    return Health(
        status="ok",
        load=Load(
            worker=os.getpid(),
            replies_in_flight=state.inflight.count,
            model_in_use=mind.scheduler.in_use,
            model_waiting=mind.scheduler.waiting,
            preparing_waiting=mind.preparing.waiting,
            embedding_pending=embedding.pending if embedding else 0,
            embedding_dropped=embedding.dropped if embedding else 0,
            questions_embedded=embedding.embedded_questions if embedding else 0,
            questions_by_words=embedding.skipped_questions if embedding else 0,
            turns_reusing_question_vectors=embedding.reused if embedding else 0,
        ),
    )
