"""Transactional outbox against the real PostgreSQL and Kafka broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from atlas_runtime.db import (
    Database,
    DrainerOptions,
    KafkaPublisher,
    OutboxDrainer,
    OutgoingMessage,
    PublishError,
    enqueue,
    migrate,
    outbox_dead_table,
    outbox_table,
    runtime_metadata,
)
from atlas_runtime.tenant import Tenant

from .conftest import FAST_CONNECT, create_database, drop_database, make_tenant, settings_for
from .kafka_topics import message_count, new_topic, read_topic

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]


@pytest.fixture
async def db(db_env: dict[str, str]) -> AsyncIterator[Database]:
    """A freshly migrated database of its own for each test."""
    name = create_database(db_env)
    database = await Database.connect("outboxtest", settings=settings_for(db_env, name), policy=FAST_CONNECT)
    await migrate(database.engine, runtime_metadata, include_runtime_tables=False)
    yield database
    await database.close()
    drop_database(db_env, name)


@pytest.fixture
def publisher(kafka_bootstrap: str) -> KafkaPublisher:
    return KafkaPublisher(kafka_bootstrap, delivery_timeout=15)


async def enqueue_events(db: Database, tenant: Tenant, topic: str, keys: Sequence[str]) -> None:
    async with db.tenant_session(tenant) as session:
        for key in keys:
            await enqueue(session, topic, key, f"value-of-{key}")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def dead_rows(db: Database) -> list[bytes]:
    async with db.engine.connect() as conn:
        return list((await conn.scalars(select(outbox_dead_table.c.key))).all())


async def test_committed_event_is_published_with_tenant_headers(
    db: Database, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """A committed row reaches Kafka with key, value, tenant and event-id headers and is marked sent."""
    topic, tenant = new_topic(kafka_bootstrap), make_tenant()
    async with db.tenant_session(tenant) as session:
        event_id = await enqueue(session, topic, "party-7", b"\x00payload", [("traceparent", "00-abc")])
    drainer = OutboxDrainer(db.engine, publisher, service="outboxtest")
    outcome = await drainer.drain_once()
    assert (outcome.fetched, outcome.published, outcome.outage) == (1, 1, False)
    [message] = read_topic(kafka_bootstrap, topic, 1)
    assert (message.key, message.value) == (b"party-7", b"\x00payload")
    assert Tenant.from_kafka_headers(list(message.headers.items())) == tenant
    assert message.headers["EVENT_ID"] == str(event_id).encode()
    assert message.headers["traceparent"] == b"00-abc"
    assert await drainer.backlog() == 0
    assert REGISTRY.get_sample_value("atlas_outbox_backlog", {"service": "outboxtest"}) == 0
    async with db.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).where(outbox_table.c.sent_at.is_not(None))) == 1


async def test_rolled_back_transaction_publishes_nothing(
    db: Database, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """An event enqueued in a transaction that rolls back is never published."""
    topic = new_topic(kafka_bootstrap)
    with pytest.raises(RuntimeError):
        async with db.tenant_session(make_tenant()) as session:
            await enqueue(session, topic, "k", "v")
            raise RuntimeError("handler failed")
    drainer = OutboxDrainer(db.engine, publisher, service="outboxtest")
    assert (await drainer.drain_once()).fetched == 0
    assert await drainer.backlog() == 0
    assert message_count(kafka_bootstrap, topic) == 0


async def test_notify_wakes_the_drainer_before_the_poll_interval(
    db: Database, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """With a 60 s poll interval, a commit is published within seconds because NOTIFY wakes the leader."""
    topic = new_topic(kafka_bootstrap)
    drainer = OutboxDrainer(
        db.engine, publisher, service="notifytest", options=DrainerOptions(poll_interval=60)
    )
    task = asyncio.create_task(drainer.run())
    try:
        await eventually(lambda: asyncio.sleep(0, drainer.is_leader))
        await asyncio.sleep(0.3)  # the leader is now waiting on LISTEN
        started = time.monotonic()
        await enqueue_events(db, make_tenant(), topic, ["a", "b"])
        await eventually(
            lambda: asyncio.to_thread(lambda: message_count(kafka_bootstrap, topic) == 2), timeout=10
        )
        assert time.monotonic() - started < 10
    finally:
        drainer.stop()
        await task


class ConcurrencyProbe:
    """A publisher wrapper that records how many publishes overlap and who made them."""

    def __init__(self, inner: KafkaPublisher) -> None:
        self.inner = inner
        self.in_flight = 0
        self.max_in_flight = 0

    def for_replica(self, name: str, seen: list[str]) -> ProbePublisher:
        return ProbePublisher(self, name, seen)


class ProbePublisher:
    def __init__(self, probe: ConcurrencyProbe, name: str, seen: list[str]) -> None:
        self.probe, self.name, self.seen = probe, name, seen

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishError | None]:
        self.probe.in_flight += 1
        self.probe.max_in_flight = max(self.probe.max_in_flight, self.probe.in_flight)
        try:
            await asyncio.sleep(0.02)  # widen the window in which an overlap would show
            self.seen.append(self.name)
            return await self.probe.inner.publish(messages)
        finally:
            self.probe.in_flight -= 1

    async def close(self) -> None:
        pass


async def test_two_replicas_never_publish_concurrently(
    db: Database, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """Of two drainer replicas only the lock holder publishes; the other takes over when it stops."""
    topic, tenant = new_topic(kafka_bootstrap), make_tenant()
    probe = ConcurrencyProbe(publisher)
    seen: list[str] = []
    options = DrainerOptions(batch_size=10, poll_interval=0.1)
    replicas = {
        name: OutboxDrainer(db.engine, probe.for_replica(name, seen), service="replicated", options=options)
        for name in ("r1", "r2")
    }
    tasks = {name: asyncio.create_task(d.run()) for name, d in replicas.items()}
    try:
        for batch in range(10):
            await enqueue_events(db, tenant, topic, [f"{batch}-{i}" for i in range(10)])
        await eventually(lambda: asyncio.to_thread(lambda: message_count(kafka_bootstrap, topic) == 100))
        assert sum(d.is_leader for d in replicas.values()) == 1
        leader = next(name for name, d in replicas.items() if d.is_leader)
        assert set(seen) == {leader}
        replicas[leader].stop()
        await tasks[leader]
        await enqueue_events(db, tenant, topic, ["after-failover"])
        await eventually(lambda: asyncio.to_thread(lambda: message_count(kafka_bootstrap, topic) == 101))
        assert seen[-1] != leader
        assert probe.max_in_flight == 1
    finally:
        for drainer in replicas.values():
            drainer.stop()
        await asyncio.gather(*tasks.values())
    keys = [m.key for m in read_topic(kafka_bootstrap, topic, 101)]
    assert len(set(keys)) == 101


class PoisonPublisher:
    """Rejects every message whose key is `poison`, like a broker refusing a malformed record."""

    def __init__(self, inner: KafkaPublisher) -> None:
        self.inner = inner
        self.poison_attempts = 0

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishError | None]:
        healthy = [m for m in messages if m.key != b"poison"]
        results = iter(await self.inner.publish(healthy))
        outcome: list[PublishError | None] = []
        for message in messages:
            if message.key == b"poison":
                self.poison_attempts += 1
                outcome.append(PublishError("INVALID_RECORD: rejected", retriable=False))
            else:
                outcome.append(next(results))
        return outcome

    async def close(self) -> None:
        pass


async def test_poison_row_is_moved_aside_and_later_rows_flow(
    db: Database, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """A row rejected max_attempts times moves to the dead-letter table while later rows are published."""
    topic, tenant = new_topic(kafka_bootstrap), make_tenant()
    poison = PoisonPublisher(publisher)
    options = DrainerOptions(poll_interval=0.05, max_attempts=3)
    drainer = OutboxDrainer(db.engine, poison, service="poisontest", options=options)
    await enqueue_events(db, tenant, topic, ["first", "poison", "second"])
    task = asyncio.create_task(drainer.run())
    try:
        await eventually(lambda: _has_dead(db))
        await enqueue_events(db, tenant, topic, ["third"])
        await eventually(lambda: asyncio.to_thread(lambda: message_count(kafka_bootstrap, topic) == 3))
    finally:
        drainer.stop()
        await task
    assert poison.poison_attempts == 3
    assert [m.key for m in read_topic(kafka_bootstrap, topic, 3)] == [b"first", b"second", b"third"]
    async with db.engine.connect() as conn:
        dead = (await conn.execute(select(outbox_dead_table))).one()
        pending = await conn.scalar(select(func.count()).where(outbox_table.c.sent_at.is_(None)))
    assert (dead.key, dead.attempts, pending) == (b"poison", 3, 0)
    assert "INVALID_RECORD" in dead.last_error


async def _has_dead(db: Database) -> bool:
    return len(await dead_rows(db)) == 1


class OutagePublisher:
    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishError | None]:
        return [PublishError("_MSG_TIMED_OUT: broker down", retriable=True) for _ in messages]

    async def close(self) -> None:
        pass


async def test_outage_counts_no_attempt(db: Database) -> None:
    """A retriable failure (broker outage) keeps the row pending without spending its attempts."""
    await enqueue_events(db, make_tenant(), "any-topic", ["k"])
    drainer = OutboxDrainer(
        db.engine, OutagePublisher(), service="outagetest", options=DrainerOptions(max_attempts=1)
    )
    for _ in range(3):
        assert (await drainer.drain_once()).outage
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(outbox_table))).one()
    assert (row.attempts, row.sent_at) == (0, None)
    assert "broker down" in row.last_error
    assert await dead_rows(db) == []


async def test_sweep_deletes_only_old_sent_rows(
    db: Database, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """The sweeper deletes rows sent before the retention window and keeps pending ones."""
    topic, tenant = new_topic(kafka_bootstrap), make_tenant()
    await enqueue_events(db, tenant, topic, ["old-1", "old-2"])
    drainer = OutboxDrainer(db.engine, publisher, service="sweeptest", options=DrainerOptions(retention=0))
    await drainer.drain_once()
    await enqueue_events(db, tenant, topic, ["pending"])
    assert await drainer.sweep() == 2
    async with db.engine.connect() as conn:
        keys = (await conn.scalars(select(outbox_table.c.key))).all()
    assert keys == [b"pending"]


async def test_leader_whose_lock_connection_dies_steps_down(
    db: Database, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """Killing the leader's lock connection ends its leadership at once; draining resumes under one leader."""
    topic, tenant = new_topic(kafka_bootstrap), make_tenant()
    options = DrainerOptions(poll_interval=0.1)
    replicas = [OutboxDrainer(db.engine, publisher, service="failover", options=options) for _ in range(2)]
    tasks = [asyncio.create_task(d.run()) for d in replicas]
    try:
        await eventually(lambda: asyncio.sleep(0, any(d.is_leader for d in replicas)))
        assert sum(d.terms for d in replicas) == 1
        async with db.engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        assert killed
        # A new term starts (on either replica) only after the old one ended.
        await eventually(lambda: asyncio.sleep(0, sum(d.terms for d in replicas) == 2), timeout=5)
        await enqueue_events(db, tenant, topic, ["after-kill"])
        await eventually(lambda: asyncio.to_thread(lambda: message_count(kafka_bootstrap, topic) == 1))
        assert sum(d.is_leader for d in replicas) == 1
    finally:
        for drainer in replicas:
            drainer.stop()
        await asyncio.gather(*tasks)


async def test_topic_the_broker_rejects_is_dead_lettered(
    db: Database, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """A row for a topic name Kafka rejects is moved aside after max_attempts; valid rows are published."""
    topic, tenant = new_topic(kafka_bootstrap), make_tenant()
    async with db.tenant_session(tenant) as session:
        await enqueue(session, topic, "before", "v")
        await enqueue(session, "not a valid topic!", "bad", "v")
        await enqueue(session, topic, "after", "v")
    drainer = OutboxDrainer(
        db.engine, publisher, service="badtopic", options=DrainerOptions(poll_interval=0.05, max_attempts=2)
    )
    for _ in range(2):
        await drainer.drain_once()
    assert await dead_rows(db) == [b"bad"]
    assert [m.key for m in read_topic(kafka_bootstrap, topic, 2)] == [b"before", b"after"]
    assert await drainer.backlog() == 0
