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


async def _add(tallies: Any, message: Any) -> None:
    """Add the message's `n` to the tally of its key: a read-modify-write through the registry."""
    current = await tallies.get(message.key)
    await tallies.put(message.key, Tally(n=(current.n if current else 0) + message.body["n"]))


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
        await _add(tallies, message)
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


async def _send(harness: Any, topic: str, commands: list[dict[str, Any]]) -> None:
    sender = harness.messaging({"CMD": topic})
    with as_tenant(harness.tenant):
        for command in commands:
            await sender.producer.emit("CMD", command)


async def _consume(
    harness: Any, store: StateStore, topic: str, handle: Any, expected: int, **subscription: Any
) -> tuple[dict[str, int], list[int]]:
    """Consume `topic` until `expected` offsets are committed; the stats and the size of each batch."""
    group = f"{harness.prefix}-batch"
    messaging = harness.messaging({"CMD": topic}, group=group, state=store)
    inbox = messaging.inbox
    assert isinstance(inbox, StateInbox)
    batches: list[int] = []
    process_batch = inbox.process_batch

    async def recording(scope: Any, items: Any, **options: Any) -> Any:
        batches.append(len(items))
        return await process_batch(scope, items, **options)

    inbox.process_batch = recording  # type: ignore[method-assign]
    consumer = messaging.consumer(commit_interval=0.05)
    consumer.subscribe("CMD", harness.envelope, {"ADD": handle}, **subscription)
    await messaging.start()
    tp = TopicPartition(topic, 0)
    await harness.eventually(lambda: _is(harness.committed(group, tp), expected), timeout=30)
    await messaging.stop()
    return consumer.stats, batches


async def test_queued_messages_commit_together_and_see_each_others_writes(
    harness: Any, store: StateStore
) -> None:
    """Messages queued together run as one batch: each handler reads what the one before it wrote."""
    topic = harness.topic("batch")
    tallies = store.registry("tallies", value_type=Tally, key_type=str)
    runs: list[int] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        runs.append(message.body["n"])
        await _add(tallies, message)

    commands = [
        {"type": "ADD", "body": {"n": n}, "key": "k", "transaction_id": f"t{n}"} for n in range(1, 41)
    ]
    commands.insert(20, commands[5])  # a copy of an earlier message in the same run: handled once
    await _send(harness, topic, commands)
    stats, batches = await _consume(harness, store, topic, handle, 41, dedupe="transaction_id")
    assert max(batches) > 1
    assert stats == {"handled": 40, "duplicates": 1, "dead_lettered": 0}
    assert sorted(runs) == list(range(1, 41))
    with as_tenant(harness.tenant):
        assert await tallies.get("k") == Tally(n=sum(range(1, 41)))


async def test_a_failing_message_leaves_the_rest_of_its_batch_applied_once(
    harness: Any, store: StateStore
) -> None:
    """A handler failing inside a batch discards the batch; its messages then run one by one.

    The failed run in the batch counts as the failing message's first attempt.
    """
    topic = harness.topic("batch-fail")
    tallies = store.registry("tallies", value_type=Tally, key_type=str)
    failures: list[int] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        if message.body["n"] == 5:
            failures.append(ctx.attempt)
            raise RuntimeError("message 5 always fails")
        await _add(tallies, message)

    await _send(harness, topic, [{"type": "ADD", "body": {"n": n}, "key": "k"} for n in range(1, 11)])
    retry = {"attempts": 2, "initial": 0.01, "max": 0.02}
    stats, batches = await _consume(harness, store, topic, handle, 10, retry=retry)
    assert max(batches) > 1
    assert stats == {"handled": 9, "duplicates": 0, "dead_lettered": 1}
    with as_tenant(harness.tenant):
        assert await tallies.get("k") == Tally(n=sum(range(1, 11)) - 5)
    dead = await harness.read(topic + ".DLT", 1)
    assert json.loads(dead[0].value or b"")["body"] == {"n": 5}
    assert failures == [1, 2] and dict(dead[0].headers)["DLT_ATTEMPTS"] == b"2"
