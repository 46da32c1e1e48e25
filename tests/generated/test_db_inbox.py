"""A message handler's database writes commit with the message's inbox claim, exactly once.

Against real Kafka, Redis and PostgreSQL: the Redis marker of a processed message is
deleted (what a crash between the database commit and the Redis commit leaves behind),
the message is delivered again, and its database side is not applied twice.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import psycopg
import pytest
from confluent_kafka import Producer
from redis.asyncio import Redis

from atlas_runtime.service import Service, ServiceDescription
from atlas_runtime.tenant import Tenant

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

SPEC = """
service: fn-ledger-inbox
models:
  Entry: {id: uint32}
state:
  entries: {key: uint32, value: Entry, ids: {start: 1}}
messages:
  LedgerCommand:
    fields: {transaction_id: uuid, amount: int}
    types: {CREDIT: {}}
consumes:
  COMMAND_TOPIC_FN_LEDGER:
    message: LedgerCommand
    handlers: {CREDIT: fn_ledger_inbox_logic.commands:credit}
    dedupe: transaction_id
database:
  tables:
    TABLE:
      columns:
        id: {type: uint32, primary_key: true}
        transaction_id: str
        amount: int
"""

HANDLERS = {
    "fn_ledger_inbox_logic.commands": """
        from atlas_fn_ledger_inbox.tables import MODEL

        async def credit(ctx, message):
            entry_id = await ctx.state.entries.next_id()  # a new id on every run
            ctx.db.add(MODEL(id=entry_id, transaction_id=str(message.transaction_id), amount=message.amount))
    """,
}


async def _rows(pg_dsn: str, table: str, count: int, timeout: float = 30.0) -> int:
    """The table's row count once it reaches `count` (or the timeout passes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            found = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # type: ignore[index]
        if found >= count or asyncio.get_running_loop().time() > deadline:
            return int(found)
        await asyncio.sleep(0.1)


async def test_a_redelivery_after_a_lost_marker_applies_the_database_side_once(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    kafka_bootstrap: str,
    db_env: dict[str, str],
    pg_dsn: str,
    key_env: dict[str, str],
) -> None:
    """The second delivery finds the claim in PostgreSQL and rolls its insert back."""
    suffix = uuid.uuid4().hex[:10]
    table = "fn_ledger_" + "".join(chr(ord("a") + int(c, 16)) for c in suffix)
    model = "".join(part.title() for part in table.split("_"))
    topic = f"fn-ledger-command-{suffix}"
    for name, value in {**db_env, **key_env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("COMMAND_TOPIC_FN_LEDGER", topic)
    monkeypatch.setenv("KAFKA_CONSUMER_GROUP", f"fn-ledger-{suffix}")
    handlers = {module: source.replace("MODEL", model) for module, source in HANDLERS.items()}
    description = build_service(SPEC.replace("TABLE", table), handlers)
    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    command = json.dumps({"type": "CREDIT", "transaction_id": str(uuid.uuid4()), "amount": 5, "body": {}})
    producer = Producer({"bootstrap.servers": kafka_bootstrap})

    def send() -> None:
        producer.produce(topic, command.encode(), headers=tenant.kafka_headers())
        producer.flush(10)

    redis = Redis.from_url(redis_url)
    try:
        async with Service(description) as service:
            send()
            assert await _rows(pg_dsn, table, 1) == 1
            markers = [key async for key in redis.scan_iter(match=f"{key_env['ATLAS_ENV']}:*inbox*")]
            assert markers, "the Redis marker of the processed message was not found"
            await redis.delete(*markers)  # the crash window: database committed, marker lost
            send()
            consumer = service.messaging.messaging._consumers[0]  # type: ignore[union-attr]
            deadline = asyncio.get_running_loop().time() + 30
            while consumer.stats["handled"] < 2:
                assert asyncio.get_running_loop().time() < deadline, "the redelivery was not handled"
                await asyncio.sleep(0.1)
            assert await _rows(pg_dsn, table, 2, timeout=1.0) == 1
    finally:
        await redis.aclose()
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            connection.execute(f'DROP TABLE IF EXISTS "{table}"')
