"""Handlers writing registries of `atlas_runtime.state`: writes, marker and emits commit as one step."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from atlas_runtime.messaging import MessageContext, StateInbox, TopicPartition
from atlas_runtime.state import MemoryBackend, RedisBackend, StateStore
from atlas_runtime.tenant import as_tenant


class Tally(BaseModel):
    """A registry value."""

    n: int


@pytest.fixture
async def store(harness: Any) -> AsyncIterator[StateStore]:
    backend = MemoryBackend() if harness.redis_url is None else RedisBackend.from_url(harness.redis_url)
    state = StateStore(backend, service=f"{harness.prefix}-svc", prefix=harness.prefix)
    try:
        yield state
    finally:
        await state.aclose()


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_registry_writes_and_emits_apply_once_per_message(harness: Any, store: StateStore) -> None:
    """A redelivered message neither re-applies its registry write nor re-emits its event."""
    commands, events = harness.topic("cmd"), harness.topic("evt")
    group = f"{harness.prefix}-state"
    tallies = store.registry("tallies", value_type=Tally, key_type=str)
    runs: list[int] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        runs.append(message.body["n"])
        current = await tallies.get(message.key)
        await tallies.put(message.key, Tally(n=(current.n if current else 0) + message.body["n"]))
        await ctx.emit("EVT", {"type": "ADDED", "body": {"n": message.body["n"]}, "key": message.key})

    async def consume_all() -> dict[str, int]:
        messaging = harness.messaging({"CMD": commands, "EVT": events}, group=group, state=store)
        assert isinstance(messaging.inbox, StateInbox)
        consumer = messaging.consumer(commit_interval=0.05)
        consumer.subscribe("CMD", harness.envelope, {"ADD": handle})
        await messaging.start()
        tp = TopicPartition(commands, 0)
        await harness.eventually(lambda: _is(harness.committed(group, tp), 3), timeout=20)
        await messaging.stop()
        return consumer.stats

    sender = harness.messaging({"CMD": commands})
    with as_tenant(harness.tenant):
        for n in (1, 2, 3):
            await sender.producer.emit("CMD", {"type": "ADD", "body": {"n": n}, "key": "k"})
    assert (await consume_all())["handled"] == 3
    await harness.rewind(group, TopicPartition(commands, 0), 0)
    assert (await consume_all())["duplicates"] == 3
    with as_tenant(harness.tenant):
        assert await tallies.get("k") == Tally(n=6)
    await asyncio.sleep(0.5)
    emitted = await harness.read(events, 3)
    assert sorted(json.loads(r.value or b"")["body"]["n"] for r in emitted) == [1, 2, 3]
    assert runs == [1, 2, 3]
