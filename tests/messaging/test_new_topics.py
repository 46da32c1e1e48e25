"""Topics that appear after a consumer joined its group, on Kafka + Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from atlas_runtime.messaging import MessageContext
from atlas_runtime.tenant import as_tenant

from .conftest import Harness


@pytest.fixture
async def kafka(redis_url: str, kafka_bootstrap: str) -> AsyncIterator[Harness]:
    harness = Harness(redis_url, kafka_bootstrap)
    try:
        yield harness
    finally:
        await harness.close()


async def test_a_topic_created_after_the_group_joined_is_consumed_within_seconds(kafka: Harness) -> None:
    """A subscribed topic created while the consumer already consumes another is picked up in seconds.

    librdkafka notices it only at its next metadata refresh: with its default of five
    minutes the message would wait that long; the runtime's default makes it ten seconds.
    """
    present, late = kafka.topic("present"), f"{kafka.prefix}-late"
    messaging = kafka.messaging({"PRESENT": present, "LATE": late})
    handled: dict[str, asyncio.Event] = {present: asyncio.Event(), late: asyncio.Event()}

    async def handle(ctx: MessageContext, message: Any) -> None:
        assert ctx.record is not None
        handled[ctx.record.topic].set()

    consumer = messaging.consumer()
    consumer.subscribe("PRESENT", kafka.envelope, {"DO": handle})
    consumer.subscribe("LATE", kafka.envelope, {"DO": handle})
    await messaging.start()
    with as_tenant(kafka.tenant):
        await messaging.producer.emit("PRESENT", {"type": "DO", "body": {}, "key": "k"})
        await asyncio.wait_for(handled[present].wait(), 30)  # the group is joined without `late`
        assert kafka.topic("late") == late
        await messaging.producer.emit("LATE", {"type": "DO", "body": {}, "key": "k"})
    await asyncio.wait_for(handled[late].wait(), 30)
