"""The delivery contract, run on Kafka with the Redis inbox and on the in-process bus."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from typing import Any

from atlas_runtime.messaging import MessageContext, OutboundMessage, TopicPartition, partition_for
from atlas_runtime.tenant import Tenant, as_tenant


def _cmd(type_: str, n: int, key: str = "k", **extra: Any) -> dict[str, Any]:
    return {"type": type_, "body": {"n": n}, "key": key, **extra}


async def test_offset_is_committed_only_after_the_handler_succeeds(harness: Any) -> None:
    """An offset is committed only once its handler returned, not while it fails or runs."""
    topic = harness.topic("commit")
    messaging = harness.messaging({"CMD": topic})
    messaging.producer.declare("CMD", harness.envelope, key="key")
    release = asyncio.Event()
    calls: list[int] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        calls.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError("not yet")
        await release.wait()

    consumer = messaging.consumer(commit_interval=0.05)
    consumer.subscribe(
        "CMD", harness.envelope, {"DO": handle}, retry={"attempts": 5, "initial": 0.01, "max": 0.02}
    )
    await messaging.start()
    with as_tenant(harness.tenant):
        await messaging.producer.emit("CMD", _cmd("DO", 1))
    group, tp = consumer.group, TopicPartition(topic, 0)
    await harness.eventually(lambda: len(calls) == 3)
    await asyncio.sleep(0.5)
    assert await harness.committed(group, tp) is None
    release.set()
    await harness.eventually(lambda: harness.committed(group, tp), timeout=15)
    assert await harness.committed(group, tp) == 1
    assert consumer.stats["handled"] == 1


async def test_failing_handler_is_retried_then_dead_lettered_with_headers(harness: Any) -> None:
    """A handler failing every attempt sends the message to <topic>.DLT with its headers, then moves on."""
    topic = harness.topic("poison", partitions=2)
    key = "d"  # partition 1 of 2, so the original partition header cannot be a default 0
    assert partition_for(key.encode(), 2) == 1
    messaging = harness.messaging({"CMD": topic})
    attempts: list[int] = []
    done: list[int] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        if message.body["n"] == 1:
            attempts.append(ctx.attempt)
            raise ValueError("cannot handle 1")
        done.append(message.body["n"])

    consumer = messaging.consumer(commit_interval=0.05)
    consumer.subscribe(
        "CMD", harness.envelope, {"DO": handle}, retry={"attempts": 3, "initial": 0.01, "max": 0.05}
    )
    await messaging.start()
    with as_tenant(harness.tenant):
        for n in (0, 1, 2):  # the poison message sits at offset 1
            await messaging.producer.emit("CMD", _cmd("DO", n), key=key)
    [dead] = await harness.read(topic + ".DLT", 1)
    [original] = [r for r in await harness.read(topic, 3) if json.loads(r.value or b"")["body"]["n"] == 1]
    headers = dict(dead.headers)
    assert attempts == [1, 2, 3]
    assert headers["DLT_ATTEMPTS"] == b"3"
    assert headers["DLT_ERROR_CLASS"] == b"ValueError"
    assert b"cannot handle 1" in headers["DLT_ERROR"]
    assert headers["DLT_ORIGINAL_TOPIC"] == topic.encode()
    assert headers["DLT_ORIGINAL_PARTITION"] == b"1"
    assert headers["DLT_ORIGINAL_OFFSET"] == b"1"
    assert headers["DLT_CONSUMER_GROUP"] == consumer.group.encode()
    assert headers["TENANT_ID"] == str(harness.tenant.id).encode()
    assert headers["REGION"] == b"GMS"
    assert headers["MAJOR_VERSION"] == (83).to_bytes(2, "big")
    assert headers["MINOR_VERSION"] == (1).to_bytes(2, "big")
    assert "traceparent" in headers and "EVENT_ID" in headers
    assert dead.headers[: len(original.headers)] == original.headers  # every original header, unchanged
    assert dead.key == key.encode()
    assert json.loads(dead.value or b"")["body"] == {"n": 1}
    await harness.eventually(lambda: done == [0, 2])
    await harness.eventually(
        lambda: _equals(harness.committed(consumer.group, TopicPartition(topic, 1)), 3), timeout=15
    )


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_undecodable_and_tenantless_messages_go_to_the_dead_letter_topic(harness: Any) -> None:
    """Values that are not envelopes and messages with missing, malformed or ambiguous tenant
    headers go to the DLT; a type without a handler is skipped however malformed its body.

    None of them reaches the handler; the well-formed messages around them do, each under
    its own tenant.
    """
    topic = harness.topic("bad")
    messaging = harness.messaging({"CMD": topic})
    handled: list[tuple[str, int]] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        handled.append((ctx.tenant.region, message.body["n"]))

    consumer = messaging.consumer()
    consumer.subscribe("CMD", harness.envelope, {"DO": handle})
    await messaging.start()
    good = json.dumps(_cmd("DO", 3)).encode()
    tenant_headers = harness.tenant.kafka_headers()
    other_headers = Tenant(uuid.uuid4(), "EMS", 83, 1).kafka_headers()
    malformed_id = [  # 36 bytes, as a UUID string is, but not a UUID
        ("TENANT_ID", b"not-a-uuid-but-exactly-36-bytes-long"),
        *[(name, value) for name, value in tenant_headers if name != "TENANT_ID"],
    ]
    ambiguous = [*tenant_headers, other_headers[0]]  # a second TENANT_ID after the first four
    assert len(malformed_id[0][1]) == 36
    await messaging.producer.send(OutboundMessage(topic, b"k", good, []))  # first: no tenant seen yet
    await messaging.producer.send(OutboundMessage(topic, b"k", good, tenant_headers))
    await messaging.producer.send(OutboundMessage(topic, b"k", b"{not json", tenant_headers))
    await messaging.producer.send(
        OutboundMessage(topic, b"k", json.dumps(_cmd("DO", 9, body=1)).encode(), tenant_headers)
    )
    await messaging.producer.send(
        OutboundMessage(topic, b"k", json.dumps(_cmd("SKIP", 8, body=1)).encode(), tenant_headers)
    )
    await messaging.producer.send(OutboundMessage(topic, b"k", good, [("REGION", b"GMS")]))
    await messaging.producer.send(OutboundMessage(topic, b"k", good, malformed_id))
    await messaging.producer.send(OutboundMessage(topic, b"k", good, ambiguous))
    await messaging.producer.send(OutboundMessage(topic, b"k", good, other_headers))
    await messaging.producer.send(OutboundMessage(topic, b"k", good, tenant_headers))
    dead = await harness.read(topic + ".DLT", 6)
    assert [record.value for record in dead] == [
        good,
        b"{not json",
        json.dumps(_cmd("DO", 9, body=1)).encode(),
        good,
        good,
        good,
    ]
    classes = [dict(record.headers)["DLT_ERROR_CLASS"] for record in dead]
    assert classes == [
        b"InvalidTenantError",
        b"MessageDecodeError",
        b"MessageDecodeError",
        b"InvalidTenantError",
        b"InvalidTenantError",
        b"InvalidTenantError",
    ]
    assert all(dict(record.headers)["DLT_ATTEMPTS"] == b"0" for record in dead)
    assert b"TENANT_ID" in dict(dead[4].headers)["DLT_ERROR"]
    assert dead[4].headers[: len(malformed_id)] == malformed_id  # the bad header travels as it came
    offsets = [dict(record.headers)["DLT_ORIGINAL_OFFSET"] for record in dead]
    assert offsets == [b"0", b"2", b"3", b"5", b"6", b"7"]
    await harness.eventually(lambda: handled == [("GMS", 3), ("EMS", 3), ("GMS", 3)])
    await asyncio.sleep(0.3)
    assert handled == [("GMS", 3), ("EMS", 3), ("GMS", 3)]


async def test_messages_of_one_key_are_handled_in_order(harness: Any) -> None:
    """Messages with the same key land on one partition and are handled in the order produced."""
    topic = harness.topic("order", partitions=4)
    messaging = harness.messaging({"CMD": topic})
    messaging.producer.declare("CMD", harness.envelope, key="key")
    seen: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)

    async def handle(ctx: MessageContext, message: Any) -> None:
        seen[message.key].append(message.body["n"])
        partitions[message.key].add(ctx.record.partition)
        await asyncio.sleep(0)

    consumer = messaging.consumer()
    consumer.subscribe("CMD", harness.envelope, {"DO": handle})
    await messaging.start()
    keys = [f"key-{i}" for i in range(12)]
    with as_tenant(harness.tenant):
        await asyncio.gather(*(_emit_sequence(messaging, key, 40) for key in keys))
    await harness.eventually(lambda: sum(map(len, seen.values())) == 480)
    assert all(seen[key] == list(range(40)) for key in keys)
    assert all(len(partitions[key]) == 1 for key in keys)
    assert len(set().union(*partitions.values())) > 1


async def _emit_sequence(messaging: Any, key: str, count: int) -> None:
    for n in range(count):
        await messaging.producer.emit("CMD", _cmd("DO", n, key))


async def test_duplicate_delivery_runs_the_handler_once(harness: Any) -> None:
    """A redelivered message and a second message with the same dedupe id do not run the handler again."""
    topic = harness.topic("dup")
    counter = f"{harness.prefix}:counter"
    group = f"{harness.prefix}-dup-group"
    runs: list[str] = []

    async def handle(ctx: MessageContext, message: Any) -> None:
        runs.append(message.transaction_id)
        ctx.unit.incr(counter)

    async def consume_all(expected_total: int) -> dict[str, int]:
        messaging = harness.messaging({"CMD": topic}, group=group)
        consumer = messaging.consumer(commit_interval=0.05)
        consumer.subscribe("CMD", harness.envelope, {"DO": handle}, dedupe="transaction_id")
        await messaging.start()
        tp = TopicPartition(topic, 0)
        await harness.eventually(lambda: _equals(harness.committed(group, tp), expected_total), timeout=20)
        await messaging.stop()
        return consumer.stats

    sender = harness.messaging({"CMD": topic})
    with as_tenant(harness.tenant):
        for tx in ["a", "b", "a", "c"]:  # "a" twice: the same transaction sent again
            await sender.producer.emit("CMD", _cmd("DO", 0, transaction_id=tx))
    first = await consume_all(4)
    assert sorted(runs) == ["a", "b", "c"]
    assert first == {"handled": 3, "duplicates": 1, "dead_lettered": 0}
    await harness.rewind(group, TopicPartition(topic, 0), 0)
    second = await consume_all(4)
    assert sorted(runs) == ["a", "b", "c"]
    assert second == {"handled": 0, "duplicates": 4, "dead_lettered": 0}
    assert await _counter(harness, counter) == 3


async def _counter(harness: Any, key: str) -> int:
    if harness.redis_url is None:
        from atlas_runtime.messaging import default_store

        return int(default_store().get(key) or 0)
    from redis.asyncio import Redis

    redis = Redis.from_url(harness.redis_url)
    try:
        return int(await redis.get(key) or 0)
    finally:
        await redis.aclose()


async def test_a_handlers_emits_continue_the_trace_and_echo_the_saga_step(harness: Any) -> None:
    """What a handler emits keeps the handled message's trace id and carries its `SAGA_STEP` back."""
    commands, answers = harness.topic("echo-cmd"), harness.topic("echo-answer")
    messaging = harness.messaging({"CMD": commands, "ANSWER": answers})
    messaging.producer.declare("ANSWER", harness.envelope, key="key")

    async def answer(ctx: MessageContext, message: Any) -> None:
        await messaging.producer.emit("ANSWER", _cmd("DONE", message.body["n"]))

    consumer = messaging.consumer(commit_interval=0.05)
    consumer.subscribe("CMD", harness.envelope, {"DO": answer})
    await messaging.start()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = [
        *harness.tenant.kafka_headers(),
        ("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01".encode()),
        ("SAGA_STEP", b"reserve"),
    ]
    command = json.dumps(_cmd("DO", 7)).encode()
    await messaging.producer.send(OutboundMessage(commands, b"k", command, headers))
    await messaging.producer.send(OutboundMessage(commands, b"k", command, harness.tenant.kafka_headers()))
    first, second = await harness.read(answers, 2)
    echoed = dict(first.headers)
    assert echoed["SAGA_STEP"] == b"reserve"
    assert echoed["traceparent"].decode().split("-")[1] == trace_id
    assert "SAGA_STEP" not in dict(second.headers)  # nothing to echo: nothing made up
