"""The producer side on Apache Kafka (confluent-kafka), for `Producer`.

The confluent `Producer` is idempotent (`enable.idempotence=true`, hence acks=all and
ordered retries) and keyed with the Java client's partitioner (`murmur2_random`), so a
key lands on the same partition whichever client produced it. `produce()` only enqueues;
a dedicated poll thread serves delivery callbacks, which resolve the caller's future on
the event loop. `send` returns once the broker acknowledged the message. The sync
`Producer` is used rather than `AIOProducer` because the latter cannot send headers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from atlas_runtime.errors import BackendUnavailable
from atlas_runtime.messaging._errors import DeliveryFailed
from atlas_runtime.messaging._records import OutboundMessage

log = logging.getLogger("atlas_runtime.messaging.kafka")

PRODUCER_DEFAULTS: Mapping[str, object] = {
    "enable.idempotence": True,
    "acks": "all",
    "partitioner": "murmur2_random",
    "linger.ms": 5,
    "message.timeout.ms": 60_000,
}


class KafkaProducerBackend:
    """An idempotent confluent-kafka producer with its own poll thread.

    Args:
        servers: broker addresses.
        config: extra librdkafka properties (override the defaults).
        close_timeout: seconds `close()` waits for queued messages.
    """

    def __init__(
        self, servers: list[str], *, config: Mapping[str, object] | None = None, close_timeout: float = 10.0
    ) -> None:
        self._config: dict[str, object] = {
            **PRODUCER_DEFAULTS,
            "bootstrap.servers": ",".join(servers),
            **(config or {}),
        }
        self._close_timeout = close_timeout
        self._producer: Producer | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    async def start(self) -> None:
        if self._producer is not None:
            return
        self._producer = Producer(self._config, logger=log)
        self._closing.clear()
        self._thread = threading.Thread(target=self._poll, name="atlas-kafka-producer", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        producer = self._producer
        assert producer is not None
        while not self._closing.is_set():
            producer.poll(0.05)

    async def send(self, message: OutboundMessage) -> None:
        """Produce `message`; returns when the broker acknowledged it."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def delivered(error: KafkaError | None, _: Message) -> None:
            loop.call_soon_threadsafe(_resolve, future, message.topic, error)

        while True:
            try:
                self._producer.produce(
                    message.topic,
                    value=message.value,
                    key=message.key,
                    headers=list[tuple[str, str | bytes | None]](message.headers),
                    on_delivery=delivered,
                )
                break
            except BufferError:  # local queue full: let the poll thread drain it
                await asyncio.sleep(0.01)
        await future

    async def ping(self, timeout: float = 2.0) -> None:
        """Raise `BackendUnavailable` unless a broker answers a metadata request within `timeout`."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        try:  # list_topics blocks: off the event loop
            await asyncio.to_thread(self._producer.list_topics, timeout=timeout)
        except KafkaException as error:
            raise BackendUnavailable("Kafka", str(self._config["bootstrap.servers"]), error) from None

    async def close(self) -> None:
        """Deliver queued messages (bounded by `close_timeout`) and stop the poll thread."""
        if self._producer is None:
            return
        producer, self._producer = self._producer, None
        left = await asyncio.get_running_loop().run_in_executor(None, producer.flush, self._close_timeout)
        if left:
            log.error("%d produced messages were not delivered before close", left)
        self._closing.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 5.0)


def _resolve(future: asyncio.Future[None], topic: str, error: KafkaError | None) -> None:
    if future.done():  # the caller was cancelled
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(DeliveryFailed(topic, str(error)))
