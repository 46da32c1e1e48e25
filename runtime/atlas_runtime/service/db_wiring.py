"""The database of a generated service: connect, migrate, hand out tenant sessions, drain the outbox.

PostgreSQL when `DB_HOST` is set, else SQLite (the db package announces it). At start
the service's tables and the runtime's (outbox, inbox) are brought up to date with the
db package's additive `migrate`. With `outbox: true` an `OutboxDrainer` publishes
committed outbox rows: to Kafka with `BOOTSTRAP_SERVERS`, else to the in-process bus.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from atlas_runtime.db import (
    Database,
    KafkaPublisher,
    OutboxDrainer,
    OutgoingMessage,
    PoolSpec,
    Publisher,
    PublishError,
    TenantSession,
    migrate,
)
from atlas_runtime.messaging import OutboundMessage
from atlas_runtime.service.description import DatabaseDecl

Send = Callable[[OutboundMessage], Awaitable[None]]


class BusPublisher:
    """Publishes outbox rows through the service's messaging producer (the in-process bus)."""

    def __init__(self, send: Send) -> None:
        self._send = send

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishError | None]:
        results: list[PublishError | None] = []
        for message in messages:
            try:
                await self._send(
                    OutboundMessage(message.topic, message.key, message.value or b"", message.headers)
                )
                results.append(None)
            except Exception as error:  # reported per message, as the Publisher protocol asks
                results.append(PublishError(str(error), retriable=True))
        return results

    async def close(self) -> None:
        return None


class ServiceDatabase:
    """A connected, migrated database, its session factory and (with `outbox`) its drainer."""

    def __init__(self, database: Database, sessions: Callable[[], Any]) -> None:
        self.database = database
        self.sessions = sessions
        self._drainer: OutboxDrainer | None = None
        self._publisher: Publisher | None = None
        self._draining: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, service: str, decl: DatabaseDecl, *, extra_metadata: Sequence[Any] = ()
    ) -> ServiceDatabase:
        """Connect (with retries), migrate the service's tables, prepare the session factory."""
        pool = PoolSpec(decl.max_open, decl.max_idle, decl.max_lifetime, decl.max_idle_time)
        database = await Database.connect(service, pool=pool)
        await migrate(database.engine, [decl.metadata, *extra_metadata])
        sessions = async_sessionmaker(database.engine, class_=TenantSession, expire_on_commit=False)
        return cls(database, sessions)

    def start_drainer(self, *, bootstrap_servers: str | None, send: Send | None) -> None:
        """Drain the outbox in the background: to Kafka, or through `send` (the in-process bus)."""
        if bootstrap_servers:
            self._publisher = KafkaPublisher(bootstrap_servers)
        elif send is not None:
            self._publisher = BusPublisher(send)
        else:
            return
        self._drainer = OutboxDrainer(self.database.engine, self._publisher, service=self.database.service)
        self._draining = asyncio.create_task(self._drainer.run(), name=f"outbox {self.database.service}")

    async def close(self) -> None:
        """Stop the drainer after its batch in flight, then dispose of the pool."""
        if self._drainer is not None and self._draining is not None:
            self._drainer.stop()
            try:
                await asyncio.wait_for(self._draining, 10.0)
            except TimeoutError:
                self._draining.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._draining
        if self._publisher is not None:
            await self._publisher.close()
        await self.database.close()
