"""The coalesced registry: latest-value-wins write-behind for lossy-tolerant state.

`put` and `remove` only touch a local buffer (one pending value per key; a newer one
replaces an older one), and a background task flushes the buffer every `flush`
seconds in ONE pipeline, so a thousand position updates cost one round trip. Reads
see pending values at once. A failed flush puts its writes back unless a newer value
for the same key arrived meanwhile: writes are never silently dropped. Staleness in
Redis is bounded by the flush interval (plus the outage, if Redis is down); the buffer
is bounded by `max_pending` (a full buffer flushes before accepting more). `aclose()`
flushes and is idempotent.

For non-lossy read-modify-write (hit points), use `incr_field` or `update`: they go to
Redis directly, after flushing that key's pending write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from atlas_runtime.errors import BackendUnavailable
from atlas_runtime.state._tasks import cancel_and_wait, raise_if_cancelling
from atlas_runtime.state.backend import NO_EXPIRY, RemoveOp, StateOp
from atlas_runtime.state.keys import Space
from atlas_runtime.state.registry import Registry, Updater
from atlas_runtime.state.specs import Seconds, to_ms

K = TypeVar("K")
M = TypeVar("M", bound=BaseModel)

log = logging.getLogger("atlas_runtime.state.coalesced")

_Slot = tuple[Space, str]


class CoalescedRegistry(Generic[K, M]):
    """Write-behind front of a `Registry`; see the module docstring."""

    def __init__(self, registry: Registry[K, M], *, flush: Seconds = 0.1, max_pending: int = 100_000) -> None:
        self.registry = registry
        self.flush_interval = to_ms(flush) / 1000
        self.max_pending = max_pending
        self._pending: dict[_Slot, M | None] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._closed = False
        self.flushes = 0
        self.flushed_writes = 0

    def _slot(self, key: K) -> _Slot:
        return self.registry.space(), self.registry._keys.encode(key)

    async def get(self, key: K) -> M | None:
        """The pending value if any, else the stored one."""
        slot = self._slot(key)
        if slot in self._pending:
            return self._pending[slot]
        return await self.registry.get(key)

    async def put(self, key: K, value: M | Mapping[str, Any]) -> None:
        """Buffer `value` for `key`; it reaches Redis with the next flush."""
        self._buffer(self._slot(key), self.registry._values.coerce(value))
        if len(self._pending) >= self.max_pending:
            await self.flush()

    async def remove(self, key: K) -> None:
        """Buffer the removal of `key`."""
        self._buffer(self._slot(key), None)

    def _buffer(self, slot: _Slot, value: M | None) -> None:
        if self._closed:
            raise RuntimeError(f"coalesced registry {self.registry.name!r} is closed")
        self._pending[slot] = value
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._run(), name=f"flush {self.registry.name}")

    @property
    def pending(self) -> int:
        """Number of keys waiting for a flush."""
        return len(self._pending)

    async def flush(self) -> None:
        """Send every pending write in one pipeline; on failure re-queue what was not superseded."""
        async with self._flush_lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return
            try:
                await self.registry.backend.apply_many(
                    [self._op(slot, value) for slot, value in batch.items()]
                )
            except BaseException:
                for slot, value in batch.items():
                    self._pending.setdefault(slot, value)
                raise
            self.flushes += 1
            self.flushed_writes += len(batch)

    def _op(self, slot: _Slot, value: M | None) -> StateOp:
        space, member = slot
        if value is None:
            return RemoveOp(space, member)
        return self.registry._put_op(space, member, value, NO_EXPIRY)

    async def _flush_key(self, key: K) -> None:
        if self._slot(key) in self._pending:
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            raise_if_cancelling()
            try:
                await self.flush()
            except BackendUnavailable as error:
                log.warning("flush of %s failed, %d writes kept: %s", self.registry.name, self.pending, error)

    async def update(self, key: K, fn: Updater[M]) -> M | None:
        """Strict read-modify-write in Redis (after flushing this key)."""
        await self._flush_key(key)
        return await self.registry.update(key, fn)

    async def incr_field(
        self, key: K, field: str, delta: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """Atomic server-side integer add with clamp (after flushing this key); None when absent."""
        await self._flush_key(key)
        return await self.registry.incr_field(key, field, delta, minimum=minimum, maximum=maximum)

    async def exists(self, key: K) -> bool:
        slot = self._slot(key)
        if slot in self._pending:
            return self._pending[slot] is not None
        return await self.registry.exists(key)

    async def items(self) -> AsyncIterator[tuple[K, M]]:
        """Flush, then iterate the stored entries of the current tenant."""
        await self.flush()
        async for pair in self.registry.items():
            yield pair

    async def values(self) -> AsyncIterator[M]:
        async for _, value in self.items():
            yield value

    async def aclose(self) -> None:
        """Stop the background flusher and flush what is pending; safe to call more than once."""
        self._closed = True
        if self._flusher is not None:
            await cancel_and_wait(self._flusher)
            self._flusher = None
        await self.flush()
