"""The inbox on Redis and in memory: once per message id, effects atomic, conflicts re-run the handler."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from atlas_runtime.messaging import (
    InboxScope,
    MemoryInbox,
    MemoryStore,
    OutboundMessage,
    OutboxRelay,
    Outcome,
    RedisInbox,
    Unit,
)


class InboxCase:
    """An inbox plus a way to write behind its back and to read what it committed."""

    def __init__(self, kind: str, redis: Redis | None) -> None:
        self.kind = kind
        self.redis = redis
        self.prefix = f"inbox{uuid.uuid4().hex[:10]}"
        self.published: list[OutboundMessage] = []
        self.store = MemoryStore()
        if redis is None:
            self.inbox: Any = MemoryInbox(self._publish, store=self.store)
        else:
            self.inbox = RedisInbox(redis, outbox_key=f"{self.prefix}:outbox", prefix=self.prefix)

    async def _publish(self, messages: list[OutboundMessage]) -> None:
        self.published.extend(messages)

    async def write(self, key: str, value: str) -> None:
        if self.redis is None:
            self.store.write(key, value)
        else:
            await self.redis.set(key, value)

    async def read(self, key: str) -> str | None:
        if self.redis is None:
            return self.store.get(key)
        value = await self.redis.get(key)
        return None if value is None else value.decode()


@pytest.fixture(params=["memory", "redis"])
async def case(request: pytest.FixtureRequest) -> AsyncIterator[InboxCase]:
    redis = Redis.from_url(request.getfixturevalue("redis_url")) if request.param == "redis" else None
    c = InboxCase(request.param, redis)
    try:
        yield c
    finally:
        if redis is not None:
            keys = [k async for k in redis.scan_iter(f"*{c.prefix}*", count=1000)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


SCOPE = InboxScope("group", "tenant")


async def test_a_message_id_runs_its_handler_once(case: InboxCase) -> None:
    """The second process() of a message id reports a duplicate without running the handler."""
    key = f"{case.prefix}:n"
    runs: list[int] = []

    async def handler(unit: Unit) -> None:
        runs.append(1)
        unit.incr(key)

    assert await case.inbox.process(SCOPE, "m1", handler) is Outcome.PROCESSED
    assert await case.inbox.process(SCOPE, "m1", handler) is Outcome.DUPLICATE
    assert await case.inbox.process(InboxScope("group", "other-tenant"), "m1", handler) is Outcome.PROCESSED
    assert (len(runs), await case.read(key)) == (2, "2")


async def test_a_failing_handler_applies_nothing_and_may_run_again(case: InboxCase) -> None:
    """Staged writes and emits of a handler that raises are dropped, and no marker is left."""
    key = f"{case.prefix}:n"

    async def failing(unit: Unit) -> None:
        unit.incr(key)
        unit.emit(OutboundMessage("t", None, b"v"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await case.inbox.process(SCOPE, "m2", failing)
    assert await case.read(key) is None
    assert case.published == []

    async def succeeding(unit: Unit) -> None:
        unit.incr(key)

    assert await case.inbox.process(SCOPE, "m2", succeeding) is Outcome.PROCESSED
    assert await case.read(key) == "1"


async def test_a_concurrent_write_to_a_read_key_re_runs_the_handler(case: InboxCase) -> None:
    """A key read by the handler and changed before commit makes the handler run again on fresh data."""
    key = f"{case.prefix}:balance"
    await case.write(key, "5")
    runs: list[str | None] = []

    async def handler(unit: Unit) -> None:
        value = await unit.get(key)
        runs.append(value)
        if len(runs) == 1:
            await case.write(key, "10")  # another writer commits in between
        unit.set(key, str(int(value or 0) + 1))

    assert await case.inbox.process(SCOPE, "m3", handler) is Outcome.PROCESSED
    assert runs == ["5", "10"]
    assert await case.read(key) == "11"


async def test_redis_emits_wait_in_the_outbox_until_relayed(redis_url: str) -> None:
    """Emits of a committed handler sit in the Redis outbox; the relay sends them in order and trims."""
    redis = Redis.from_url(redis_url)
    prefix = f"outbox{uuid.uuid4().hex[:10]}"
    inbox = RedisInbox(redis, outbox_key=f"{prefix}:outbox", prefix=prefix)
    sent: list[OutboundMessage] = []

    async def send(message: OutboundMessage) -> None:
        sent.append(message)

    relay = OutboxRelay(redis, f"{prefix}:outbox", send)

    async def handler(unit: Unit) -> None:
        for n in range(3):
            unit.emit(OutboundMessage("events", b"k", str(n).encode(), [("H", b"\x00\x01")]))

    try:
        await inbox.process(SCOPE, "m", handler)
        assert await redis.llen(f"{prefix}:outbox") == 3
        assert await relay.relay_once() == 3
        assert [m.value for m in sent] == [b"0", b"1", b"2"]
        assert sent[0].headers == [("H", b"\x00\x01")] and sent[0].key == b"k"
        assert await redis.llen(f"{prefix}:outbox") == 0
        other = OutboxRelay(redis, f"{prefix}:outbox", send)
        await handler_commit(inbox, handler)
        assert await other.relay_once() == 0  # the lease belongs to the first relay
        assert await relay.relay_once() == 3
    finally:
        keys = [k async for k in redis.scan_iter(f"*{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def handler_commit(inbox: RedisInbox, handler: Any) -> None:
    await inbox.process(SCOPE, "m-again", handler)
