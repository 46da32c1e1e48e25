"""The outbox drainer: publishes committed outbox rows to Kafka, on one replica at a time.

Leadership (PostgreSQL): each replica opens one dedicated connection outside the pool
and tries `pg_try_advisory_lock` on a key derived from the service name; the holder
drains, the others retry every poll interval. The lock dies with that connection, which
the leader exercises on every wait (LISTEN or `SELECT 1`), so a lost connection ends
leadership at once instead of going unnoticed. On SQLite (one process) there is no
election and no NOTIFY: the drainer polls.

A batch, in one transaction: `SELECT ... FOR UPDATE SKIP LOCKED`, publish, wait for
every delivery report, mark the acknowledged rows sent. A message the broker rejects
counts an attempt; after `max_attempts` its row moves to `atlas_outbox_dead` so later
rows keep flowing. An outage (timeouts, broker down) counts no attempt: the drainer
backs off with full jitter and keeps its leadership. A full batch is followed at once
by the next one; otherwise the leader sleeps until a NOTIFY or the poll interval.

A leader whose lock connection breaks in the middle of a batch finishes that batch
before it notices; `SKIP LOCKED` keeps it and the next leader from publishing the same
rows meanwhile.

Delivery is at least once: a crash between the broker's ack and the commit republishes
the batch, so consumers deduplicate on the `EVENT_ID` header (see `inbox.py`). Order
follows row ids, except that a failed row is retried after rows published behind it.

Metrics (prometheus-client, label `service`): `atlas_outbox_backlog`,
`atlas_outbox_leader`, `atlas_outbox_published_total`, `atlas_outbox_dead_lettered_total`,
`atlas_outbox_publish_failures_total`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from prometheus_client import Counter, Gauge
from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from atlas_runtime.db.locks import advisory_key
from atlas_runtime.db.outbox import NOTIFY_CHANNEL, decode_headers
from atlas_runtime.db.publisher import OutgoingMessage, Publisher, PublishError
from atlas_runtime.db.tables import outbox_dead_table, outbox_table
from atlas_runtime.retry import DB_CONNECT, KAFKA_PRODUCE

log = logging.getLogger("atlas_runtime.db.outbox")

BACKLOG = Gauge("atlas_outbox_backlog", "Outbox rows committed but not yet published", ["service"])
LEADER = Gauge("atlas_outbox_leader", "1 while this process is the outbox drainer", ["service"])
PUBLISHED = Counter("atlas_outbox_published", "Outbox events acknowledged by the broker", ["service"])
DEAD_LETTERED = Counter("atlas_outbox_dead_lettered", "Outbox rows moved to atlas_outbox_dead", ["service"])
FAILURES = Counter(
    "atlas_outbox_publish_failures", "Outbox events the broker did not acknowledge", ["service"]
)

_SWEEP_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class DrainerOptions:
    """Tuning of an `OutboxDrainer`; durations in seconds."""

    batch_size: int = 100
    poll_interval: float = 1.0
    use_notify: bool = True
    max_attempts: int = 10
    retention: float = 7 * 86400.0
    sweep_interval: float = 3600.0


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    fetched: int
    published: int
    outage: bool


class OutboxDrainer:
    """Drains one service's outbox to a `Publisher` while this replica holds the leadership.

    Args:
        engine: the service's engine.
        publisher: where events go (e.g. `KafkaPublisher`).
        service: the service name; keys the leader lock and labels the metrics.
        options: batch size, intervals, attempts, retention.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        *,
        service: str,
        options: DrainerOptions | None = None,
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.service = service
        self.options = options or DrainerOptions()
        self.is_leader = False
        self.terms = 0  # how many times this drainer became the leader
        self._stopping = asyncio.Event()
        self._postgres = engine.dialect.name == "postgresql"

    async def run(self) -> None:
        """Drain until `stop()`; errors are logged and retried with backoff, never raised."""
        self._stopping.clear()
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._serve_one_term()
                failures = 0
            except Exception as error:
                failures += 1
                log.warning("outbox drainer of %s failed, retrying: %r", self.service, error)
                await self._pause(DB_CONNECT.backoff(min(failures, 8)))

    async def _serve_one_term(self) -> None:
        try:
            if self._postgres:
                await self._lead_when_elected()
            else:
                await self._lead(None)
        finally:
            # Before any backoff: a replica that lost its lock must stop calling itself leader.
            self._set_leader(False)

    def stop(self) -> None:
        """Ask `run()` to return after the batch in flight."""
        self._stopping.set()

    async def drain_once(self) -> BatchOutcome:
        """Publish one batch of pending rows (no leadership check: the caller must hold it)."""
        async with self.engine.begin() as conn:
            rows = list((await conn.execute(self._pending_batch())).all())
            if not rows:
                return BatchOutcome(0, 0, outage=False)
            results = await self._publish(rows)
            published = [row.id for row, result in zip(rows, results, strict=True) if result is None]
            if published:
                await conn.execute(
                    update(outbox_table)
                    .where(outbox_table.c.id.in_(published))
                    .values(sent_at=datetime.now(UTC), last_error=None)
                )
            outage = False
            for row, result in zip(rows, results, strict=True):
                if result is not None:
                    outage = outage or result.retriable
                    await self._record_failure(conn, row, result)
        PUBLISHED.labels(self.service).inc(len(published))
        FAILURES.labels(self.service).inc(len(rows) - len(published))
        return BatchOutcome(len(rows), len(published), outage)

    async def backlog(self) -> int:
        """Rows committed and not yet published; also sets the `atlas_outbox_backlog` gauge."""
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(outbox_table).where(outbox_table.c.sent_at.is_(None))
            )
        BACKLOG.labels(self.service).set(count or 0)
        return int(count or 0)

    async def sweep(self) -> int:
        """Delete rows published longer ago than the retention; returns how many."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.options.retention)
        old = select(outbox_table.c.id).where(outbox_table.c.sent_at < cutoff).limit(_SWEEP_CHUNK)
        total = 0
        while True:
            async with self.engine.begin() as conn:
                # Chunked so a large backlog of old rows never holds locks for long.
                result = await conn.execute(
                    delete(outbox_table).where(outbox_table.c.id.in_(old.scalar_subquery()))
                )
            deleted = int(result.rowcount)
            total += deleted
            if deleted < _SWEEP_CHUNK:
                return total

    # -- leadership ---------------------------------------------------------------

    async def _lead_when_elected(self) -> None:
        async with await psycopg.AsyncConnection.connect(**self._conninfo()) as lock_conn:
            key = advisory_key(f"atlas:outbox:{self.service}")
            while not await self._try_lock(lock_conn, key):
                if await self._pause(self.options.poll_interval):
                    return
            log.info("outbox.lock_acquired service=%s", self.service)
            if self.options.use_notify:
                await lock_conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            await self._lead(lock_conn)
        # Closing the connection released the lock.

    @staticmethod
    async def _try_lock(conn: psycopg.AsyncConnection[Any], key: int) -> bool:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        row = await cursor.fetchone()
        return bool(row and row[0])

    def _conninfo(self) -> dict[str, Any]:
        url = self.engine.url
        info: dict[str, Any] = {
            "host": url.host,
            "port": url.port or 5432,
            "user": url.username,
            "dbname": url.database,
            "autocommit": True,
            "connect_timeout": 10,
        }
        if url.password:
            info["password"] = url.password
        if "sslmode" in url.query:
            info["sslmode"] = url.query["sslmode"]
        return info

    # -- the leader's loop ----------------------------------------------------------

    async def _lead(self, lock_conn: psycopg.AsyncConnection[Any] | None) -> None:
        self._set_leader(True)
        next_sweep = time.monotonic()
        outages = 0
        while not self._stopping.is_set():
            if time.monotonic() >= next_sweep:
                swept = await self.sweep()
                log.info("outbox.sweeper_run service=%s deleted=%d", self.service, swept)
                next_sweep = time.monotonic() + self.options.sweep_interval
            outcome = await self.drain_once()
            await self.backlog()
            if outcome.outage:
                outages += 1
                await self._pause(KAFKA_PRODUCE.backoff(outages))
                continue
            outages = 0
            if outcome.fetched < self.options.batch_size:
                await self._wait_for_work(lock_conn)
            elif lock_conn is not None:
                await lock_conn.execute("SELECT 1")  # still holding the lock before the next batch?

    async def _wait_for_work(self, lock_conn: psycopg.AsyncConnection[Any] | None) -> None:
        """Sleep until a NOTIFY or the poll interval, proving the lock connection alive meanwhile."""
        interval = self.options.poll_interval
        if lock_conn is None:
            await self._pause(interval)
        elif self.options.use_notify:
            await self._until_stopped(self._next_notify(lock_conn, interval))
        else:
            await lock_conn.execute("SELECT 1")
            await self._pause(interval)

    @staticmethod
    async def _next_notify(lock_conn: psycopg.AsyncConnection[Any], interval: float) -> None:
        async for _ in lock_conn.notifies(timeout=interval, stop_after=1):
            pass

    async def _until_stopped(self, work: Coroutine[Any, Any, None]) -> None:
        """Await `work`, abandoning it if `stop()` is called first."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        task.result()

    # -- one batch ------------------------------------------------------------------

    def _pending_batch(self) -> Any:
        statement = (
            select(outbox_table)
            .where(outbox_table.c.sent_at.is_(None))
            .order_by(outbox_table.c.id)
            .limit(self.options.batch_size)
        )
        return statement.with_for_update(skip_locked=True) if self._postgres else statement

    async def _publish(self, rows: list[Row[Any]]) -> list[PublishError | None]:
        messages = [OutgoingMessage(r.topic, r.key, r.value, decode_headers(r.headers)) for r in rows]
        try:
            return await self.publisher.publish(messages)
        except Exception as error:  # the publisher itself broke: treat it as an outage
            log.warning("outbox.publish_failed service=%s: %r", self.service, error)
            return [PublishError(repr(error), retriable=True) for _ in rows]

    async def _record_failure(self, conn: AsyncConnection, row: Row[Any], error: PublishError) -> None:
        where = outbox_table.c.id == row.id
        if error.retriable:
            await conn.execute(update(outbox_table).where(where).values(last_error=str(error)))
            return
        attempts = row.attempts + 1
        if attempts < self.options.max_attempts:
            await conn.execute(
                update(outbox_table).where(where).values(attempts=attempts, last_error=str(error))
            )
            return
        log.error(
            "outbox.dead_lettered service=%s id=%s topic=%s: %s", self.service, row.id, row.topic, error
        )
        await conn.execute(
            insert(outbox_dead_table).values(
                id=row.id,
                event_id=row.event_id,
                topic=row.topic,
                key=row.key,
                value=row.value,
                headers=row.headers,
                created_at=row.created_at,
                attempts=attempts,
                last_error=str(error),
                dead_at=datetime.now(UTC),
            )
        )
        await conn.execute(delete(outbox_table).where(where))
        DEAD_LETTERED.labels(self.service).inc()

    # -- waiting and state ---------------------------------------------------------------

    async def _pause(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when `stop()` was called."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    def _set_leader(self, leader: bool) -> None:
        if leader and not self.is_leader:
            self.terms += 1
        self.is_leader = leader
        LEADER.labels(self.service).set(1 if leader else 0)
