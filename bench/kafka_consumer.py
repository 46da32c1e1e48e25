"""Consumer throughput: the runtime's consumer with no-op handlers against a raw confluent-kafka loop.

Produces N envelopes to a fresh topic (4 partitions) on the broker of BOOTSTRAP_SERVERS
(default: the one of `scripts/services`), then consumes them, in the same run, with:

- raw: a bare confluent-kafka `consume()` loop, auto-commit on, counting messages
  without reading them;
- raw+headers: the same loop reading each message's headers, which is where the tenant
  travels: confluent-kafka builds the header list on first access, and that alone costs
  more than the rest of the raw loop;
- raw+typed: the same loop also parsing the tenant and validating each envelope
  (pydantic), then calling a no-op function: the least work any tenant-scoped typed
  consumer does per message (tenants parsed once per distinct header set, as the runtime does);
- runtime: `Messaging` consumer, per-partition workers, JSON decode + pydantic
  validation, tenant headers, prefix commits, no-op handler, inbox marker off;
- runtime+inbox: the same with the in-process inbox marker per message;
- runtime+redis-inbox (with --redis): the exactly-once path against Redis, one
  transaction per message (`RedisInbox`);
- runtime+state-inbox (with --redis): the exactly-once path generated services use, the
  state store's inbox on Redis, committing runs of queued messages in one transaction;
- service: what a generated service runs, a `Service` from a description whose handler
  is a `module:function` reference: the state-store inbox (in memory, or on Redis with
  --redis, in database 9 of the test Redis, flushed after each run, or
  BENCH_SERVICE_REDIS_URL) plus a full handler `ctx` per message.

Throughput is measured from the first to the last message handled (group join excluded).
Every variant runs once per round, rounds interleaved, and the median of each is
reported with its ratio to each raw loop: the machine's noise hits all of them alike.

    python bench/kafka_consumer.py [--messages 200000] [--rounds 3] [--redis]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import BaseModel, TypeAdapter
from redis.asyncio import Redis

from atlas_runtime.messaging import MemoryStore, MessageContext, Messaging, MessagingSettings
from atlas_runtime.service.assembly import Service
from atlas_runtime.service.description import ConsumeDecl, ServiceDescription
from atlas_runtime.service.settings import ServiceSettings
from atlas_runtime.state import RedisBackend, StateStore
from atlas_runtime.tenant import Tenant

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)
PARTITIONS = 4
# a database of its own, flushed after each run of the service variant
SERVICE_REDIS = os.environ.get("BENCH_SERVICE_REDIS_URL", "redis://127.0.0.1:16379/9")


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


def raw(bootstrap: str, topic: str, count: int, *, work: str = "none") -> float:
    """A bare consume loop; `work` is "none", "headers" (read them) or "typed" (tenant, envelope, no-op)."""
    adapter = TypeAdapter(Envelope)
    tenants: dict[Any, Tenant] = {}  # parsed once per distinct header set

    def noop(tenant: Tenant, message: Envelope) -> None:
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
                if work == "headers":
                    message.headers()
                elif work == "typed":
                    headers: Any = tuple(message.headers() or ())
                    tenant = tenants.get(headers) or tenants.setdefault(
                        headers, Tenant.from_kafka_headers(headers)
                    )
                    noop(tenant, adapter.validate_json(message.value() or b""))
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
    # markers expire a minute after the run instead of filling the test Redis for a week
    messaging = Messaging(settings, store=MemoryStore(), state=state, retention=60)
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


class _Count:
    """Progress of the service variant, whose handler is imported by reference."""

    seen, target, first = 0, 0, 0.0
    done: asyncio.Event


async def service_noop(ctx: Any, message: Envelope) -> None:
    if _Count.seen == 0:
        _Count.first = time.perf_counter()
    _Count.seen += 1
    if _Count.seen == _Count.target:
        _Count.done.set()


async def service(bootstrap: str, topic: str, count: int, *, redis: bool) -> float:
    _Count.seen, _Count.target, _Count.done = 0, count, asyncio.Event()
    description = ServiceDescription(
        name="bench",
        settings=ServiceSettings,
        consumes=(ConsumeDecl("T", TypeAdapter(Envelope), {"NOOP": f"{__name__}:service_noop"}),),
    )
    settings = ServiceSettings(
        bootstrap_servers=bootstrap,
        kafka_consumer_group=f"bench-{uuid.uuid4().hex}",
        redis_url=SERVICE_REDIS if redis else None,
    )
    async with Service(description, settings=settings, environ={"T": topic}):
        await _Count.done.wait()
        elapsed = time.perf_counter() - _Count.first
    if redis:  # the service keeps its inbox markers for a week: drop them with the database
        client = Redis.from_url(SERVICE_REDIS)
        await client.flushdb()
        await client.aclose()
    return count / elapsed


RAW = ("raw consume loop", "raw + read headers", "raw + tenant + typed + no-op")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", action="store_true", help="also measure the Redis inbox paths")
    args = parser.parse_args()
    bootstrap = os.environ.get("BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:16379/0")
    topic = f"bench-{uuid.uuid4().hex[:10]}"
    produce(bootstrap, topic, args.messages)
    n, few = args.messages, min(args.messages, 50_000)
    variants: dict[str, Callable[[], float]] = {
        RAW[0]: lambda: raw(bootstrap, topic, n),
        RAW[1]: lambda: raw(bootstrap, topic, n, work="headers"),
        RAW[2]: lambda: raw(bootstrap, topic, n, work="typed"),
        "runtime, no-op handler": lambda: asyncio.run(runtime(bootstrap, topic, n, inbox=None)),
        "runtime, no-op + in-process inbox": lambda: asyncio.run(
            runtime(bootstrap, topic, n, inbox="memory")
        ),
    }
    variants["service, no-op (in-memory state)"] = lambda: asyncio.run(
        service(bootstrap, topic, n, redis=False)
    )
    if args.redis:
        variants["service, no-op (Redis state)"] = lambda: asyncio.run(
            service(bootstrap, topic, few, redis=True)
        )
        variants["runtime, no-op + Redis inbox"] = lambda: asyncio.run(
            runtime(bootstrap, topic, few, inbox="redis")
        )
        variants["runtime, no-op + state-store inbox (batched)"] = lambda: asyncio.run(
            runtime(bootstrap, topic, few, inbox="state")
        )
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        for name, run in variants.items():
            rates[name].append(run())
        print(
            f"round {round_ + 1} of {args.rounds}: " + ", ".join(f"{v[-1]:.0f}" for v in rates.values()),
            flush=True,
        )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f"{'consumer (median of ' + str(args.rounds) + ')':46} {'msg/s':>9}  vs raw  +headers  +typed")
    for name, rate in medians.items():
        ratios = "  ".join(f"{rate / medians[base]:7.0%}" for base in RAW)
        print(f"{name:46} {rate:9.0f} {ratios}")


if __name__ == "__main__":
    main()
