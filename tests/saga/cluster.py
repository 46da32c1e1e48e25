"""The multi-process rig of the acceptance test: topics, generated service processes, consumer groups."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import httpx
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from .specs import TOKENS

PARTITIONS = 4

Partition = tuple[str, int]
T = TypeVar("T")


def create_topics(bootstrap: str, topics: dict[str, str]) -> None:
    """Create every topic of the rig with several partitions, so both replicas get work."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = [NewTopic(topics[t], num_partitions=PARTITIONS, replication_factor=1) for t in TOKENS]
    for future in admin.create_topics(wanted).values():
        future.result(timeout=20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    """One running service process: its package, REST port and log file."""

    package: str
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]


@dataclass
class Rig:
    """Generated services run as `python -m <package>`, each replica its own process.

    `env` is laid over the test's environment for every process, then `package_env` of
    its package; each gets its own `REST_PORT`, and its log goes to `logs/<name>.log`.
    """

    env: dict[str, str]
    logs: Path
    package_env: dict[str, dict[str, str]] = field(default_factory=dict)
    replicas: dict[str, Replica] = field(default_factory=dict)

    def spawn_all(self, packages: dict[str, str], *, timeout: float = 60.0) -> None:
        """Start a process per name (name -> package) together, then wait until each is ready."""
        started = {name: self._start(name, package) for name, package in packages.items()}
        self.replicas.update(started)
        for name, replica in started.items():
            self._wait_ready(name, replica, timeout)

    def _start(self, name: str, package: str) -> Replica:
        port = free_port()
        log = (self.logs / f"{name}.log").open("ab")
        env = {**os.environ, **self.env, **self.package_env.get(package, {}), "REST_PORT": str(port)}
        command = [sys.executable, "-m", package]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        return Replica(package, process, port, log)

    def _wait_ready(self, name: str, replica: Replica, timeout: float) -> None:
        """Poll `/api/readyz` until it answers 200 (state, Kafka and database reachable)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = replica.process.poll()
            assert code is None, f"{name} exited with {code}:\n{self.log_of(name)}"
            try:
                if httpx.get(f"http://127.0.0.1:{replica.port}/api/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} was not ready within {timeout}s:\n{self.log_of(name)}")

    def log_of(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def kill(self, name: str) -> None:
        """SIGKILL one replica: no shutdown, no commit, no flush."""
        replica = self.replicas.pop(name)
        replica.process.send_signal(signal.SIGKILL)
        replica.process.wait(10)
        replica.log.close()

    def stop_all(self) -> None:
        """SIGTERM every replica and wait for it (SIGKILL after 30s)."""
        for replica in self.replicas.values():
            replica.process.send_signal(signal.SIGTERM)
        for replica in self.replicas.values():
            try:
                replica.process.wait(30)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait(10)
            replica.log.close()
        self.replicas.clear()


def group_assignment(bootstrap: str, group: str) -> dict[str, frozenset[Partition]]:
    """Member id -> the partitions the broker assigned it in consumer group `group`; {} mid-rebalance."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    if description.state != ConsumerGroupState.STABLE:
        return {}
    return {
        member.member_id: frozenset(
            (tp.topic, tp.partition)
            for tp in (member.assignment.topic_partitions if member.assignment else [])
        )
        for member in description.members
    }


def wait_for_assignment(
    bootstrap: str, group: str, *, members: int, partitions: set[Partition], timeout: float = 60.0
) -> dict[str, frozenset[Partition]]:
    """The group's assignment once it has `members` members, each holding some of `partitions`, all held."""

    def settled(assignment: dict[str, frozenset[Partition]]) -> bool:
        held = set().union(*assignment.values()) if assignment else set()
        return len(assignment) == members and all(assignment.values()) and held == partitions

    return _poll(lambda: group_assignment(bootstrap, group), settled, timeout, f"group {group} assignment")


def committed_offsets(bootstrap: str, group: str) -> dict[Partition, int]:
    """Partition -> the offset consumer group `group` committed there (partitions without one omitted)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = [ConsumerGroupTopicPartitions(group)]
    result = admin.list_consumer_group_offsets(request)[group].result(timeout=10)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def partitions_of(topics: list[str]) -> set[Partition]:
    return {(topic, p) for topic in topics for p in range(PARTITIONS)}


def _poll(read: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        assert time.monotonic() < deadline, f"{what} did not settle within {timeout}s: {value}"
        time.sleep(0.25)
        value = read()
    return value


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
    bootstrap: str, topics: str | list[str], *, at_least: int, timeout: float = 30.0
) -> list[tuple[bytes, dict[str, bytes], dict[str, object]]]:
    """Every message of `topics` (all partitions) once at least `at_least` arrived and no more come."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    names = [topics] if isinstance(topics, str) else topics
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in names for p in range(PARTITIONS)])
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
