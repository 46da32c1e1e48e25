"""Consumer throughput: the runtime's consumer with no-op handlers against a raw confluent-kafka loop.

Produces N envelopes to a fresh topic (4 partitions) on the broker of BOOTSTRAP_SERVERS
(default: the one of `scripts/services`), then consumes them, in the same run, with:

- raw: a bare confluent-kafka `consume()` loop, auto-commit on, counting messages;
- raw+decode: the same loop also parsing and validating each envelope (pydantic) and
  calling a no-op function: the least work any typed consumer does per message;
- runtime: `Messaging` consumer, per-partition workers, JSON decode + pydantic
  validation, tenant headers, prefix commits, no-op handler, inbox marker off;
- runtime+inbox: the same with the in-process inbox marker per message;
- runtime+redis-inbox (with --redis): the exactly-once path against Redis, one
  transaction per message (`RedisInbox`);
- runtime+state-inbox (with --redis): the exactly-once path generated services use, the
  state store's inbox on Redis, committing runs of queued messages in one transaction.

Throughput is measured from the first to the last message handled (group join excluded).

    python bench/kafka_consumer.py [--messages 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import BaseModel, TypeAdapter
from pydantic_core import from_json

from atlas_runtime.messaging import MemoryStore, MessageContext, Messaging, MessagingSettings
from atlas_runtime.state import RedisBackend, StateStore
from atlas_runtime.tenant import Tenant

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)
PARTITIONS = 4


class Envelope(BaseModel):
    type: str
    body: dict[str, Any]
    key: str


def produce(bootstrap: str, topic: str, count: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS)]).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000})
    headers = TENANT.kafka_headers()
    for n in range(count):
        value = json.dumps({"type": "NOOP", "body": {"n": n, "name": "x" * 40}, "key": f"k{n % 1000}"})
        while True:
            try:
                producer.produce(topic, value=value.encode(), key=f"k{n % 1000}".encode(), headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def raw(bootstrap: str, topic: str, count: int, *, decode: bool = False) -> float:
    """A bare consume loop; with `decode`, it also parses and validates each envelope and calls a no-op."""
    adapter = TypeAdapter(Envelope)

    def noop(message: Envelope) -> None:
        return None

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"raw-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    consumer.subscribe([topic])
    seen, first = 0, 0.0
    while seen < count:
        for message in consumer.consume(1000, 1.0):
            if message.error() is None:
                if seen == 0:
                    first = time.perf_counter()
                seen += 1
                if decode:
                    noop(adapter.validate_python(from_json(message.value() or b"")))
    elapsed = time.perf_counter() - first
    consumer.close()
    return count / elapsed


async def runtime(bootstrap: str, topic: str, count: int, *, inbox: str | None) -> float:
    settings = MessagingSettings(
        service="bench",
        topics={"T": topic},
        consumer_group=f"bench-{uuid.uuid4().hex}",
        bootstrap_servers=[bootstrap],
        redis_url=os.environ.get("REDIS_URL") if inbox == "redis" else None,
    )
    state = None
    if inbox == "state":
        state = StateStore(RedisBackend.from_url(os.environ["REDIS_URL"]), service="bench", prefix="bench")
    messaging = Messaging(settings, store=MemoryStore(), state=state)
    seen, first, done = 0, 0.0, asyncio.Event()

    async def noop(ctx: MessageContext, message: Envelope) -> None:
        nonlocal seen, first
        if seen == 0:
            first = time.perf_counter()
        seen += 1
        if seen == count:
            done.set()

    consumer = messaging.consumer()
    consumer.subscribe("T", Envelope, {"NOOP": noop}, idempotent=inbox is not None)
    await messaging.start()
    await done.wait()
    elapsed = time.perf_counter() - first
    await messaging.stop()
    if state is not None:
        await state.aclose()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--redis", action="store_true", help="also measure the Redis inbox path")
    args = parser.parse_args()
    bootstrap = os.environ.get("BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:16379/0")
    topic = f"bench-{uuid.uuid4().hex[:10]}"
    produce(bootstrap, topic, args.messages)
    results = {"raw confluent-kafka (auto-commit)": raw(bootstrap, topic, args.messages)}
    results["raw + decode + validate + no-op call"] = raw(bootstrap, topic, args.messages, decode=True)
    results["runtime, no-op handler"] = asyncio.run(runtime(bootstrap, topic, args.messages, inbox=None))
    results["runtime, no-op + in-process inbox"] = asyncio.run(
        runtime(bootstrap, topic, args.messages, inbox="memory")
    )
    if args.redis:
        results["runtime, no-op + Redis inbox"] = asyncio.run(
            runtime(bootstrap, topic, min(args.messages, 50_000), inbox="redis")
        )
        results["runtime, no-op + state-store inbox (batched)"] = asyncio.run(
            runtime(bootstrap, topic, min(args.messages, 50_000), inbox="state")
        )
    base = results["raw confluent-kafka (auto-commit)"]
    print(f"{'consumer':40} {'msg/s':>10} {'vs raw':>8}")
    for name, rate in results.items():
        print(f"{name:40} {rate:10.0f} {rate / base:8.0%}")


if __name__ == "__main__":
    main()
