"""The Kafka producer: confirmed, keyed, ordered delivery that survives a broker restart."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from atlas_runtime.messaging import KafkaProducerBackend, Producer, partition_for
from atlas_runtime.tenant import Tenant, as_tenant

SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services"
TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)
MESSAGES = 10_000
KEYS = 50
PARTITIONS = 4
IN_FLIGHT = 10  # sends of one key started together, none awaited before the next starts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateBroker:
    """A throwaway single-node Kafka of `scripts/services`, on its own ports and directory."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="atlas-kafka-")
        self.port = _free_port()
        self.env = {
            **os.environ,
            "ATLAS_SERVICES_DIR": self.dir,
            "ATLAS_KAFKA_PORT": str(self.port),
            "ATLAS_KAFKA_CONTROLLER_PORT": str(_free_port()),
        }

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def up(self) -> None:
        subprocess.run([str(SERVICES), "up", "kafka"], env=self.env, check=True, capture_output=True)

    def down(self) -> None:
        """Stop the broker and wait for its process to exit: it still writes its data once the port closes."""
        pid_file = Path(self.dir, "kafka", "kafka.pid")
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        subprocess.run([str(SERVICES), "down", "kafka"], env=self.env, check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while pid is not None and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


@pytest.fixture(scope="module")
def private_broker() -> Iterator[PrivateBroker]:
    broker = PrivateBroker()
    broker.up()
    try:
        yield broker
    finally:
        broker.down()
        shutil.rmtree(broker.dir, ignore_errors=True)


def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=logging.getLogger("kafka.admin"))
    for future in admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS)]).values():
        future.result(timeout=30)


def _read_all(bootstrap: str, topic: str, count: int) -> list[tuple[int, bytes, bytes]]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"r-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    consumer.assign([KafkaTopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    out: list[tuple[int, bytes, bytes]] = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < count and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error() is None:
                    out.append((m.partition(), m.key(), m.value()))
        for m in consumer.consume(1000, 1.0):  # anything beyond `count` is a duplicate
            if m.error() is None:
                out.append((m.partition(), m.key(), m.value()))
    finally:
        consumer.close()
    return out


async def _emit_key(producer: Producer, key: int, count: int, sent: list[int]) -> None:
    """Emit `count` messages of `key` in order, IN_FLIGHT of them awaiting their acknowledgement at once."""
    for start in range(0, count, IN_FLIGHT):
        window = range(start, min(start + IN_FLIGHT, count))
        await asyncio.gather(
            *(producer.emit("EVENTS", {"type": "E", "body": {"seq": seq}, "id": key}) for seq in window)
        )
        sent[0] += len(window)


@pytest.mark.slow
async def test_keyed_messages_arrive_in_order_through_a_broker_restart(private_broker: PrivateBroker) -> None:
    """10,000 keyed messages keep per-key order on one partition each, and a broker restart loses none.

    Each key always has several sends in flight at once, across the outage too, so the order
    is the producer's (enqueue order, ordered retries), not the caller's awaiting one by one.
    """
    topic = f"prod-{uuid.uuid4().hex[:10]}"
    _create_topic(private_broker.bootstrap, topic)
    producer = Producer(KafkaProducerBackend([private_broker.bootstrap]), {"EVENTS": topic})
    producer.declare("EVENTS", key="id")
    await producer.start()
    sent = [0]
    with as_tenant(TENANT):
        emitting = asyncio.gather(*(_emit_key(producer, key, MESSAGES // KEYS, sent) for key in range(KEYS)))
        while sent[0] < MESSAGES // 3:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(private_broker.down)
        during_outage = sent[0]
        await asyncio.sleep(3)
        assert sent[0] - during_outage < KEYS * IN_FLIGHT  # nothing is confirmed while the broker is down
        await asyncio.to_thread(private_broker.up)
        await asyncio.wait_for(emitting, 120)
    await producer.close()

    records = await asyncio.to_thread(_read_all, private_broker.bootstrap, topic, MESSAGES)
    by_key: dict[bytes, list[int]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for partition, key, value in records:
        by_key[key].append(json.loads(value)["body"]["seq"])
        partitions[key].add(partition)
    assert len(records) == MESSAGES
    assert all(seqs == list(range(MESSAGES // KEYS)) for seqs in by_key.values())
    assert len(by_key) == KEYS
    assert all(parts == {partition_for(key, PARTITIONS)} for key, parts in partitions.items())


_CONF_LINE = re.compile(r"^CONF \[[^]]*\] \[[^]]*\]:\s+(\S+) = (.*)$")


async def test_the_producer_is_idempotent_with_acks_all(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """librdkafka runs the runtime's producer with idempotence on and acks=all, and the broker gives it a PID.

    The configuration is read back from librdkafka's own dump of what it runs with, and
    the idempotent producer's id exchange with the broker shows it is in effect.
    """
    topic = f"idem-{uuid.uuid4().hex[:10]}"
    _create_topic(kafka_bootstrap, topic)
    backend = KafkaProducerBackend([kafka_bootstrap], config={"debug": "conf,eos"})
    producer = Producer(backend, {"EVENTS": topic})
    with caplog.at_level(logging.DEBUG, logger="atlas_runtime.messaging.kafka"):
        await producer.start()
        with as_tenant(TENANT):
            await producer.emit("EVENTS", {"type": "E", "body": {}, "id": 1})
        await producer.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "atlas_runtime.messaging.kafka"]
    conf = {match[1]: match[2] for match in map(_CONF_LINE.match, lines) if match}
    assert conf["enable.idempotence"] == "true"
    assert conf["request.required.acks"] == "-1"  # acks=all
    assert any(line.startswith("GETPID") and "Acquired PID" in line for line in lines)
