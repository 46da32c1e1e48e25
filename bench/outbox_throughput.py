"""Outbox throughput and latency, commit to Kafka ack: NOTIFY wake-up vs polling only, in one run.

    scripts/services up
    python bench/outbox_throughput.py [--events 2000] [--writers 8] [--trickle 40] [--rounds 3]

Three workloads per mode, each on a fresh topic of the real broker:
- backlog: `--events` events already committed (100 per transaction) before the drainer
  starts; events/s = events / (last ack - drainer start): the drainer's own capacity;
- burst: `--writers` tasks commit `--events` single-event transactions as fast as they can
  while the drainer runs; events/s = events / (last ack - first commit), bounded by the
  commit rate of the writers;
- trickle: `--trickle` events committed 20 ms apart; commit-to-ack latency p50/p95.
Both modes use the default drainer options (batch 100, poll interval 1 s). The modes
alternate for `--rounds` rounds and each figure is the median over the rounds, which
damps the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # not re-exported in stubs

from atlas_runtime.db import (
    Database,
    DatabaseSettings,
    DrainerOptions,
    KafkaPublisher,
    OutboxDrainer,
    OutgoingMessage,
    PublishError,
    enqueue,
    migrate,
    runtime_metadata,
)
from atlas_runtime.tenant import Tenant

TENANT = Tenant(uuid.uuid4(), "GMS", 83, 1)


class TimingPublisher:
    """Records when each key was acknowledged."""

    def __init__(self, inner: KafkaPublisher) -> None:
        self.inner = inner
        self.acked: dict[bytes, float] = {}

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishError | None]:
        results = await self.inner.publish(messages)
        now = time.monotonic()
        for message, result in zip(messages, results, strict=True):
            if result is None:
                self.acked.setdefault(message.key, now)
        return results

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class Figures:
    backlog_per_s: float
    events_per_s: float
    p50_ms: float
    p95_ms: float


def create_topic(bootstrap: str) -> str:
    name = f"atlas-bench-outbox-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)]).values():
        future.result(timeout=15)
    return name


async def commit_event(db: Database, topic: str, key: str, committed: dict[bytes, float]) -> None:
    async with db.tenant_session(TENANT) as session:
        await enqueue(session, topic, key, b"x" * 200)
    committed[key.encode()] = time.monotonic()


async def wait_acked(timing: TimingPublisher, keys: set[bytes]) -> None:
    while not keys <= timing.acked.keys():
        await asyncio.sleep(0.005)


async def burst(db: Database, timing: TimingPublisher, topic: str, events: int, writers: int) -> float:
    committed: dict[bytes, float] = {}
    queue = iter(range(events))

    async def writer() -> None:
        for i in queue:
            await commit_event(db, topic, f"burst-{i}", committed)

    await asyncio.gather(*(writer() for _ in range(writers)))
    await wait_acked(timing, set(committed))
    first = min(committed.values())
    last = max(timing.acked[k] for k in committed)
    return events / (last - first)


async def trickle(db: Database, timing: TimingPublisher, topic: str, count: int) -> list[float]:
    committed: dict[bytes, float] = {}
    for i in range(count):
        await commit_event(db, topic, f"trickle-{i}", committed)
        await asyncio.sleep(0.02)
    await wait_acked(timing, set(committed))
    return [(timing.acked[k] - t) * 1000 for k, t in committed.items()]


async def prefill(db: Database, topic: str, events: int) -> set[bytes]:
    keys = [f"backlog-{i}" for i in range(events)]
    for start in range(0, events, 100):
        async with db.tenant_session(TENANT) as session:
            for key in keys[start : start + 100]:
                await enqueue(session, topic, key, b"x" * 200)
    return {key.encode() for key in keys}


async def run_mode(db: Database, bootstrap: str, *, notify: bool, args: argparse.Namespace) -> Figures:
    timing = TimingPublisher(KafkaPublisher(bootstrap))
    options = DrainerOptions(use_notify=notify)
    drainer = OutboxDrainer(db.engine, timing, service=f"bench-{notify}", options=options)
    backlog = await prefill(db, create_topic(bootstrap), args.events)
    started = time.monotonic()
    task = asyncio.create_task(drainer.run())
    try:
        await wait_acked(timing, backlog)
        backlog_rate = args.events / (max(timing.acked[k] for k in backlog) - started)
        await asyncio.sleep(0.2)  # let the leader settle into its wait
        rate = await burst(db, timing, create_topic(bootstrap), args.events, args.writers)
        latencies = await trickle(db, timing, create_topic(bootstrap), args.trickle)
    finally:
        drainer.stop()
        await task
        await timing.close()
    quantiles = statistics.quantiles(latencies, n=20)
    return Figures(backlog_rate, rate, statistics.median(latencies), quantiles[18])


def median_figures(runs: list[Figures]) -> Figures:
    return Figures(
        statistics.median(r.backlog_per_s for r in runs),
        statistics.median(r.events_per_s for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p95_ms for r in runs),
    )


async def main(args: argparse.Namespace) -> None:
    host, port = os.environ.get("DB_HOST", "127.0.0.1"), int(os.environ.get("DB_PORT", "15432"))
    user, admin_db = os.environ.get("DB_USER", "atlas"), os.environ.get("DB_NAME", "atlas_test")
    bootstrap = os.environ.get("BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    name = f"atlas_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host=host, port=port, user=user, dbname=admin_db, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = DatabaseSettings(host=host, port=port, user=user, name=name, sslmode="disable")
        db = await Database.connect("bench", settings=settings)
        await migrate(db.engine, runtime_metadata, include_runtime_tables=False)
        rounds: dict[bool, list[Figures]] = {True: [], False: []}
        for _ in range(args.rounds):
            for mode in (True, False):
                rounds[mode].append(await run_mode(db, bootstrap, notify=mode, args=args))
        notify, poll = median_figures(rounds[True]), median_figures(rounds[False])
        await db.close()
    finally:
        with psycopg.connect(host=host, port=port, user=user, dbname=admin_db, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"outbox, commit -> Kafka ack ({args.events} burst events, {args.writers} writers, "
        f"{args.trickle} trickle events; median of {args.rounds} rounds)"
    )
    print(f"{'mode':<14}{'backlog ev/s':>14}{'burst ev/s':>12}{'p50 ms':>10}{'p95 ms':>10}")
    for label, f in (("LISTEN/NOTIFY", notify), ("polling (1s)", poll)):
        print(f"{label:<14}{f.backlog_per_s:>14.0f}{f.events_per_s:>12.0f}{f.p50_ms:>10.1f}{f.p95_ms:>10.1f}")
    print(
        f"ratio notify/poll: backlog x{notify.backlog_per_s / poll.backlog_per_s:.2f}, "
        f"burst x{notify.events_per_s / poll.events_per_s:.2f}, "
        f"p50 latency x{notify.p50_ms / poll.p50_ms:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--trickle", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
