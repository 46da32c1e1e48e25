"""Kafka topics of the outbox tests: create unique ones and read them back."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # not re-exported in stubs


@dataclass(frozen=True)
class Received:
    key: bytes
    value: bytes | None
    headers: dict[str, bytes]


def new_topic(bootstrap: str, prefix: str = "atlas-db-test") -> str:
    """Create a unique one-partition topic and return its name."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)]).values():
        future.result(timeout=15)
    return name


def message_count(bootstrap: str, topic: str) -> int:
    """Messages stored in partition 0 (high watermark; the idempotent producer adds no markers)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(high - low)
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 15.0) -> list[Received]:
    """Read `expected` messages of partition 0 from the beginning."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    received: list[Received] = []
    deadline = time.monotonic() + timeout
    try:
        while len(received) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            headers = {name: value or b"" for name, value in msg.headers() or []}
            received.append(Received(msg.key() or b"", msg.value(), headers))
    finally:
        consumer.close()
    return received
