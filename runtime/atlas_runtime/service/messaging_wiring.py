"""The Kafka side of a generated service, on `atlas_runtime.messaging`.

Consumers subscribe every `consumes` entry with its handlers (imported at start), its
inbox key, retry and dead-letter policy, and an optional lock around each handler call.
Handlers get the service's `Context`; their registry writes and `ctx.emit` go through the
message's unit of work, so they apply together with the inbox marker or not at all. Outside handlers
`ctx.emit` publishes directly through the producer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from atlas_runtime.errors import ConfigurationError
from atlas_runtime.messaging import MessageContext, Messaging, MessagingSettings
from atlas_runtime.service.context import run_handler
from atlas_runtime.service.description import ConsumeDecl, ServiceDescription
from atlas_runtime.service.refs import resolve
from atlas_runtime.state import StateStore

if TYPE_CHECKING:
    from atlas_runtime.service.assembly import Service

log = logging.getLogger("atlas_runtime.service")

Handler = Callable[[Any, Any], Any]


def _with_lock(decl: ConsumeDecl, handler: Handler) -> Handler:
    """Hold the declared lock, keyed by an envelope field, around each handler call."""
    assert decl.lock is not None
    lock_name, field = decl.lock.name, decl.lock.key

    async def locked(ctx: Any, message: Any) -> None:
        async with getattr(ctx.locks, lock_name)(getattr(message, field)):
            await handler(ctx, message)

    return locked


def _finishing(handler: Handler) -> Handler:
    async def call(ctx: Any, message: Any) -> None:
        await run_handler(handler, ctx, message)

    return call


def _handlers(decl: ConsumeDecl) -> dict[str, Handler]:
    handlers = {}
    for message_type, ref in sorted(decl.handlers.items()):
        handler = resolve(ref, where=f"consumes {decl.token} {message_type}")
        handlers[message_type] = _finishing(_with_lock(decl, handler) if decl.lock else handler)
    return handlers


class ServiceMessaging:
    """Producer and consumers of one service (Kafka, or the in-process bus without BOOTSTRAP_SERVERS)."""

    def __init__(
        self,
        description: ServiceDescription,
        *,
        consumer_group: str,
        environ: Mapping[str, str],
        state: StateStore,
        extra_tokens: Iterable[str] = (),
    ) -> None:
        self.description = description
        declared = {c.token for c in description.consumes} | {p.token for p in description.produces}
        tokens = sorted(declared | set(extra_tokens))
        settings = MessagingSettings.from_env(
            description.name, tokens, consumer_group=consumer_group, env=environ
        )
        # the state store makes each handler run one unit: registry writes, inbox marker
        # and emits commit together (exactly-once effects)
        self.messaging = Messaging(settings, state=state, context_factory=self._context)
        for produce in description.produces:
            self.messaging.producer.declare(produce.token, produce.message, key=produce.key)
        self._service: Service | None = None

    def _context(self, message: MessageContext) -> Any:
        assert self._service is not None, "a message arrived before the service started"
        coordinates = {"topic": message.record.topic, "partition": message.record.partition}
        claim = None
        if message.message_id is not None:  # keyed per tenant, as the Redis marker is
            claim = (message.group, f"{message.tenant.key}/{message.message_id}")
        return self._service.context(
            message.tenant,
            emitter=message,
            record=message.record,
            inbox_claim=claim,
            offset=message.record.offset,
            **coordinates,
        )

    async def start(self, service: Service) -> None:
        """Subscribe every consumed topic (importing handlers) and start producer and consumers."""
        self._service = service
        if self.description.consumes or service.sagas is not None:
            # A handler's database transaction commits as it returns, before its batch would
            # commit in Redis: with a database, each message is its own unit.
            batch: dict[str, Any] = {"max_batch": 1} if self.description.database else {}
            consumer = self.messaging.consumer(**batch)
            if service.sagas is not None:
                if service.database is None:
                    raise ConfigurationError(f"{self.description.name}: sagas need `database:` in the spec")
                service.sagas.bind(service.database.database, self.messaging.settings.topics, consumer)
            for decl in self.description.consumes:
                retry = {
                    "attempts": decl.retry.attempts,
                    "initial": decl.retry.initial,
                    "max": decl.retry.max_delay,
                }
                consumer.subscribe(
                    decl.token,
                    decl.message,
                    _handlers(decl),
                    dedupe=decl.dedupe,
                    retry=retry,
                    dead_letter=decl.dead_letter,
                )
        await self.messaging.start()

    async def stop_consuming(self) -> None:
        """Stop fetching and drain the consumers; the producer stays open for requests in flight."""
        await self.messaging.stop_consumers()

    async def stop(self) -> None:
        """Drain consumers, flush the outbox relay and close the producer."""
        await self.messaging.stop()

    async def emit(self, token: str, message: Any, *, key: object = None) -> None:
        """Publish directly (outside a message handler) and wait for the broker's confirmation."""
        await self.messaging.producer.emit(token, message, key=key)
