"""SIGTERM to a consuming service process: stop fetching, drain in-flight handlers (bounded), commit, exit."""

from __future__ import annotations

import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from atlas_runtime.messaging import ConsumerEngine
from atlas_runtime.tenant import Tenant

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

WORKER = Path(__file__).with_name("sigterm_worker.py")
TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)
SLOW = 2.0  # seconds each message of partition 0 takes
# A generated service's consumer drains at shutdown for the engine's default bound.
DRAIN_TIMEOUT: float = inspect.signature(ConsumerEngine).parameters["drain_timeout"].default
SLOW_MESSAGES = 10
GRACE = 3.0  # REST_SHUTDOWN_GRACE: longer than a slow message, so a consumer still fetching would start one


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _produce(bootstrap: str, topic: str) -> None:
    """Partition 0: ten slow messages. Partition 1: a quick one, then one that never finishes."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=2)]).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    holds = [(0, SLOW)] * SLOW_MESSAGES + [(1, 0.0), (1, -1.0)]
    for partition, hold in holds:
        value = json.dumps({"type": "HOLD", "body": {"hold": hold}, "key": f"p{partition}"}).encode()
        producer.produce(topic, value=value, partition=partition, headers=TENANT.kafka_headers())
    assert producer.flush(30) == 0


def _committed(bootstrap: str, group: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed([KafkaTopicPartition(topic, p) for p in (0, 1)], timeout=10)
        return [tp.offset for tp in offsets]
    finally:
        consumer.close()


class Probe:
    """The worker's `started`/`finished`/`cancelled` lists of `partition:offset` entries."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self.prefix = prefix

    def entries(self, kind: str) -> list[str]:
        values: list[bytes] = self._client.lrange(f"{self.prefix}:{kind}", 0, -1)  # type: ignore[assignment]
        return [value.decode() for value in values]

    def wait_for(self, kind: str, entry: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        """Poll until `entry` is in the `kind` list; fail with the worker's log if it dies or stalls."""
        deadline = time.monotonic() + 60
        while entry not in self.entries(kind):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker never reported {kind} {entry}:\n{log.read_text()[-3000:]}")
            time.sleep(0.02)


def _run_and_terminate(env: dict[str, str], probe: Probe, log: Path) -> tuple[int, float]:
    """Start the worker, SIGTERM it once partition 0's second message begins; exit code and seconds taken."""
    with log.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, str(WORKER)], env=env, stderr=stderr)
    try:
        probe.wait_for("started", "1:1", proc, log)  # partition 1's stuck handler is running
        probe.wait_for("started", "0:1", proc, log)  # partition 0's second message just began
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            returncode = proc.wait(DRAIN_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit after SIGTERM:\n{log.read_text()[-3000:]}")
        return returncode, time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def probe(redis_url: str) -> Iterator[Probe]:
    client = redis.Redis.from_url(redis_url)
    prefix = f"sigterm-{uuid.uuid4().hex[:10]}"
    yield Probe(client, prefix)
    keys = list(client.scan_iter(f"*{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def test_sigterm_drains_the_in_flight_handler_commits_and_exits(
    probe: Probe, redis_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """On SIGTERM a served consumer takes no new message and finishes the one in hand before exiting.

    Partition 0's second slow message is in flight at SIGTERM: it finishes and is committed,
    and the eight behind it never start, although the REST listener stays open for its
    shutdown grace: consumers stop at the signal, not when requests are done. Partition 1's
    handler never returns: it is cancelled once the drain bound runs out, so the process still
    exits in bounded time, with only the finished offset before it committed (the stuck
    message will be redelivered).
    """
    topic = f"{probe.prefix}-cmd"
    group = f"{probe.prefix}-group"
    _produce(kafka_bootstrap, topic)
    env = {
        **os.environ,
        "SIGTERM_SERVICE": probe.prefix,
        "SIGTERM_TOPIC": topic,
        "SIGTERM_PREFIX": probe.prefix,
        "REDIS_URL": redis_url,
        "BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_CONSUMER_GROUP": group,
        "REST_PORT": str(_free_port()),
        "REST_SHUTDOWN_GRACE": str(GRACE),
        "AUTH_MODE": "off",
    }
    log = tmp_path / "worker.log"
    returncode, took = _run_and_terminate(env, probe, log)
    worker_log = log.read_text()[-3000:]
    assert returncode in (0, -signal.SIGTERM), worker_log
    assert DRAIN_TIMEOUT - 1 < took < DRAIN_TIMEOUT + 10, worker_log  # waited for the drain bound, no longer
    assert sorted(probe.entries("started")) == ["0:0", "0:1", "1:0", "1:1"], worker_log  # nothing new
    assert sorted(probe.entries("finished")) == ["0:0", "0:1", "1:0"], worker_log
    assert probe.entries("cancelled") == ["1:1"], worker_log
    # Partition 0 commits both finished messages. On partition 1 the quick message may have
    # shared a batch (one atomic commit) with the stuck one, which was cancelled: then neither
    # committed and both are redelivered. Never is an offset past an unfinished message committed.
    committed = _committed(kafka_bootstrap, group, topic)
    assert committed[0] == 2 and committed[1] in (-1001, 1), worker_log
