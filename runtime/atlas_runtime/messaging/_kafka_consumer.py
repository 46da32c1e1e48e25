"""The consumer side on Apache Kafka (confluent-kafka), for `ConsumerEngine`.

Every call into the confluent `Consumer` runs on one dedicated thread, never on the
event loop: fetches, commits, pause/resume and close are serialised there. Rebalance
callbacks run on that thread inside `consume()`; they hand over to the event loop (which
is free, awaiting that very call) to drain the partitions' in-flight handlers, then
commit the finished offsets synchronously before the partitions are given up.
Auto-commit and the automatic offset store are off: only the engine commits.
Metadata is refreshed every 10 s, so a subscribed topic created after the consumer
joined its group is consumed within seconds (`CONSUMER_DEFAULTS`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from atlas_runtime.messaging._engine import Offsets, RebalanceListener
from atlas_runtime.messaging._records import Record, TopicPartition

log = logging.getLogger("atlas_runtime.messaging.kafka")

T = TypeVar("T")

CONSUMER_DEFAULTS: Mapping[str, object] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 2_000,
    "fetch.wait.max.ms": 100,
    # A consumer that already has partitions learns of a subscribed topic created later only
    # at its next metadata refresh: librdkafka's default (5 min) outlasts saga timeouts.
    "topic.metadata.refresh.interval.ms": 10_000,
}


def _kafka_tps(offsets: Offsets) -> list[KafkaTopicPartition]:
    return [
        KafkaTopicPartition(tp.topic, tp.partition, offset) for tp, offset in sorted(offsets.items(), key=str)
    ]


def _ours(partitions: list[KafkaTopicPartition]) -> list[TopicPartition]:
    return [TopicPartition(p.topic, p.partition) for p in partitions]


class KafkaSource:
    """A confluent-kafka consumer in a consumer group.

    Args:
        servers: broker addresses.
        group: the consumer group id.
        config: extra librdkafka properties (override the defaults).
        batch: most records returned by one fetch.
        poll_timeout: seconds one fetch waits for records.
        callback_timeout: seconds a rebalance callback waits for the event loop.
    """

    def __init__(
        self,
        servers: list[str],
        group: str,
        *,
        config: Mapping[str, object] | None = None,
        batch: int = 1000,
        poll_timeout: float = 0.1,
        callback_timeout: float = 30.0,
    ) -> None:
        self._config: dict[str, object] = {
            **CONSUMER_DEFAULTS,
            "bootstrap.servers": ",".join(servers),
            "group.id": group,
            **(config or {}),
        }
        self._batch = batch
        self._poll_timeout = poll_timeout
        self._callback_timeout = callback_timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="atlas-kafka-consumer")
        self._consumer: Consumer | None = None
        self._listener: RebalanceListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open(self, topics: list[str], listener: RebalanceListener) -> None:
        self._loop = asyncio.get_running_loop()
        self._listener = listener
        await self._call(self._open, topics)

    def _open(self, topics: list[str]) -> None:
        self._consumer = Consumer(self._config, logger=log)
        self._consumer.subscribe(
            topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    # -- rebalance callbacks (consumer thread) -----------------------------------

    def _await_loop(self, coro: Coroutine[Any, Any, T]) -> T | None:
        assert self._loop is not None
        try:
            return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._callback_timeout)
        except Exception:
            log.exception("rebalance callback failed")
            return None

    def _on_assign(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        assert self._listener is not None
        self._await_loop(self._listener.assigned(_ours(partitions)))
        if partitions:
            # A pause outlives a rebalance in librdkafka; the engine starts every assignment unpaused.
            try:
                consumer.resume(partitions)
            except KafkaException:
                log.exception("could not resume newly assigned partitions")

    def _on_revoke(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        assert self._listener is not None
        offsets = self._await_loop(self._listener.revoked(_ours(partitions)))
        if offsets:
            self._commit(offsets)

    def _on_lost(self, consumer: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        assert self._listener is not None
        self._await_loop(self._listener.lost(_ours(partitions)))

    # -- consumer thread ---------------------------------------------------------

    def _commit(self, offsets: Offsets) -> None:
        assert self._consumer is not None
        try:
            self._consumer.commit(offsets=_kafka_tps(offsets), asynchronous=False)
        except KafkaException as error:
            if error.args[0].code() != KafkaError._NO_OFFSET:
                raise

    def _fetch(self, pause: set[TopicPartition], resume: set[TopicPartition]) -> list[Message]:
        assert self._consumer is not None
        if pause or resume:
            self._apply_pause(pause, resume)
        return self._consumer.consume(self._batch, self._poll_timeout)

    def _apply_pause(self, pause: set[TopicPartition], resume: set[TopicPartition]) -> None:
        assert self._consumer is not None
        owned = {(p.topic, p.partition) for p in self._consumer.assignment()}
        for wanted, action in ((pause, self._consumer.pause), (resume, self._consumer.resume)):
            tps = [
                KafkaTopicPartition(tp.topic, tp.partition)
                for tp in wanted
                if (tp.topic, tp.partition) in owned
            ]
            if tps:
                action(tps)

    # -- engine API --------------------------------------------------------------

    async def fetch(self, *, pause: set[TopicPartition], resume: set[TopicPartition]) -> list[Record]:
        messages = await self._call(self._fetch, pause, resume)
        records: list[Record] = []
        append = records.append
        for message in messages:
            error = message.error()
            if error is not None:
                self._check(error)
                continue
            append(
                Record(
                    message.topic(),  # type: ignore[arg-type]
                    message.partition(),  # type: ignore[arg-type]
                    message.offset(),  # type: ignore[arg-type]
                    message.key(),
                    message.value(),
                    message.headers() or [],  # type: ignore[arg-type]  # (str, bytes) pairs already
                )
            )
        return records

    @staticmethod
    def _check(error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", error)

    async def commit(self, offsets: Offsets) -> None:
        if offsets:
            await self._call(self._commit, offsets)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._call(self._consumer.close)
            self._consumer = None
        self._executor.shutdown(wait=False)
