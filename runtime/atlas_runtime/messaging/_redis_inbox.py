"""The inbox on Redis: WATCH the marker and every key read, then MULTI/EXEC everything.

The marker (`SET ... EX retention`), the handler's staged writes and the outbox append
(`RPUSH`) run in one MULTI/EXEC. A concurrent change of any watched key, such as the same
message being processed by another consumer after a rebalance, aborts the EXEC
(`WatchError`); the handler then runs again and finds the marker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from atlas_runtime.messaging._errors import UnitConflict
from atlas_runtime.messaging._inbox import (
    DEFAULT_RETENTION,
    MAX_CONFLICT_RERUNS,
    Handler,
    InboxScope,
    Outcome,
    marker_key,
)
from atlas_runtime.messaging._outbox import encode_entry
from atlas_runtime.messaging._records import OutboundMessage

log = logging.getLogger("atlas_runtime.messaging.inbox")


class _RedisUnit:
    """Reads through the watching pipeline; writes staged until MULTI."""

    def __init__(self, pipe: Pipeline) -> None:
        self._pipe = pipe
        self._ops: list[Callable[[Any], object]] = []
        self.emits: list[OutboundMessage] = []

    async def get(self, key: str) -> str | None:
        await self._pipe.watch(key)
        value = await self._pipe.get(key)
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str) -> None:
        self._ops.append(lambda pipe: pipe.set(key, value))

    def incr(self, key: str, amount: int = 1) -> None:
        self._ops.append(lambda pipe: pipe.incrby(key, amount))

    def stage(self, op: Callable[[Any], object]) -> None:
        self._ops.append(op)

    def emit(self, message: OutboundMessage) -> None:
        self.emits.append(message)

    def apply(self, pipe: Pipeline) -> None:
        for op in self._ops:
            op(pipe)

    @property
    def empty(self) -> bool:
        return not self._ops and not self.emits


class RedisInbox:
    """Inbox and outbox in Redis.

    Args:
        redis: an asyncio client.
        outbox_key: the Redis list emits are appended to (relayed by `OutboxRelay`).
        prefix: first segment of every key.
        retention: seconds a processed-message marker is kept.
        on_commit: called after a commit that appended emits (wakes the relay).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        outbox_key: str,
        prefix: str = "atlas",
        retention: float = DEFAULT_RETENTION,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._redis = redis
        self.outbox_key = outbox_key
        self._prefix = prefix
        self._retention = max(1, int(retention))
        self.on_commit = on_commit

    async def process(self, scope: InboxScope, message_id: str | None, handler: Handler) -> Outcome:
        """Run `handler` once per message id in `scope`, committing its effects with the marker."""
        marker = marker_key(self._prefix, scope, message_id) if message_id is not None else None
        for _ in range(MAX_CONFLICT_RERUNS):
            async with self._redis.pipeline(transaction=True) as pipe:
                if marker is not None:
                    await pipe.watch(marker)
                    if await pipe.exists(marker):
                        return Outcome.DUPLICATE
                unit = _RedisUnit(pipe)
                await handler(unit)
                if marker is None and unit.empty:
                    return Outcome.PROCESSED
                pipe.multi()  # type: ignore[no-untyped-call]
                unit.apply(pipe)
                if marker is not None:
                    pipe.set(marker, b"1", ex=self._retention)
                if unit.emits:
                    pipe.rpush(self.outbox_key, *(encode_entry(m) for m in unit.emits))
                try:
                    await pipe.execute()
                except WatchError:
                    log.debug("watched key changed during %s; running the handler again", message_id)
                    continue
            if unit.emits and self.on_commit is not None:
                self.on_commit()
            return Outcome.PROCESSED
        raise UnitConflict(f"message {message_id} conflicted {MAX_CONFLICT_RERUNS} times in a row")

    async def close(self) -> None:
        await self._redis.aclose()
