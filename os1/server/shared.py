"""State that every worker process must agree on: rate limits and cancellation.

With one process (no ``OS1_REDIS_URL``) it lives in memory. With several workers behind a load
balancer it lives in Redis: a token bucket per person, updated atomically by a Lua script, so a
person's messages are counted once whichever worker receives them; and a cancel published on a
channel every worker listens to, so a reply is stopped by whichever worker is generating it.
Which conversations have a reply being written is counted by each worker, which copies its
counts into a hash of its own in Redis, every change in order, and rewrites the whole hash every
few seconds while it has replies in progress: a change Redis missed, or marks Redis lost, are
put right at the next rewrite, and the hash expires unless renewed, so the marks of a worker
that died go with it. The conversations themselves, and who is in one right now, are in the
database already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from os1.errors import StorageError
from os1.server.limits import RateLimiter

log = logging.getLogger("os1.server")

CANCEL_CHANNEL = "os1:cancel"
#: The workers that have had a reply in progress (``INFLIGHT_KEY:workers``), and each one's
#: marks (``INFLIGHT_KEY:<worker>``, a hash of conversation id to replies in progress).
INFLIGHT_KEY = "os1:inflight"
#: Seconds a worker's marks outlive its last renewal; it renews them a third of that apart
#: while it has a reply in progress.
INFLIGHT_TTL_S = 30.0

#: KEYS[1] the bucket; ARGV: burst, rate per second. Returns 0 or seconds to wait. The time is
#: Redis's own, the same for every worker.
TOKEN_BUCKET = """
redis.replicate_commands()  -- writes after TIME (the default from Redis 5 on)
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return wait
"""

#: KEYS[1] a worker's marks, KEYS[2] the set of workers; ARGV: seconds the marks live, the
#: worker, 1 to replace all the worker's marks with those given (0: change only those), then
#: pairs of conversation id and replies in progress there (0: none). The set lives at least as
#: long as any worker's marks in it.
SYNC = """
if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) end
for i = 4, #ARGV, 2 do
  if tonumber(ARGV[i + 1]) > 0 then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  else
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[2])
  if redis.call('TTL', KEYS[2]) < tonumber(ARGV[1]) then
    redis.call('EXPIRE', KEYS[2], ARGV[1])
  end
end
return 1
"""

#: KEYS[1] the set of workers; ARGV: conversation id, the prefix of the workers' marks.
#: Returns 1 if some worker is writing a reply in the conversation. A worker whose marks have
#: expired leaves the set, in the same step, so one starting a reply meanwhile is never lost.
#: The marks' keys are made from the set's members, so this takes one Redis, not a cluster.
WRITING = """
local found = 0
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local marks = ARGV[2] .. ':' .. worker
  if redis.call('EXISTS', marks) == 0 then
    redis.call('SREM', KEYS[1], worker)
  elseif (tonumber(redis.call('HGET', marks, ARGV[1])) or 0) > 0 then
    found = 1
  end
end
return found
"""


class Shared(Protocol):
    async def check(self, key: str) -> int | None:
        """None if a request under ``key`` may go ahead, else seconds to wait."""

    async def replying(self, conversation_id: int, started: bool) -> None:
        """Say that a reply in the conversation started (True) or ended (False) here."""

    async def cancel(self, conversation_id: int) -> bool:
        """Cancel the conversation's reply wherever it is being written; True if there was one."""

    async def close(self) -> None: ...


class LocalShared:
    """One process: everything in memory."""

    def __init__(self, limiter: RateLimiter, cancel_here: Callable[[int], bool]) -> None:
        self.limiter = limiter
        self._cancel_here = cancel_here

    async def check(self, key: str) -> int | None:
        return self.limiter.check(key)

    async def replying(self, conversation_id: int, started: bool) -> None:
        return None

    async def cancel(self, conversation_id: int) -> bool:
        return self._cancel_here(conversation_id)

    async def close(self) -> None:
        return None


class RedisShared:
    """Several workers: rate limits and cancels through Redis."""

    def __init__(
        self,
        client: Any,
        per_minute: float,
        burst: int,
        cancel_here: Callable[[int], bool],
    ) -> None:
        self.redis = client
        self.rate = per_minute / 60.0
        self.burst = burst
        self._cancel_here = cancel_here
        self._bucket = client.register_script(TOKEN_BUCKET)
        self._sync = client.register_script(SYNC)
        self._writing = client.register_script(WRITING)
        self._listener: asyncio.Task[None] | None = None
        self.worker = uuid.uuid4().hex
        self._marks = f"{INFLIGHT_KEY}:{self.worker}"
        #: Replies in progress here by conversation: what Redis is brought to hold.
        self._counts: dict[int, int] = {}
        #: Conversations whose count changed since Redis was last told, whether to rewrite all
        #: of them next time, and the callers waiting for Redis to have their change.
        self._changed: set[int] = set()
        self._whole = False
        self._waiting: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        #: The one task that writes the marks, in order, while there is anything to write.
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def connect(
        cls, url: str, per_minute: float, burst: int, cancel_here: Callable[[int], bool]
    ) -> RedisShared:
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        # Past this many commands in flight, the next waits for a connection (up to
        # REDIS_WAIT_S) instead of failing: thousands of people may connect at once.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=REDIS_CONNECTIONS,
            timeout=REDIS_WAIT_S,
            socket_connect_timeout=REDIS_ANSWER_S,
            socket_timeout=REDIS_ANSWER_S,  # a Redis that stops answering frees the connection
        )
        client = aioredis.Redis.from_pool(pool)  # closing the client closes the pool
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise StorageError(f"cannot reach Redis at {url}: {exc}") from exc
        shared = cls(client, per_minute, burst, cancel_here)
        await shared._listen()
        return shared

    async def check(self, key: str) -> int | None:
        async with _reaching_redis():
            wait = int(await self._bucket(keys=[f"os1:rate:{key}"], args=[self.burst, self.rate]))
        return wait or None

    async def replying(self, conversation_id: int, started: bool) -> None:
        """Count the reply here, then wait until Redis holds the count. A start that fails (or
        is cancelled) is taken back; an end counts here whatever Redis said, and a later write
        puts Redis right."""
        if self._closed:
            if started:
                raise StorageError("shared state closed: stopping")
            return
        self._count(conversation_id, 1 if started else -1)
        try:
            await self._written()
        except BaseException:
            if started:  # the reply does not start
                self._count(conversation_id, -1)
            raise

    def _count(self, conversation_id: int, change: int) -> None:
        left = self._counts.get(conversation_id, 0) + change
        if left > 0:
            self._counts[conversation_id] = left
        else:
            self._counts.pop(conversation_id, None)
        self._changed.add(conversation_id)

    async def _written(self) -> None:
        """Wait until Redis holds this worker's counts as they are now."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(done)
        self._wake.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        async with _reaching_redis():
            await done

    async def _write(self) -> None:
        """Copy the counts into Redis: the changes as callers wait for them, one write at a
        time so they land in order, and all of them every third of the marks' lifetime while
        there are replies in progress (or changes Redis has yet to take)."""
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + INFLIGHT_TTL_S / 3
        while self._waiting or self._counts or self._changed:
            if not self._waiting:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, renew_at - loop.time()))
                if not self._waiting and loop.time() < renew_at:
                    continue
            if loop.time() >= renew_at:
                self._whole = True
                renew_at = loop.time() + INFLIGHT_TTL_S / 3
            self._wake.clear()
            waiting, self._waiting = self._waiting, []
            whole, self._whole = self._whole, False
            changed, self._changed = self._changed, set()
            counts = dict(self._counts) if whole else {c: self._counts.get(c, 0) for c in changed}
            args: list[object] = [_ttl(), self.worker, 1 if whole else 0]
            for conversation_id, count in counts.items():
                args += [conversation_id, count]
            try:
                await self._sync(keys=[self._marks, INFLIGHT_KEY + ":workers"], args=args)
            except asyncio.CancelledError:  # closing
                for done in waiting:
                    if not done.done():
                        done.set_exception(StorageError("shared state closed: stopping"))
                raise
            except Exception as exc:  # Redis out of reach: try again at the next write
                self._whole = self._whole or whole
                self._changed |= changed
                for done in waiting:
                    if not done.done():
                        done.set_exception(exc)
                if not waiting:
                    log.warning(
                        "could not renew the replies-in-progress marks", extra={"error": str(exc)}
                    )
            else:
                for done in waiting:
                    if not done.done():
                        done.set_result(None)

    async def cancel(self, conversation_id: int) -> bool:
        """Stop the conversation's reply, here or on whichever worker is writing it. A worker
        whose marks have expired (it died) is forgotten."""
        here = self._cancel_here(conversation_id)
        async with _reaching_redis():
            elsewhere = bool(
                await self._writing(
                    keys=[INFLIGHT_KEY + ":workers"], args=[conversation_id, INFLIGHT_KEY]
                )
            )
            if elsewhere:
                await self.redis.publish(CANCEL_CHANNEL, str(conversation_id))
        return here or elsewhere

    async def _listen(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CANCEL_CHANNEL)

        async def run() -> None:
            try:
                async for message in _messages(pubsub):
                    with contextlib.suppress(ValueError, TypeError):
                        self._cancel_here(int(message["data"]))
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

        self._listener = asyncio.create_task(run())

    async def close(self) -> None:
        """Stop listening and writing marks, take this worker's marks out of Redis (a reply
        still running here is being cancelled by the server's stop), and disconnect."""
        if self._closed:
            return
        self._closed = True
        for task in (self._listener, self._writer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for done in self._waiting:
            if not done.done():
                done.set_exception(StorageError("shared state closed: stopping"))
        with contextlib.suppress(Exception):
            await self.redis.delete(self._marks)
            await self.redis.srem(INFLIGHT_KEY + ":workers", self.worker)
        await self.redis.aclose()


#: Connections each worker keeps to Redis at most, and seconds a command waits for one.
REDIS_CONNECTIONS = 64
REDIS_WAIT_S = 10.0
#: Seconds Redis has to answer a command (or accept a connection).
REDIS_ANSWER_S = 10.0


@contextlib.asynccontextmanager
async def _reaching_redis() -> AsyncIterator[None]:
    """Redis failing or out of reach is a storage error (503), not a crash of the request."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError) as exc:
        raise StorageError(f"shared state (Redis) unavailable: {exc}") from exc


def _ttl() -> int:
    return max(1, round(INFLIGHT_TTL_S))


async def _messages(pubsub: Any) -> AsyncIterator[dict[str, Any]]:
    while True:
        message = await pubsub.get_message(timeout=1.0)
        if message is not None:
            yield message
