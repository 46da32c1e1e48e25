"""The multi-process rig of the acceptance test: topics, orchestrator and participant processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from .specs import TOKENS

PROCS = Path(__file__).with_name("procs")
PARTITIONS = 4


def create_topics(bootstrap: str, topics: dict[str, str]) -> None:
    """Create every topic of the rig with several partitions, so both replicas get work."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = [NewTopic(topics[t], num_partitions=PARTITIONS, replication_factor=1) for t in TOKENS]
    for future in admin.create_topics(wanted).values():
        future.result(timeout=20)


@dataclass
class Rig:
    """Child processes sharing one database and one set of topics."""

    db_name: str
    suffix: str
    bootstrap: str
    db_env: dict[str, str]
    procs: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def spawn(self, name: str, script: str) -> None:
        self.spawn_all({name: script})

    def spawn_all(self, scripts: dict[str, str]) -> None:
        """Start the processes together, then wait until each says it is ready."""
        started = {name: self._start(script) for name, script in scripts.items()}
        for name, proc in started.items():
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", f"{name} did not start: {line!r}"
            self.procs[name] = proc

    def _start(self, script: str) -> subprocess.Popen[str]:
        args = [
            sys.executable,
            str(PROCS / script),
            self.db_name,
            self.suffix,
            self.bootstrap,
            self.db_env["DB_HOST"],
            self.db_env["DB_PORT"],
            self.db_env["DB_USER"],
        ]
        return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env={**os.environ})

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def produce_triggers(
    bootstrap: str, topic: str, orders: list[dict[str, object]], headers: list[tuple[str, bytes]]
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for order in orders:
        body = {k: v for k, v in order.items() if k not in ("transaction_id", "steps")}
        value = {"type": f"PLACE{order['steps']}", "transaction_id": order["transaction_id"], "body": body}
        producer.produce(
            topic, key=str(order["transaction_id"]).encode(), value=json.dumps(value), headers=headers
        )
    assert producer.flush(30) == 0


def read_all(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 30.0
) -> list[tuple[bytes, dict[str, bytes], dict[str, object]]]:
    """Every message of `topic` (all partitions) once at least `at_least` arrived and no more come."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    received: list[tuple[bytes, dict[str, bytes], dict[str, object]]] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                if len(received) >= at_least and time.monotonic() - quiet_since > 1.5:
                    break
                continue
            quiet_since = time.monotonic()
            headers = {k: v or b"" for k, v in msg.headers() or []}
            received.append((msg.key() or b"", headers, json.loads(msg.value())))
    finally:
        consumer.close()
    return received


def group_by_key(
    messages: list[tuple[bytes, dict[str, bytes], dict[str, object]]],
) -> dict[str, list[tuple[dict[str, bytes], dict[str, object]]]]:
    grouped: dict[str, list[tuple[dict[str, bytes], dict[str, object]]]] = defaultdict(list)
    for key, headers, value in messages:
        grouped[key.decode()].append((headers, value))
    return grouped
