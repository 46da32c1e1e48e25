"""Smoke tests: the servers of `scripts/services` answer real requests."""

from __future__ import annotations

import uuid

import psycopg
import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def test_redis_set_get(redis_url: str) -> None:
    """A value SET in Redis is read back by GET."""
    client = redis.Redis.from_url(redis_url)
    key = f"smoke:{uuid.uuid4()}"
    client.set(key, "v", px=10_000)
    assert client.get(key) == b"v"
    client.close()


def test_postgres_query(pg_dsn: str) -> None:
    """PostgreSQL runs a query with a parameter and a temporary table."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("create temp table t (n int)")
        conn.execute("insert into t select generate_series(1, %s)", (10,))
        row = conn.execute("select sum(n), version() from t").fetchone()
    assert row is not None
    assert row[0] == 55
    assert "PostgreSQL" in row[1]


def test_kafka_round_trip(kafka_bootstrap: str) -> None:
    """A message produced with acks=all comes back to a consumer group with its headers."""
    topic = f"smoke-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=2)]).values():
        future.result(timeout=30)

    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    delivered = []
    producer.produce(
        topic,
        key=b"k",
        value=b"hello",
        headers=[("H", b"1")],
        on_delivery=lambda err, msg: delivered.append(err),
    )
    assert producer.flush(30) == 0
    assert delivered == [None]

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"smoke-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert (message.key(), message.value()) == (b"k", b"hello")
        assert message.headers() == [("H", b"1")]
    finally:
        consumer.close()
