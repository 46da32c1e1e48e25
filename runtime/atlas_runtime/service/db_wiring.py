"""The database of a generated service: connect, migrate, hand out tenant sessions, drain the outbox.

PostgreSQL when `DB_HOST` is set, else SQLite (the db package announces it). At start
the service's tables and the runtime's (outbox, inbox) are brought up to date with the
db package's additive `migrate`. With `outbox: true` an `OutboxDrainer` publishes
committed outbox rows: to Kafka with `BOOTSTRAP_SERVERS`, else to the in-process bus.
A service that consumes messages claims each one in the inbox table (see
`service.context.Context.begin`); an hourly sweep deletes claims past their retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atlas_runtime.db import (
    Database,
    KafkaPublisher,
    OutboxDrainer,
    OutgoingMessage,
    PoolSpec,
    Publisher,
    PublishError,
    TenantSession,
    inbox,
    migrate,
)
from atlas_runtime.messaging import OutboundMessage
from atlas_runtime.service.description import DatabaseDecl

Send = Callable[[OutboundMessage], Awaitable[None]]

INBOX_SWEEP_INTERVAL = 3600.0
log = logging.getLogger("atlas_runtime.service")


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
        self._sweeping: asyncio.Task[None] | None = None

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

    def start_inbox_sweeper(self, interval: float = INBOX_SWEEP_INTERVAL) -> None:
        """Delete inbox claims older than the retention every `interval` seconds (any replica may)."""

        async def sweep_forever() -> None:
            while True:
                try:
                    async with AsyncSession(self.database.engine) as session, session.begin():
                        deleted = await inbox.sweep(session)
                    log.debug("swept %d inbox claims of %s", deleted, self.database.service)
                except Exception:
                    log.exception("sweeping the inbox of %s failed; retrying later", self.database.service)
                await asyncio.sleep(interval)

        self._sweeping = asyncio.create_task(sweep_forever(), name=f"inbox sweep {self.database.service}")

    async def close(self) -> None:
        """Stop the drainer after its batch in flight, then dispose of the pool."""
        if self._sweeping is not None:
            self._sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeping
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
