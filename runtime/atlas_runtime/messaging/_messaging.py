"""One service's messaging, built from its settings: producer, consumers, inbox and outbox relay.

With `BOOTSTRAP_SERVERS` set the broker is Kafka, otherwise the process-wide in-process
bus (and a warning says so). Given the service's `StateStore`, the inbox commits
through the store's unit of work (registry writes, marker and emits in one MULTI/EXEC)
and an outbox relay publishes the emits. Without one: with `REDIS_URL` set the inbox,
the handlers' staged effects and the outbox live in Redis, relayed to the broker by an
`OutboxRelay`; otherwise they live in process memory and committed emits are produced
directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any

from redis.asyncio import Redis

from atlas_runtime.messaging._config import MessagingSettings
from atlas_runtime.messaging._consumer import Consumer
from atlas_runtime.messaging._context import ContextFactory
from atlas_runtime.messaging._engine import ConsumerSource
from atlas_runtime.messaging._inbox import DEFAULT_RETENTION, Inbox
from atlas_runtime.messaging._kafka_consumer import KafkaSource
from atlas_runtime.messaging._kafka_producer import KafkaProducerBackend
from atlas_runtime.messaging._memory import MemoryBroker, MemoryProducerBackend, MemorySource
from atlas_runtime.messaging._memory_inbox import MemoryInbox, MemoryStore
from atlas_runtime.messaging._outbox import OutboxRelay
from atlas_runtime.messaging._producer import Producer, ProducerBackend
from atlas_runtime.messaging._records import OutboundMessage
from atlas_runtime.messaging._redis_inbox import RedisInbox
from atlas_runtime.messaging._state_inbox import StateInbox, StateOutboxRelay
from atlas_runtime.state import StateStore

log = logging.getLogger("atlas_runtime.messaging")

_default_broker: MemoryBroker | None = None
_default_store: MemoryStore | None = None


def default_broker() -> MemoryBroker:
    """The process-wide in-process bus, shared by every embedded service of the process."""
    global _default_broker
    if _default_broker is None:
        _default_broker = MemoryBroker()
    return _default_broker


def default_store() -> MemoryStore:
    """The process-wide in-process inbox store, shared like the in-process bus."""
    global _default_store
    if _default_store is None:
        _default_store = MemoryStore()
    return _default_store


class Messaging:
    """Messaging of one service.

    Args:
        settings: resolved settings (`MessagingSettings.from_env`).
        broker: the in-process bus to use when no Kafka broker is configured.
        redis: an asyncio Redis client for the inbox and outbox (default: from `redis_url`).
        store: the in-process inbox store when there is no Redis (default: process-wide).
        state: the service's state store; when given, the inbox commits through its unit of
            work, so registry writes, marker and emits are one atomic step (preferred).
        key_prefix: first segment of the Redis inbox and outbox keys (without a state store).
        retention: seconds processed-message markers are kept.
        context_factory: wraps each `MessageContext` into what handlers receive.
    """

    def __init__(
        self,
        settings: MessagingSettings,
        *,
        broker: MemoryBroker | None = None,
        redis: Redis | None = None,
        store: MemoryStore | None = None,
        state: StateStore | None = None,
        key_prefix: str = "atlas",
        retention: float = DEFAULT_RETENTION,
        context_factory: ContextFactory | None = None,
    ) -> None:
        self.settings = settings
        self._context_factory = context_factory
        self._consumers: list[Consumer] = []
        self._relay_task: asyncio.Task[None] | None = None
        self.broker = None if not settings.embedded else (broker or default_broker())
        self.producer = Producer(self._producer_backend(), settings.topics)
        self.relay: OutboxRelay | None = None
        self._key_prefix = key_prefix
        self.inbox = (
            self._state_inbox(state, retention) if state is not None else self._inbox(redis, store, retention)
        )

    @classmethod
    def from_env(
        cls,
        service: str,
        tokens: Iterable[str],
        *,
        consumer_group: str | None = None,
        kafka_config: Mapping[str, object] | None = None,
        **options: Any,
    ) -> Messaging:
        """Messaging of `service` configured from the environment (see `MessagingSettings.from_env`)."""
        settings = MessagingSettings.from_env(
            service, tokens, consumer_group=consumer_group, kafka_config=kafka_config
        )
        return cls(settings, **options)

    def _producer_backend(self) -> ProducerBackend:
        if self.broker is not None:
            log.warning(
                "BOOTSTRAP_SERVERS is unset: %s uses the in-process message bus", self.settings.service
            )
            return MemoryProducerBackend(self.broker)
        return KafkaProducerBackend(self.settings.bootstrap_servers, config=self.settings.kafka_config)

    def _inbox(self, redis: Redis | None, store: MemoryStore | None, retention: float) -> Inbox:
        if redis is None and self.settings.redis_url:
            redis = Redis.from_url(self.settings.redis_url)
        if redis is None:
            return MemoryInbox(self._publish_all, store=store or default_store(), retention=retention)
        outbox_key = f"{self._key_prefix}:outbox:{self.settings.service}"
        self.relay = OutboxRelay(redis, outbox_key, self.producer.send)
        return RedisInbox(
            redis,
            outbox_key=outbox_key,
            prefix=self._key_prefix,
            retention=retention,
            on_commit=self.relay.wake,
        )

    def _state_inbox(self, state: StateStore, retention: float) -> Inbox:
        outbox_key = state.internal_key("outbox", "events", scope="global")
        self.relay = StateOutboxRelay(state, outbox_key, self.producer.send)
        return StateInbox(state, outbox_key=outbox_key, retention=retention, on_commit=self.relay.wake)

    async def _publish_all(self, messages: list[OutboundMessage]) -> None:
        await asyncio.gather(*(self.producer.send(message) for message in messages))

    def _source(self, **options: Any) -> ConsumerSource:
        if self.broker is not None:
            return MemorySource(self.broker, self.settings.consumer_group, **options)
        return KafkaSource(
            self.settings.bootstrap_servers,
            self.settings.consumer_group,
            config=self.settings.kafka_config,
            **options,
        )

    def consumer(self, *, source_options: Mapping[str, Any] | None = None, **engine_options: Any) -> Consumer:
        """A new consumer in the service's consumer group; `subscribe` to it, then `start` it.

        Args:
            source_options: passed to the broker source (e.g. `batch`, `poll_timeout`).
            engine_options: passed to `ConsumerEngine` (e.g. `drain_timeout`).
        """
        consumer = Consumer(
            self._source(**dict(source_options or {})),
            group=self.settings.consumer_group,
            topics=self.settings.topics,
            inbox=self.inbox,
            producer=self.producer,
            context_factory=self._context_factory,
            **engine_options,
        )
        self._consumers.append(consumer)
        return consumer

    async def start(self) -> None:
        """Connect the producer, start the outbox relay and every consumer created so far."""
        await self.producer.start()
        if self.relay is not None and self._relay_task is None:
            self._relay_task = asyncio.create_task(self.relay.run(), name="atlas-outbox-relay")
        for consumer in self._consumers:
            await consumer.start()

    async def stop_consumers(self) -> None:
        """Stop fetching, drain in-flight handlers and commit, in every consumer (idempotent)."""
        await asyncio.gather(*(_bounded(c.stop(), 60.0, "stopping a consumer") for c in self._consumers))

    async def stop(self) -> None:
        """Stop consumers (draining them), relay what the outbox holds, then close everything."""
        await self.stop_consumers()
        if self._relay_task is not None:
            task, self._relay_task = self._relay_task, None
            assert self.relay is not None
            self.relay.stop()
            _, pending = await asyncio.wait({task}, timeout=10.0)
            if pending:
                task.cancel()
                await asyncio.wait({task}, timeout=5.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.relay.relay_once(), 10.0)
        await _bounded(self.producer.close(), 30.0, "closing the producer")
        await _bounded(self.inbox.close(), 10.0, "closing the inbox")


async def _bounded(step: Coroutine[Any, Any, None], timeout: float, what: str) -> None:
    """Run a shutdown step, giving up (loudly) after `timeout` so shutdown always ends."""
    try:
        await asyncio.wait_for(step, timeout)
    except TimeoutError:
        log.error("%s took over %.0fs; continuing the shutdown without it", what, timeout)
