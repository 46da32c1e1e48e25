"""The inbox in process memory: the embedded equivalent of `RedisInbox`.

Markers expire after the retention window. Effects are applied and emits handed to
`publish` only when the unit commits; a value read by `get` that changed before commit
re-runs the handler, like a Redis WATCH.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from atlas_runtime.messaging._errors import UnitConflict
from atlas_runtime.messaging._inbox import (
    DEFAULT_RETENTION,
    MAX_CONFLICT_RERUNS,
    Handler,
    InboxScope,
    Outcome,
    marker_key,
)
from atlas_runtime.messaging._records import OutboundMessage

Publish = Callable[[list[OutboundMessage]], Awaitable[None]]


class MemoryStore:
    """Process-local keys with versions (what a Unit reads and writes) and inbox markers."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.markers: dict[str, float] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def write(self, key: str, value: str) -> None:
        self.values[key] = value
        self.versions[key] = self.versions.get(key, 0) + 1


class _MemoryUnit:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.watched: dict[str, int] = {}
        self.ops: list[Callable[[Any], object]] = []
        self.emits: list[OutboundMessage] = []

    async def get(self, key: str) -> str | None:
        self.watched.setdefault(key, self._store.versions.get(key, 0))
        return self._store.get(key)

    def set(self, key: str, value: str) -> None:
        self.ops.append(lambda store: store.write(key, value))

    def incr(self, key: str, amount: int = 1) -> None:
        self.ops.append(lambda store: store.write(key, str(int(store.get(key) or 0) + amount)))

    def stage(self, op: Callable[[Any], object]) -> None:
        self.ops.append(op)

    def emit(self, message: OutboundMessage) -> None:
        self.emits.append(message)


class MemoryInbox:
    """Inbox, store and outbox in process memory.

    Args:
        publish: sends committed emits (the in-process bus's producer).
        store: the store units read and write; a new one by default.
        retention: seconds a processed-message marker is kept.
    """

    def __init__(
        self,
        publish: Publish,
        *,
        store: MemoryStore | None = None,
        retention: float = DEFAULT_RETENTION,
        prefix: str = "atlas",
    ) -> None:
        self._publish = publish
        self.store = store or MemoryStore()
        self._retention = retention
        self._prefix = prefix

    def _seen(self, marker: str | None) -> bool:
        if marker is None:
            return False
        expiry = self.store.markers.get(marker)
        if expiry is not None and expiry <= time.monotonic():
            del self.store.markers[marker]
            return False
        return expiry is not None

    async def process(self, scope: InboxScope, message_id: str | None, handler: Handler) -> Outcome:
        """Run `handler` once per message id in `scope`, committing its effects with the marker."""
        marker = marker_key(self._prefix, scope, message_id) if message_id is not None else None
        for _ in range(MAX_CONFLICT_RERUNS):
            if self._seen(marker):
                return Outcome.DUPLICATE
            unit = _MemoryUnit(self.store)
            await handler(unit)
            if marker is None and not (unit.ops or unit.emits):
                return Outcome.PROCESSED  # nothing to commit
            # From here to the marker there is no await: on one event loop this is atomic.
            if unit.watched and any(self.store.versions.get(k, 0) != v for k, v in unit.watched.items()):
                continue
            if self._seen(marker):
                continue
            for op in unit.ops:
                op(self.store)
            if marker is not None:
                self.store.markers[marker] = time.monotonic() + self._retention
            if unit.emits:
                await self._publish(unit.emits)
            return Outcome.PROCESSED
        raise UnitConflict(f"message {message_id} conflicted {MAX_CONFLICT_RERUNS} times in a row")

    async def close(self) -> None:
        return None
