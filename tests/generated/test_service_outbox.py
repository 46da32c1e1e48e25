"""`via: outbox` on the real PostgreSQL and Kafka: events leave only when their transaction commits."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer

from atlas_runtime.service import Service, ServiceDescription

pytestmark = [pytest.mark.postgres, pytest.mark.kafka, pytest.mark.slow]

SPEC = """
service: fn-orders
models:
  Order: {id: uint32, item: str}
messages:
  OrderEvent:
    fields: {order_id: uint32}
    types:
      PLACED: {item: str}
produces:
  EVENT_TOPIC_FN_ORDER: {message: OrderEvent, key: order_id, via: outbox}
database:
  outbox: true
  tables:
    TABLE:
      columns:
        id: {type: uint32, primary_key: true}
        item: str
endpoints:
  /orders:
    post: {handler: fn_outbox_logic.rest:place, body: Order, status: 201}
"""

HANDLERS = {
    "fn_outbox_logic.rest": """
        from atlas_fn_orders.tables import MODEL
        from atlas_runtime.errors import Conflict


        async def place(ctx, request):
            order = request.body
            ctx.db.add(MODEL(id=order.id, item=order.item))
            event = {"type": "PLACED", "order_id": order.id, "body": {"item": order.item}}
            await ctx.emit("EVENT_TOPIC_FN_ORDER", event)
            if order.item == "forbidden":
                raise Conflict("refused after writing and emitting")
            return order
    """,
}


def _letters(n: int) -> str:
    return "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:n])


async def test_outbox_events_follow_the_commit(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    db_env: dict[str, str],
    pg_dsn: str,
    redis_url: str,
    kafka_bootstrap: str,
    tenant_headers: Callable[[], dict[str, str]],
) -> None:
    """A committed handler's event reaches Kafka with its key and tenant; a rolled-back one never does."""
    table, topic = f"fn_orders_{_letters(10)}", f"fn-orders-{uuid.uuid4().hex[:10]}"
    model = "".join(part.title() for part in table.split("_"))
    for name, value in db_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("AUTH_MODE", "off")
    monkeypatch.setenv("EVENT_TOPIC_FN_ORDER", topic)
    handlers = {k: v.replace("MODEL", model) for k, v in HANDLERS.items()}
    service = Service(build_service(SPEC.replace("TABLE", table), handlers), environ={"ATLAS_ENV": table})
    headers = tenant_headers()
    try:
        app = service.create_app()
        async with (
            service,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            for n, item in ((1, "sword"), (2, "forbidden"), (3, "shield")):
                body = {"data": {"type": "orders", "attributes": {"id": n, "item": item}}}
                await http.post("/api/orders", json=body, headers=headers)
            received = await asyncio.to_thread(_read, kafka_bootstrap, topic, expected=2)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            connection.execute(f'DROP TABLE IF EXISTS "{table}"')
            connection.execute("DELETE FROM atlas_outbox WHERE topic = %s", (topic,))
    assert [(key, value["order_id"], value["body"]["item"]) for key, value, _ in received] == [
        (b"1", 1, "sword"),
        (b"3", 3, "shield"),
    ]
    assert all(h["TENANT_ID"] == headers["TENANT_ID"].encode() for _, _, h in received)


def _read(
    bootstrap: str, topic: str, *, expected: int
) -> list[tuple[bytes, dict[str, object], dict[str, bytes]]]:
    reader = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"r-{topic}", "auto.offset.reset": "earliest"}
    )
    reader.subscribe([topic])
    found = []
    try:
        for _ in range(80):
            record = reader.poll(0.25)
            if record is not None and record.error() is None:
                found.append((record.key(), json.loads(record.value()), dict(record.headers())))
            if len(found) >= expected:
                for _ in range(4):  # a moment more: a rolled-back event must not show up late
                    record = reader.poll(0.25)
                    if record is not None and record.error() is None:
                        found.append((record.key(), json.loads(record.value()), dict(record.headers())))
                break
    finally:
        reader.close()
    return found
