"""A small at-least-once Kafka loop shared by the test processes.

Fetches a batch (in a worker thread), runs `handle` for every record, partitions
concurrently and each partition in order, retries a failing record in place, then
commits the batch's offsets synchronously before fetching again. A SIGKILL between
handling and committing redelivers the batch: that is the point of the exercise.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import defaultdict
from collections.abc import Awaitable, Callable

from confluent_kafka import Consumer, Message

log = logging.getLogger("saga-test")

Handler = Callable[[Message], Awaitable[None]]


def consumer(bootstrap: str, group: str, topics: list[str]) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "fetch.wait.max.ms": 20,
            "partition.assignment.strategy": "cooperative-sticky",
        }
    )
    c.subscribe(topics)
    return c


async def run(
    c: Consumer,
    handle: Handler,
    stop: asyncio.Event,
    before_commit: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Consume until `stop` is set, then close; `before_commit` runs before each commit."""
    try:
        while not stop.is_set():
            batch = await asyncio.to_thread(c.consume, 200, 0.1)
            records = [m for m in batch if m.error() is None]
            if not records:
                continue
            by_partition: dict[tuple[str, int], list[Message]] = defaultdict(list)
            for record in records:
                by_partition[(record.topic(), record.partition())].append(record)
            await asyncio.gather(*(_in_order(handle, part) for part in by_partition.values()))
            if before_commit is not None:
                await before_commit()
            await asyncio.to_thread(c.commit, asynchronous=False)
    finally:
        await asyncio.to_thread(c.close)


async def _in_order(handle: Handler, records: list[Message]) -> None:
    for record in records:
        while True:
            try:
                await handle(record)
                break
            except Exception as error:  # retried in place: the message must not be lost
                log.warning(
                    "retrying %s[%d]@%d: %r", record.topic(), record.partition(), record.offset(), error
                )
                await asyncio.sleep(0.05)


def stop_on_sigterm() -> asyncio.Event:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    return stop
