"""The consumer engine: partition workers, commit cursor, back-pressure, rebalance and drain.

Broker-independent. A `ConsumerSource` (one module per broker) fetches records and
commits offsets; the engine routes records to one worker per partition, which handles
them strictly in order (partitions run concurrently). Offsets are committed over the
contiguous prefix of finished messages, in batches (every `commit_every` finished
messages or `commit_interval` seconds), synchronously at revocation and at shutdown.

Back-pressure: fetching waits while `max_backlog` records are queued over all partitions
(the client keeps prefetching into its own bounded queue meanwhile). A partition is
paused at the source only in the rarer cases that one worker alone has `max_buffered`
records queued, or sleeps a long retry backoff, so fetching (and the group session)
carries on for the others: a pause makes librdkafka drop what it prefetched for that
partition, and a resumed partition takes several fetch cycles to deliver again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Protocol

from atlas_runtime.messaging._dispatch import Dispatcher
from atlas_runtime.messaging._records import Record, TopicPartition
from atlas_runtime.messaging._tracker import OffsetTracker
from atlas_runtime.retry import KAFKA_FETCH

log = logging.getLogger("atlas_runtime.messaging.consumer")

Offsets = dict[TopicPartition, int]
_PAUSE_BACKOFF_OVER = 0.2
_TASK_EXIT_TIMEOUT = 5.0
_CLOSE_TIMEOUT = 30.0


class RebalanceListener(Protocol):
    """What a source tells the engine about partition ownership."""

    async def assigned(self, partitions: list[TopicPartition]) -> None:
        """Partitions now owned."""

    async def revoked(self, partitions: list[TopicPartition]) -> Offsets:
        """Partitions about to be given up; returns the offsets to commit before they go."""

    async def lost(self, partitions: list[TopicPartition]) -> None:
        """Partitions already owned by someone else (nothing may be committed)."""


class ConsumerSource(Protocol):
    """A broker's consumer side; one module per implementation."""

    async def open(self, topics: list[str], listener: RebalanceListener) -> None:
        """Join the group and subscribe to `topics`."""

    async def fetch(self, *, pause: set[TopicPartition], resume: set[TopicPartition]) -> list[Record]:
        """Apply pause/resume requests, then return the next records (possibly none) within a short wait."""

    async def commit(self, offsets: Offsets) -> None:
        """Commit `offsets` synchronously (next offset to read per partition)."""

    async def close(self) -> None:
        """Leave the group (revocation callbacks run) and release the client."""


class _PartitionWorker:
    """Handles one partition's records in order."""

    def __init__(self, engine: ConsumerEngine, tp: TopicPartition) -> None:
        self.tp = tp
        self.tracker = OffsetTracker()
        self.queue: deque[Record] = deque()
        self.next_offset: int | None = None
        self.busy = False
        self._engine = engine
        self._wake = asyncio.Event()
        self._closing = False
        self._drained: asyncio.Future[None] | None = None
        self.task = asyncio.create_task(self._run(), name=f"atlas-consumer {tp}")

    def push(self, records: list[Record]) -> None:
        """Queue fetched records of this partition (in offset order)."""
        if self.next_offset is not None and records[0].offset < self.next_offset:
            records = [r for r in records if r.offset >= self.next_offset]  # re-fetched after a pause
            if not records:
                return
        self.next_offset = records[-1].offset + 1
        self.tracker.track_all([record.offset for record in records])
        self.queue.extend(records)
        self._wake.set()

    async def _run(self) -> None:
        queue, batch, engine = self.queue, self._engine.max_batch, self._engine
        while not self._closing:
            while queue and not self._closing:
                records = [queue.popleft() for _ in range(min(len(queue), batch))]
                self.busy = True
                try:
                    done = await self._handle(records)
                finally:
                    self.busy = False
                    if self._drained is not None and not self._drained.done():
                        self._drained.set_result(None)
                queue.extendleft(reversed(records[done:]))  # not started yet: next round (or never)
                if done:
                    self.tracker.finish_through(records[done - 1].offset)
                    engine.finished(self, done)
            self._wake.clear()
            if not self._closing:
                await self._wake.wait()

    async def _handle(self, records: list[Record]) -> int:
        """Handle what was queued, one record alone or several as a batch; how many finished."""
        engine = self._engine
        try:
            if len(records) == 1:
                await engine.handle(records[0])
                return 1
            return await engine.handle_batch(records, stop=lambda: self._closing)
        except Exception:  # never from a handler: the dispatcher catches those
            for record in records:  # with markers, the ones already committed come back as duplicates
                await engine.recover(record)
            return len(records)

    async def drain(self, timeout: float) -> int | None:
        """Stop taking records, wait (bounded) for the one in hand, return the offset to commit."""
        self._closing = True
        self._wake.set()
        if self.busy:
            self._drained = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._drained), timeout)
            if self.busy:
                log.warning(
                    "abandoning the in-flight message of %s after %.1fs; it will be redelivered",
                    self.tp,
                    timeout,
                )
        self.task.cancel()
        _, pending = await asyncio.wait({self.task}, timeout=_TASK_EXIT_TIMEOUT)
        if pending:
            log.error("the worker of %s did not exit after cancellation; leaving it behind", self.tp)
        return self.tracker.committable()


class ConsumerEngine:
    """Drives a `ConsumerSource` through a `Dispatcher`.

    Args:
        source: the broker client.
        dispatcher: runs handlers (never raises for handler failures).
        topics: the topic names to subscribe to.
        max_buffered: records queued for one partition before it is paused at the source.
        max_backlog: records queued over all partitions before fetching waits.
        idle_fetch: seconds after which a waiting consumer fetches anyway, to stay in the group.
        commit_every: finished messages that trigger a commit.
        commit_interval: seconds after which finished messages are committed anyway.
        drain_timeout: seconds `stop()` waits for in-flight handlers.
        revoke_timeout: seconds a revocation waits for in-flight handlers.
        max_batch: queued records of one partition handed to the dispatcher at once (their
            effects commit together where the inbox allows); 1 handles one at a time.
    """

    def __init__(
        self,
        source: ConsumerSource,
        dispatcher: Dispatcher,
        topics: Iterable[str],
        *,
        max_buffered: int = 5000,
        max_backlog: int = 4000,
        idle_fetch: float = 10.0,
        commit_every: int = 1000,
        commit_interval: float = 1.0,
        drain_timeout: float = 10.0,
        revoke_timeout: float = 5.0,
        max_batch: int = 100,
    ) -> None:
        self._source = source
        self._dispatcher = dispatcher
        self._topics = sorted(set(topics))
        self._max_buffered = max_buffered
        self._max_backlog = max_backlog
        self._idle_fetch = idle_fetch
        self._last_fetch = time.monotonic()
        self._room = asyncio.Event()  # cleared while fetching waits for the backlog to shrink
        self._room.set()
        self._commit_every = commit_every
        self._commit_interval = commit_interval
        self._drain_timeout = drain_timeout
        self._revoke_timeout = revoke_timeout
        self.handle = dispatcher.handle
        self.handle_batch = dispatcher.handle_batch
        self.max_batch = max(1, max_batch)
        self._workers: dict[TopicPartition, _PartitionWorker] = {}
        self._assigned: set[TopicPartition] = set()
        self._pause_reasons: dict[TopicPartition, set[str]] = {}
        self._to_pause: set[TopicPartition] = set()
        self._to_resume: set[TopicPartition] = set()
        self._finished_since_commit = 0
        self._last_commit = time.monotonic()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self.running = False

    # -- rebalance listener -------------------------------------------------------

    async def assigned(self, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s", ", ".join(map(str, partitions)) or "nothing")
        for tp in partitions:
            self._pause_reasons.pop(tp, None)
        self._assigned.update(partitions)

    async def revoked(self, partitions: list[TopicPartition]) -> Offsets:
        log.info("revoking %s", ", ".join(map(str, partitions)) or "nothing")
        self._assigned.difference_update(partitions)
        return await self._drain([tp for tp in partitions if tp in self._workers], self._revoke_timeout)

    async def lost(self, partitions: list[TopicPartition]) -> None:
        log.warning("lost %s without a chance to commit", ", ".join(map(str, partitions)))
        self._assigned.difference_update(partitions)
        await self._drain([tp for tp in partitions if tp in self._workers], 0.0)

    async def _drain(self, partitions: list[TopicPartition], timeout: float) -> Offsets:
        self._assigned.difference_update(partitions)
        workers = [self._workers.pop(tp) for tp in partitions]
        for tp in partitions:
            self._pause_reasons.pop(tp, None)
            self._to_pause.discard(tp)
            self._to_resume.discard(tp)
        results = await asyncio.gather(*(worker.drain(timeout) for worker in workers))
        return {w.tp: offset for w, offset in zip(workers, results, strict=True) if offset is not None}

    # -- workers ------------------------------------------------------------------

    async def recover(self, record: Record) -> None:
        """Retry a record whose dispatch failed inside the runtime itself, until it finishes."""
        error: BaseException | None = sys.exc_info()[1]
        failures = 0
        while error is not None:
            failures += 1
            log.error("internal error on %s; retrying the message", record.coordinates, exc_info=error)
            await asyncio.sleep(KAFKA_FETCH.backoff(min(failures, 8)))
            try:
                await self._dispatcher.handle(record)
                error = None
            except Exception as again:
                error = again

    def finished(self, worker: _PartitionWorker, count: int) -> None:
        self._finished_since_commit += count
        if self._pause_reasons.get(worker.tp) and len(worker.queue) <= self._max_buffered // 2:
            self._release(worker.tp, "backlog")
        if not self._room.is_set() and self._backlog() < self._max_backlog:
            self._room.set()

    def _backlog(self) -> int:
        return sum(len(worker.queue) for worker in self._workers.values())

    async def _room_to_fetch(self) -> bool:
        """Whether to fetch now; else wait (bounded) for the workers to make room first.

        A consumer that waits too long fetches anyway: the group expects to hear from it
        (`max.poll.interval.ms`), and partitions whose backlog is full are paused by then.
        """
        idle_left = self._last_fetch + self._idle_fetch - time.monotonic()
        if self._backlog() < self._max_backlog or idle_left <= 0:
            return True
        self._room.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._room.wait(), min(idle_left, self._commit_interval))
        return False

    async def backoff(self, tp: TopicPartition, delay: float) -> None:
        """Sleep a retry backoff; long ones pause the partition at the source meanwhile."""
        if delay < _PAUSE_BACKOFF_OVER:
            await asyncio.sleep(delay)
            return
        self._hold(tp, "backoff")
        try:
            await asyncio.sleep(delay)
        finally:
            self._release(tp, "backoff")

    def _hold(self, tp: TopicPartition, reason: str) -> None:
        reasons = self._pause_reasons.setdefault(tp, set())
        if not reasons:
            self._to_resume.discard(tp)
            self._to_pause.add(tp)
        reasons.add(reason)

    def _release(self, tp: TopicPartition, reason: str) -> None:
        reasons = self._pause_reasons.get(tp)
        if not reasons or reason not in reasons:
            return
        reasons.discard(reason)
        if not reasons:
            self._to_pause.discard(tp)
            self._to_resume.add(tp)

    def _route(self, records: list[Record]) -> None:
        by_partition: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            key = (record.topic, record.partition)  # equals its TopicPartition, without building one
            batch = by_partition.get(key)
            if batch is None:
                by_partition[key] = [record]
            else:
                batch.append(record)
        for key, batch in by_partition.items():
            tp = TopicPartition(*key)
            worker = self._workers.get(tp)
            if worker is None:
                if tp not in self._assigned:
                    continue  # fetched before a revocation; the new owner reads it from the commit
                worker = self._workers[tp] = _PartitionWorker(self, tp)
            worker.push(batch)
            if len(worker.queue) >= self._max_buffered:
                self._hold(tp, "backlog")

    # -- commits ------------------------------------------------------------------

    def _committable(self) -> Offsets:
        offsets: Offsets = {}
        for tp, worker in self._workers.items():
            offset = worker.tracker.committable()
            if offset is not None:
                offsets[tp] = offset
        return offsets

    def _commit_due(self) -> bool:
        if self._finished_since_commit == 0:
            return False
        elapsed = time.monotonic() - self._last_commit
        return self._finished_since_commit >= self._commit_every or elapsed >= self._commit_interval

    async def _commit(self) -> None:
        offsets = self._committable()
        self._finished_since_commit = 0
        self._last_commit = time.monotonic()
        if not offsets:
            return
        await self._source.commit(offsets)
        for tp, offset in offsets.items():
            worker = self._workers.get(tp)
            if worker is not None:
                worker.tracker.committed(offset)

    # -- lifecycle ----------------------------------------------------------------

    async def run(self) -> None:
        """Consume until `stop()`; then drain in-flight handlers, commit and close."""
        self.running = True
        try:
            await self._source.open(self._topics, self)
            await self._loop()
        finally:
            await self._shutdown()
            self.running = False
            self._stopped.set()

    async def _loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if self._commit_due():
                    await self._commit()
                if not await self._room_to_fetch():
                    continue
                pause, resume = self._to_pause, self._to_resume
                self._to_pause, self._to_resume = set(), set()
                records = await self._source.fetch(pause=pause, resume=resume)
                self._last_fetch = time.monotonic()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                delay = KAFKA_FETCH.backoff(min(failures, KAFKA_FETCH.attempts))
                log.exception("consumer fetch or commit failed; retrying in %.2fs", delay)
                await asyncio.sleep(delay)
                continue
            self._route(records)

    async def _shutdown(self) -> None:
        offsets = await self._drain(list(self._workers), self._drain_timeout)
        try:
            if offsets:
                await self._source.commit(offsets)
        except Exception:
            log.exception("final commit failed; uncommitted messages will be redelivered")
        finally:
            try:
                await asyncio.wait_for(self._source.close(), _CLOSE_TIMEOUT)
            except TimeoutError:
                log.error("closing the consumer took over %.0fs; giving up on it", _CLOSE_TIMEOUT)

    async def stop(self) -> None:
        """Stop fetching, drain in-flight handlers (bounded), commit and close; waits until done."""
        self._stopping.set()
        self._room.set()
        if self.running:
            await self._stopped.wait()

    @property
    def queued(self) -> Mapping[TopicPartition, int]:
        """Partitions with a worker and their queued record counts."""
        return {tp: len(worker.queue) for tp, worker in self._workers.items()}
