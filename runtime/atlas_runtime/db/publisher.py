"""What the outbox drainer publishes through: a small `Publisher` protocol and its Kafka adapter.

A publisher sends a batch and reports, per message, `None` (the broker acknowledged
it) or the error. `KafkaPublisher` wraps confluent-kafka's `Producer` as an
idempotent, acks=all producer; its blocking calls run in a worker thread, never on
the event loop. Headers are supported (the asyncio `AIOProducer` refuses them in
batch mode, library notes 1.5).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to publish."""

    topic: str
    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class PublishError(Exception):
    """A message was not acknowledged. `retriable` errors are outages, not a bad message."""

    def __init__(self, message: str, *, retriable: bool, fatal: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.fatal = fatal


class Publisher(Protocol):
    """Publishes batches and reports the outcome of each message, in order."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishError | None]:
        """Send `messages`; wait for every delivery report; `None` means acknowledged."""
        ...

    async def close(self) -> None:
        """Flush and release the underlying client."""
        ...


class KafkaPublisher:
    """An idempotent (acks=all) confluent-kafka producer used from a worker thread.

    Args:
        bootstrap_servers: comma-separated `host:port` list.
        delivery_timeout: seconds before an unacknowledged message counts as failed.
        config: extra librdkafka settings (cannot weaken idempotence).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        delivery_timeout: float = 30.0,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self._timeout = delivery_timeout
        self._lock = threading.Lock()
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "linger.ms": 5,
            "message.timeout.ms": int(delivery_timeout * 1000),
            **(config or {}),
            "enable.idempotence": True,
            "acks": "all",
        }
        self._producer = Producer(self._config)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishError | None]:
        return await asyncio.to_thread(self._publish_blocking, list(messages))

    async def close(self) -> None:
        await asyncio.to_thread(self._producer.flush, self._timeout)

    def _publish_blocking(self, messages: list[OutgoingMessage]) -> list[PublishError | None]:
        pending = PublishError("no delivery report before the timeout", retriable=True)
        results: list[PublishError | None] = [pending] * len(messages)
        with self._lock:
            for index, message in enumerate(messages):
                refused = self._produce(message, index, results)
                if refused is not None:
                    results[index] = refused
            self._producer.flush(self._timeout)
            if any(result is not None and result.fatal for result in results):
                # A fatal error ends the idempotent producer's session for good: start a new one.
                self._producer = Producer(self._config)
        return results

    def _produce(
        self, message: OutgoingMessage, index: int, results: list[PublishError | None]
    ) -> PublishError | None:
        """Queue one message; returns the error if librdkafka refuses it outright."""
        headers: list[tuple[str, str | bytes | None]] = list(message.headers)

        def on_delivery(error: KafkaError | None, _msg: object) -> None:
            results[index] = None if error is None else _publish_error(error)

        while True:
            try:
                self._producer.produce(
                    message.topic,
                    value=message.value,
                    key=message.key,
                    headers=headers,
                    on_delivery=on_delivery,
                )
                return None
            except BufferError:
                self._producer.poll(0.05)  # the local queue is full: serve delivery reports, then retry
            except KafkaException as error:
                return _publish_error(error.args[0])


def _publish_error(error: KafkaError) -> PublishError:
    # A fatal idempotence error is also a producer-wide outage rather than a bad message.
    transient = error.retriable() or error.fatal() or error.code() in _OUTAGE_CODES
    return PublishError(f"{error.name()}: {error.str()}", retriable=transient, fatal=error.fatal())


_OUTAGE_CODES = {
    KafkaError._MSG_TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TIMED_OUT,
}
