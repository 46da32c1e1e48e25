"""Harness of the messaging contract suite: the same tests on Kafka + Redis and on the in-process bus."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import BaseModel
from redis.asyncio import Redis

from atlas_runtime.messaging import (
    MemoryBroker,
    Messaging,
    MessagingSettings,
    Record,
    TopicPartition,
)
from atlas_runtime.messaging._records import normalize_headers
from atlas_runtime.tenant import Tenant

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)


class Command(BaseModel):
    """The envelope of the test topics."""

    type: str
    body: dict[str, Any]
    key: str
    transaction_id: str | None = None


async def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> None:
    """Wait until `check()` is truthy (awaiting it when it returns an awaitable)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


class Harness:
    """One backend of the contract suite: topics, a Messaging factory, reads and offsets."""

    kind: str
    tenant = TENANT
    envelope = Command

    def __init__(self, redis_url: str | None, bootstrap: str | None) -> None:
        self.redis_url = redis_url
        self.bootstrap = bootstrap
        self.broker = MemoryBroker() if bootstrap is None else None
        self.kind = "memory" if bootstrap is None else "kafka"
        self._admin = AdminClient({"bootstrap.servers": bootstrap}) if bootstrap else None
        self._opened: list[Messaging] = []
        self.prefix = f"t{uuid.uuid4().hex[:10]}"

    @staticmethod
    async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> None:
        """Wait until `check()` is truthy."""
        await eventually(check, timeout)

    def topic(self, name: str, partitions: int = 1) -> str:
        """Create a unique topic (and its dead-letter topic) with `partitions` partitions."""
        topic = f"{self.prefix}-{name}"
        if self.broker is not None:
            self.broker.create_topic(topic, partitions)
            self.broker.create_topic(topic + ".DLT", 1)
            return topic
        assert self._admin is not None
        futures = self._admin.create_topics(
            [NewTopic(topic, num_partitions=partitions), NewTopic(topic + ".DLT", num_partitions=1)]
        )
        for future in futures.values():
            future.result(timeout=30)
        return topic

    def messaging(self, topics: dict[str, str], *, group: str | None = None, **options: Any) -> Messaging:
        settings = MessagingSettings(
            service=f"{self.prefix}-svc",
            topics=topics,
            consumer_group=group or f"{self.prefix}-group",
            bootstrap_servers=[self.bootstrap] if self.bootstrap else [],
            redis_url=self.redis_url,
            kafka_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
        )
        options.setdefault("key_prefix", self.prefix)  # Redis keys of this test only
        messaging = Messaging(settings, broker=self.broker, **options)
        self._opened.append(messaging)
        return messaging

    async def read(self, topic: str, count: int, timeout: float = 30.0) -> list[Record]:
        """At least `count` records of `topic` (all partitions), waiting up to `timeout`."""
        if self.broker is not None:
            broker = self.broker
            await eventually(lambda: len(broker.records(topic)) >= count, timeout)
            return broker.records(topic)
        return await asyncio.to_thread(self._read_kafka, topic, count, timeout)

    def _read_kafka(self, topic: str, count: int, timeout: float) -> list[Record]:
        consumer = KafkaConsumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        try:
            metadata = consumer.list_topics(topic, timeout=10)
            partitions = list(metadata.topics[topic].partitions)
            consumer.assign([KafkaTopicPartition(topic, p, 0) for p in partitions])
            records: list[Record] = []
            deadline = time.monotonic() + timeout
            while len(records) < count and time.monotonic() < deadline:
                for m in consumer.consume(500, 0.2):
                    if m.error() is None:
                        records.append(
                            Record(
                                m.topic(),
                                m.partition(),
                                m.offset(),
                                m.key(),
                                m.value(),
                                normalize_headers(m.headers()),
                            )
                        )
            return records
        finally:
            consumer.close()

    async def committed(self, group: str, tp: TopicPartition) -> int | None:
        """The committed offset of `group` on `tp`."""
        if self.broker is not None:
            return self.broker.committed(group, tp)
        return await asyncio.to_thread(self._kafka_committed, group, tp)

    def _kafka_committed(self, group: str, tp: TopicPartition) -> int | None:
        consumer = KafkaConsumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            [result] = consumer.committed([KafkaTopicPartition(tp.topic, tp.partition)], timeout=10)
            return None if result.offset < 0 else int(result.offset)
        finally:
            consumer.close()

    async def rewind(self, group: str, tp: TopicPartition, offset: int) -> None:
        """Commit `offset` for `group` (no member may be active), forcing redelivery."""
        if self.broker is not None:
            self.broker.commit(group, {tp: offset})
            return
        await asyncio.to_thread(self._kafka_rewind, group, tp, offset)

    def _kafka_rewind(self, group: str, tp: TopicPartition, offset: int) -> None:
        consumer = KafkaConsumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            consumer.commit(offsets=[KafkaTopicPartition(tp.topic, tp.partition, offset)], asynchronous=False)
        finally:
            consumer.close()

    async def close(self) -> None:
        for messaging in self._opened:
            await asyncio.wait_for(messaging.stop(), 120)
        if self.redis_url:
            redis = Redis.from_url(self.redis_url)
            keys = [key async for key in redis.scan_iter(f"*{self.prefix}*", count=1000)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


@pytest.fixture(params=["memory", "kafka"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The in-process bus with the in-process inbox, or Kafka with the Redis inbox."""
    if request.param == "memory":
        h = Harness(None, None)
    else:
        h = Harness(request.getfixturevalue("redis_url"), request.getfixturevalue("kafka_bootstrap"))
    try:
        yield h
    finally:
        await h.close()
