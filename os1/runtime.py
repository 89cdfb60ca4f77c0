"""Wiring: settings in, a ready store, brain and mind out. Used by the CLI (and the server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from os1.memory.db import make_engine, migrate
from os1.memory.embed import E5Embedder, Embedder, MiniLMEmbedder
from os1.memory.store import SqlStore
from os1.mind.brains import choose_brain
from os1.mind.conversation import Mind
from os1.mind.llm import LLM
from os1.mind.persona import load_mind
from os1.settings import Settings


def make_embedder(settings: Settings) -> Embedder | None:
    if settings.embedder == "minilm":
        return MiniLMEmbedder(cache=settings.model_cache)
    if settings.embedder == "e5":
        return E5Embedder()
    return None


@asynccontextmanager
async def open_store(settings: Settings, *, server: bool = False) -> AsyncIterator[SqlStore]:
    """The store, migrated to the newest schema; closed on exit. A server's store keeps its
    embedding to ``OS1_EMBED_SHARE`` of the time; a command's, serving one person, does not."""
    engine = make_engine(settings.resolved_database_url)
    try:
        await migrate(engine)
        store = SqlStore(
            engine,
            make_embedder(settings),
            index_budget_bytes=settings.recall_cache_mb * 2**20,
            embed_share=settings.embed_share if server else 1.0,
        )
        try:
            yield store
        finally:
            await store.close(settings.shutdown_grace)
    finally:
        await engine.dispose()


@dataclass
class Runtime:
    settings: Settings
    store: SqlStore
    llm: LLM | None
    mind: Mind


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, brain: bool = True, server: bool = False
) -> AsyncIterator[Runtime]:
    """Store, brain (``None`` when offline or not wanted) and mind, all closed on exit."""
    spec = load_mind(settings.mind, settings.minds_dir)
    async with open_store(settings, server=server) as store:
        llm = await choose_brain(settings) if brain else None
        mind = Mind(store, llm, spec, settings)
        try:
            yield Runtime(settings, store, llm, mind)
        finally:
            try:
                # Distillations still running get the shutdown grace, then are cancelled.
                await mind.settle(settings.shutdown_grace)
            finally:
                if llm is not None:
                    await llm.aclose()
