"""Emits, draining, partition concurrency and group sharing, on Kafka + Redis and on the in-process bus."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from atlas_runtime.messaging import MessageContext, TopicPartition, TraceContext, bind_trace, partition_for
from atlas_runtime.tenant import as_tenant


def _cmd(type_: str, n: int, key: str = "k") -> dict[str, Any]:
    return {"type": type_, "body": {"n": n}, "key": key}


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_emits_are_published_only_when_the_handler_commits(harness: Any) -> None:
    """Emits of a failed attempt are discarded; the committed attempt's emit carries tenant and trace."""
    commands, events = harness.topic("cmd"), harness.topic("evt")
    messaging = harness.messaging({"CMD": commands, "EVT": events})
    messaging.producer.declare("EVT", harness.envelope, key="key")

    async def handle(ctx: MessageContext, message: Any) -> None:
        await ctx.emit("EVT", _cmd("DONE", ctx.attempt, message.key))
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails after emitting")

    consumer = messaging.consumer()
    consumer.subscribe(
        "CMD", harness.envelope, {"DO": handle}, retry={"attempts": 3, "initial": 0.01, "max": 0.01}
    )
    await messaging.start()
    trace = TraceContext.new()
    with as_tenant(harness.tenant), bind_trace(trace):
        await messaging.producer.emit("CMD", _cmd("DO", 0, "p-7"))
    [event] = await harness.read(events, 1)
    await asyncio.sleep(0.5)
    assert len(await harness.read(events, 1, timeout=1)) == 1
    assert json.loads(event.value or b"")["body"] == {"n": 2}
    assert event.key == b"p-7"
    assert dict(event.headers)["TENANT_ID"] == str(harness.tenant.id).encode()
    received = TraceContext.from_headers(event.headers)
    assert received is not None and received.trace_id == trace.trace_id


async def test_stop_drains_the_in_flight_handler_and_commits_it(harness: Any) -> None:
    """stop() waits for the running handler to finish and commits its offset before closing."""
    topic = harness.topic("drain")
    messaging = harness.messaging({"CMD": topic})
    started, finished = asyncio.Event(), asyncio.Event()

    async def handle(ctx: MessageContext, message: Any) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.set()

    consumer = messaging.consumer(commit_interval=60)
    consumer.subscribe("CMD", harness.envelope, {"DO": handle})
    await messaging.start()
    with as_tenant(harness.tenant):
        await messaging.producer.emit("CMD", _cmd("DO", 0))
    await asyncio.wait_for(started.wait(), 30)
    await messaging.stop()
    assert finished.is_set()
    assert await harness.committed(consumer.group, TopicPartition(topic, 0)) == 1


async def test_a_stuck_partition_does_not_hold_up_the_others(harness: Any) -> None:
    """While one partition's handler is blocked or backing off, other partitions keep being handled."""
    topic = harness.topic("parallel", partitions=2)
    messaging = harness.messaging({"CMD": topic})
    messaging.producer.declare("CMD", harness.envelope, key="key")
    release = asyncio.Event()
    handled: list[tuple[int, int]] = []
    blocked_partition: list[int] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        if message.body["n"] == 0:
            blocked_partition.append(ctx.record.partition)
            if ctx.attempt == 1:
                raise RuntimeError("back off")
            await release.wait()
        handled.append((ctx.record.partition, message.body["n"]))

    consumer = messaging.consumer()
    consumer.subscribe(
        "CMD", harness.envelope, {"DO": handle}, retry={"attempts": 3, "initial": 0.5, "max": 0.5}
    )
    await messaging.start()
    with as_tenant(harness.tenant):
        await messaging.producer.emit("CMD", _cmd("DO", 0, "blocked"))
        for n in range(1, 41):
            await messaging.producer.emit("CMD", _cmd("DO", n, f"other-{n}"))
    await harness.eventually(lambda: len(blocked_partition) == 2)
    stuck = blocked_partition[0]
    others = [n for n in range(1, 41) if partition_for(f"other-{n}".encode(), 2) != stuck]
    await harness.eventually(lambda: {n for _, n in handled} >= set(others))
    assert others and all(p != stuck for p, _ in handled)
    release.set()
    await harness.eventually(lambda: len(handled) == 41)


async def test_two_consumers_share_partitions_and_apply_each_message_once(harness: Any) -> None:
    """Two members of one group split the partitions; every message's effect is applied once."""
    topic = harness.topic("shared", partitions=4)
    group = f"{harness.prefix}-shared"
    handled_by: dict[str, list[int]] = {"a": [], "b": []}

    def handler(name: str) -> Any:
        async def handle(ctx: MessageContext, message: Any) -> None:
            handled_by[name].append(message.body["n"])
            ctx.unit.incr(f"{harness.prefix}:shared:{message.body['n']}")

        return handle

    members = []
    for name in ("a", "b"):
        messaging = harness.messaging({"CMD": topic}, group=group)
        consumer = messaging.consumer(commit_interval=0.05)
        consumer.subscribe("CMD", harness.envelope, {"DO": handler(name)})
        await messaging.start()
        members.append(messaging)
    await asyncio.sleep(0.5 if harness.kind == "memory" else 6)  # let the group settle
    messaging = members[0]
    messaging.producer.declare("CMD", harness.envelope, key="key")
    with as_tenant(harness.tenant):
        await asyncio.gather(*(messaging.producer.emit("CMD", _cmd("DO", n, f"k{n}")) for n in range(200)))
    await harness.eventually(lambda: len(set(handled_by["a"]) | set(handled_by["b"])) == 200)
    assert handled_by["a"] and handled_by["b"]
    assert not set(handled_by["a"]) & set(handled_by["b"])


async def test_unlisted_types_are_acknowledged_and_skipped(harness: Any) -> None:
    """A message whose type has no handler is committed without running anything or dead-lettering."""
    topic = harness.topic("skip")
    messaging = harness.messaging({"CMD": topic})
    handled: list[int] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        handled.append(message.body["n"])

    consumer = messaging.consumer(commit_interval=0.05)
    consumer.subscribe("CMD", harness.envelope, {"DO": handle})
    await messaging.start()
    with as_tenant(harness.tenant):
        await messaging.producer.emit("CMD", _cmd("OTHER", 1))
        await messaging.producer.emit("CMD", _cmd("DO", 2))
    await harness.eventually(lambda: _is(harness.committed(consumer.group, TopicPartition(topic, 0)), 2))
    assert handled == [2]
    assert consumer.stats["dead_lettered"] == 0


@pytest.mark.parametrize("idle_fetch", [3600.0, 0.1])
async def test_fetching_waits_while_the_backlog_is_full(harness: Any, idle_fetch: float) -> None:
    """With `max_backlog` records queued, the consumer stops fetching instead of pausing partitions.

    Only a consumer left waiting for `idle_fetch` fetches anyway (to stay in its group), and
    then a partition whose queue reaches `max_buffered` is paused. Everything is handled once
    the handlers move again.
    """
    topic = harness.topic("gate")
    gate = asyncio.Event()
    handled: list[int] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        await gate.wait()
        handled.append(message.body["n"])

    messaging = harness.messaging({"CMD": topic})
    messaging.producer.declare("CMD", harness.envelope, key="key")
    with as_tenant(harness.tenant):
        await asyncio.gather(*(messaging.producer.emit("CMD", _cmd("DO", n)) for n in range(300)))
    consumer = messaging.consumer(
        source_options={"batch": 20}, max_backlog=50, max_buffered=120, idle_fetch=idle_fetch
    )
    consumer.subscribe("CMD", harness.envelope, {"DO": handle}, idempotent=False)
    await messaging.start()
    await harness.eventually(lambda: sum(consumer.queued.values()) >= 50)
    await asyncio.sleep(1.5)
    queued = sum(consumer.queued.values())
    if idle_fetch > 60:
        assert 50 <= queued < 50 + 20  # one fetch of 20 may overshoot the backlog, no more
    else:
        assert 120 <= queued < 120 + 20  # fetched on to the partition's own bound, then paused
    gate.set()
    await harness.eventually(lambda: len(handled) == 300, timeout=60)
    assert handled == list(range(300))


async def test_partitions_paused_for_backlog_resume_after_a_rebalance(harness: Any) -> None:
    """A partition paused because its queue is full is fetched again once a rebalance reassigns it."""
    topic = harness.topic("backlog", partitions=4)
    group = f"{harness.prefix}-backlog"
    gate = asyncio.Event()
    handled: set[int] = set()
    started: set[int] = set()

    async def handle(ctx: MessageContext, message: Any) -> None:
        started.add(ctx.record.partition)
        await gate.wait()
        handled.add(message.body["n"])

    sender = harness.messaging({"CMD": topic})
    sender.producer.declare("CMD", harness.envelope, key="key")
    with as_tenant(harness.tenant):
        await asyncio.gather(*(sender.producer.emit("CMD", _cmd("DO", n, f"k{n}")) for n in range(400)))
    members = []
    for _ in range(2):
        messaging = harness.messaging({"CMD": topic}, group=group)
        consumer = messaging.consumer(max_buffered=4, revoke_timeout=0.2)
        consumer.subscribe("CMD", harness.envelope, {"DO": handle})
        members.append(messaging)
    await members[0].start()
    await harness.eventually(lambda: len(started) == 4)  # every partition blocked, its queue full: paused
    await asyncio.sleep(0.5)
    await members[1].start()  # the rebalance abandons the blocked handlers and reassigns everything
    await asyncio.sleep(0.5 if harness.kind == "memory" else 4)
    gate.set()
    await harness.eventually(lambda: handled == set(range(400)), timeout=60)


async def test_a_revoked_member_commits_its_finished_offsets_before_giving_partitions_up(
    harness: Any,
) -> None:
    """A second member joining revokes the first's partitions; the first commits what it finished first.

    Periodic commits are off, so only the revocation can commit. The handlers run on every
    delivery (no inbox marker), so a message handed to the second member again would show.
    """
    topic = harness.topic("revoke", partitions=2)
    group = f"{harness.prefix}-revoke"
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    deliveries: dict[str, list[tuple[int, int]]] = {"first": [], "second": []}

    def member(name: str) -> Any:
        async def handle(ctx: MessageContext, message: Any) -> None:
            deliveries[name].append((ctx.record.partition, ctx.record.offset))

        messaging = harness.messaging({"CMD": topic}, group=group)
        consumer = messaging.consumer(commit_interval=3600, commit_every=1_000_000)
        consumer.subscribe("CMD", harness.envelope, {"DO": handle}, idempotent=False)
        return messaging

    keys = [f"k{n}" for n in range(40)]
    assert {partition_for(key.encode(), 2) for key in keys[:20]} == {0, 1}
    first = member("first")
    await first.start()
    with as_tenant(harness.tenant):
        for n in range(20):
            await first.producer.emit("CMD", _cmd("DO", n), key=keys[n])
    await harness.eventually(lambda: len(deliveries["first"]) == 20)
    finished = {tp: 1 + max(o for p, o in deliveries["first"] if p == tp.partition) for tp in tps}
    assert [await harness.committed(group, tp) for tp in tps] == [None, None]  # no commit yet

    await member("second").start()
    await harness.eventually(lambda: _all_committed(harness, group, finished))
    with as_tenant(harness.tenant):
        for n in range(20, 40):
            await first.producer.emit("CMD", _cmd("DO", n), key=keys[n])
    await harness.eventually(lambda: len(deliveries["first"]) + len(deliveries["second"]) == 40)
    await asyncio.sleep(0.5)  # room for a redelivery to show up
    everything = deliveries["first"] + deliveries["second"]
    assert len(everything) == len(set(everything)) == 40  # no message delivered twice
    assert deliveries["second"]  # the second member took over a partition
    assert all(offset >= finished[TopicPartition(topic, p)] for p, offset in deliveries["second"])


async def _all_committed(harness: Any, group: str, offsets: dict[TopicPartition, int]) -> bool:
    return all([await harness.committed(group, tp) == offset for tp, offset in offsets.items()])
