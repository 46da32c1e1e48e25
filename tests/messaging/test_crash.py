"""Exactly-once effects while consumer processes are SIGKILLed at random moments."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from atlas_runtime.tenant import Tenant

WORKER = Path(__file__).with_name("crash_worker.py")
MESSAGES = 20_000
KEYS = 200
PARTITIONS = 4
KILLS = 6
# Per-message handler time: 4 partitions x 5,000 messages x 3 ms keep the group busy for
# long enough that every kill lands while work is unfinished.
HANDLER_DELAY = 0.003
TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)


def _produce(bootstrap: str, topic: str) -> Counter[str]:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20})
    expected: Counter[str] = Counter()
    headers = TENANT.kafka_headers()
    for n in range(MESSAGES):
        key = f"key-{n % KEYS}"
        expected[key] += 1
        value = json.dumps({"type": "COUNT", "body": {"n": n}, "key": key}).encode()
        while True:
            try:
                producer.produce(topic, value=value, key=key.encode(), headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0
    return expected


def _committed_total(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed([KafkaTopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return sum(max(0, tp.offset) for tp in offsets)
    finally:
        consumer.close()


class _Workers:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self) -> subprocess.Popen[bytes]:
        log_dir = os.environ.get("CRASH_LOG_DIR")  # keep the workers' logs when debugging
        stderr = open(f"{log_dir}/worker-{len(self.procs)}.log", "wb") if log_dir else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, str(WORKER)], env=self._env, stderr=stderr)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)


def _kill_while_working(workers: _Workers, committed: Callable[[], int]) -> int:
    """SIGKILL a random consumer (and start a new one) KILLS times, each after progress was made.

    A kill only counts when it hits a group that has committed more since the last kill and
    has not finished, so none of them lands on idle consumers. Returns the number of kills.
    """
    live = [workers.spawn(), workers.spawn()]
    rng = random.Random()
    kills, last = 0, -1
    deadline = time.monotonic() + 180
    while kills < KILLS and time.monotonic() < deadline:
        done = committed()
        if done >= MESSAGES:
            break
        if done <= last:  # the group is still (re)joining: wait for progress
            time.sleep(0.3)
            continue
        time.sleep(rng.uniform(0.2, 1.5))
        victim = live.pop(rng.randrange(len(live)))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        kills += 1
        last = committed()
        live.append(workers.spawn())
    return kills


@pytest.mark.slow
def test_sigkilled_consumers_apply_every_message_exactly_once(kafka_bootstrap: str, redis_url: str) -> None:
    """Each of 20,000 messages is applied once while 2 consumers are SIGKILLed and restarted."""
    prefix = f"crash{uuid.uuid4().hex[:10]}"
    topic, group = f"{prefix}-count", f"{prefix}-group"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS)]).values():
        future.result(timeout=30)
    expected = _produce(kafka_bootstrap, topic)
    env = {
        **os.environ,
        "CRASH_TOPIC": topic,
        "CRASH_GROUP": group,
        "CRASH_PREFIX": prefix,
        "BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "CRASH_HANDLER_DELAY": str(HANDLER_DELAY),
    }
    client = redis.Redis.from_url(redis_url)
    workers = _Workers(env)
    started = time.monotonic()
    try:
        kills = _kill_while_working(workers, lambda: _committed_total(kafka_bootstrap, group, topic))
        while _committed_total(kafka_bootstrap, group, topic) < MESSAGES and time.monotonic() - started < 240:
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        counts = {f"key-{k}": int(client.get(f"{prefix}:count:key-{k}") or 0) for k in range(KEYS)}
        deliveries = int(client.get(f"{prefix}:deliveries") or 0)
        markers = sum(1 for _ in client.scan_iter(f"{prefix}:crash:_inbox:*", count=5000))
        print(
            f"\ncrash test: {kills} kills, {deliveries} deliveries for {MESSAGES} messages, "
            f"{deliveries - MESSAGES} redeliveries, {elapsed:.1f}s"
        )
        assert kills >= 5
        assert deliveries > MESSAGES, "no kill interrupted unfinished work"
        assert _committed_total(kafka_bootstrap, group, topic) == MESSAGES
        lost = sum(max(0, expected[k] - counts.get(k, 0)) for k in expected)
        doubled = sum(max(0, counts.get(k, 0) - expected[k]) for k in expected)
        assert (lost, doubled) == (0, 0)
        assert markers == MESSAGES
    finally:
        workers.stop_all()
        keys = list(client.scan_iter(f"*{prefix}*", count=5000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()
