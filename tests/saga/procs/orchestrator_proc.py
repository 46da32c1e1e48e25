"""One orchestrator replica: consumer of triggers and status events, outbox drainer, reaper.

python orchestrator_proc.py DBNAME SUFFIX BOOTSTRAP DB_HOST DB_PORT DB_USER
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from datetime import timedelta
from pathlib import Path

from confluent_kafka import Message

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import kafka_loop

from atlas_runtime.db import Database, DatabaseSettings, DrainerOptions, KafkaPublisher, OutboxDrainer
from atlas_runtime.db.engine import create_engine
from atlas_runtime.saga import SagaOrchestrator, SagaSettings, create_schema
from atlas_runtime.tenant import Tenant, as_tenant
from specs import ORDER_TRIGGER, STATUS_TOPICS, order_definitions, topics_for


async def main(name: str, suffix: str, bootstrap: str, host: str, port: str, user: str) -> None:
    settings = DatabaseSettings(host=host, port=int(port), user=user, name=name, sslmode="disable")
    db = Database(create_engine(settings, service="orders"), service="orders", settings=settings)
    await create_schema(db.engine)
    topics = topics_for(suffix)
    orchestrator = SagaOrchestrator(
        order_definitions(),
        db,
        topics=topics,
        settings=SagaSettings(reaper_interval=timedelta(seconds=1)),
    )
    drainer = OutboxDrainer(
        db.engine,
        KafkaPublisher(bootstrap),
        service=f"orders-{suffix}",
        options=DrainerOptions(batch_size=500),
    )
    stop = kafka_loop.stop_on_sigterm()
    trigger_topic = topics[ORDER_TRIGGER]

    async def handle(record: Message) -> None:
        envelope = json.loads(record.value())
        headers = [(k, v or b"") for k, v in record.headers() or []]
        with as_tenant(Tenant.from_kafka_headers(headers)):
            if record.topic() == trigger_topic:
                await orchestrator.on_trigger(record.topic(), envelope, headers=headers)
            else:
                await orchestrator.on_event(record.topic(), envelope, headers=headers)

    consumer = kafka_loop.consumer(
        bootstrap, f"orders-{suffix}", [trigger_topic, *(topics[t] for t in STATUS_TOPICS)]
    )
    tasks = [asyncio.create_task(drainer.run()), asyncio.create_task(orchestrator.run())]
    print("ready", flush=True)
    await kafka_loop.run(consumer, handle, stop)
    drainer.stop()
    orchestrator.stop()
    for task in tasks:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
    await db.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(*sys.argv[1:7]))
