"""The inbox on `atlas_runtime.state`: registry writes, marker and emits in one commit.

While the handler runs, a state `UnitOfWork` is active, so every registry write the
handler makes (`ctx.state.<registry>.put/update/remove`) is staged and every read is
watched. The inbox then commits those writes together with the processed-message marker
(`SetValues` with the retention as TTL, in the tenant's key slot) and the emits (`PushValues`
onto the outbox list) in ONE MULTI/EXEC on Redis, or one atomic step in process. A
`StateConflict` (a watched key changed) re-runs the handler. `process_batch` does the same
for a run of one tenant's messages: all markers read in one round trip, the handlers in
order on one shared unit, one commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from atlas_runtime.messaging._errors import UnitConflict
from atlas_runtime.messaging._inbox import (
    BATCH_CONFLICT_RERUNS,
    DEFAULT_RETENTION,
    MAX_CONFLICT_RERUNS,
    Handler,
    InboxItem,
    InboxScope,
    Outcome,
)
from atlas_runtime.messaging._outbox import OutboxRelay, Send, decode_entry, encode_entry
from atlas_runtime.messaging._records import OutboundMessage
from atlas_runtime.state import (
    PushValues,
    RedisBackend,
    SetValue,
    SetValues,
    StateConflict,
    StateStore,
    UnitOfWork,
)
from atlas_runtime.state.backend import ExtraCommand

log = logging.getLogger("atlas_runtime.messaging.inbox")

# A batch starts no handler after this long: slow handlers gain nothing from batching, and
# a short batch loses little when shutdown or a crash discards it.
BATCH_BUDGET = 0.05


class _StateUnit:
    """The messaging `Unit` over a state unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._sets: dict[str, str] = {}
        self._increments: dict[str, int] = {}
        self.emits: list[OutboundMessage] = []

    async def get(self, key: str) -> str | None:
        return await self._uow.read(key)

    def set(self, key: str, value: str) -> None:
        self._increments.pop(key, None)
        self._sets[key] = value

    def incr(self, key: str, amount: int = 1) -> None:
        self._increments[key] = self._increments.get(key, 0) + amount

    def stage(self, op: Callable[[Any], object]) -> None:
        raise TypeError("with a state store, stage writes through its registries (ctx.state.<registry>)")

    def emit(self, message: OutboundMessage) -> None:
        self.emits.append(message)

    async def extras(self) -> list[ExtraCommand]:
        """The unit's own writes as extra commands; increments read (and watch) their key first."""
        extras: list[ExtraCommand] = [SetValue(key, value) for key, value in self._sets.items()]
        for key, amount in self._increments.items():
            extras.append(SetValue(key, str(int(await self._uow.read(key) or 0) + amount)))
        return extras


class StateInbox:
    """Inbox, handler state and outbox on a `StateStore`.

    Args:
        store: the service's state store (Redis or in-process backend).
        outbox_key: the list emits are appended to.
        retention: seconds a processed-message marker is kept.
        on_commit: called after a commit that appended emits (wakes the relay).
    """

    def __init__(
        self,
        store: StateStore,
        *,
        outbox_key: str,
        retention: float = DEFAULT_RETENTION,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self.outbox_key = outbox_key
        self._retention_ms = max(1, int(retention * 1000))
        self.on_commit = on_commit

    def _marker(self, scope: InboxScope, message_id: str | None) -> str | None:
        if message_id is None:
            return None
        return self._store.internal_key("inbox", f"{scope.group}:{message_id}")

    async def process(self, scope: InboxScope, message_id: str | None, handler: Handler) -> Outcome:
        """Run `handler` once per message id in `scope` (the current tenant), committing atomically."""
        marker = self._marker(scope, message_id)
        for _ in range(MAX_CONFLICT_RERUNS):
            async with self._store.unit_of_work() as uow:
                if marker is not None and await uow.read(marker) is not None:
                    return Outcome.DUPLICATE
                unit = _StateUnit(uow)
                await handler(unit)
                if await self._commit(uow, unit, [marker] if marker is not None else []):
                    return Outcome.PROCESSED
            log.debug("watched key changed during %s; running the handler again", message_id)
        raise UnitConflict(f"message {message_id} conflicted {MAX_CONFLICT_RERUNS} times in a row")

    async def process_batch(
        self, scope: InboxScope, items: Sequence[InboxItem], *, stop: Callable[[], bool]
    ) -> list[Outcome]:
        """Run the handlers of one tenant's messages in order and commit them all in one step."""
        markers = [self._marker(scope, item.message_id) for item in items]
        known = [marker for marker in markers if marker is not None]
        for _ in range(BATCH_CONFLICT_RERUNS):
            async with self._store.unit_of_work() as uow:
                done = {m for m, value in zip(known, await uow.read_many(known), strict=True) if value}
                unit = _StateUnit(uow)
                outcomes: list[Outcome] = []
                new: list[str] = []
                started = time.monotonic()
                for item, marker in zip(items, markers, strict=True):
                    if outcomes and (stop() or time.monotonic() - started > BATCH_BUDGET):
                        break  # commit what ran; the caller resumes after it
                    if marker is not None and marker in done:
                        outcomes.append(Outcome.DUPLICATE)  # processed before, or earlier in this batch
                        continue
                    await item.handler(unit)
                    outcomes.append(Outcome.PROCESSED)
                    if marker is not None:
                        done.add(marker)
                        new.append(marker)
                if await self._commit(uow, unit, new):
                    return outcomes
            log.debug("watched key changed during a batch of %d messages; running it again", len(items))
        raise UnitConflict(f"a batch of {len(items)} messages conflicted {BATCH_CONFLICT_RERUNS} times")

    async def _commit(self, uow: UnitOfWork, unit: _StateUnit, markers: Sequence[str]) -> bool:
        """Commit the unit's writes, `markers` and emits at once; False when a watched key changed."""
        extras = await unit.extras()
        if markers:
            extras.append(SetValues(tuple(markers), "1", ttl_ms=self._retention_ms))
        if unit.emits:
            entries = tuple(encode_entry(m).decode() for m in unit.emits)
            extras.append(PushValues(self.outbox_key, entries))
        if not extras and not uow.staged:
            return True
        try:
            await uow.commit(extras)
        except StateConflict:
            return False
        if unit.emits and self.on_commit is not None:
            self.on_commit()
        return True

    async def close(self) -> None:
        return None  # the store belongs to the service


class StateOutboxRelay(OutboxRelay):
    """Relays the outbox of a `StateStore`: a Redis relay, or pop-and-send in process."""

    def __init__(self, store: StateStore, key: str, send: Send, **options: Any) -> None:
        backend = store.backend
        self._store = store
        super().__init__(backend.client if isinstance(backend, RedisBackend) else None, key, send, **options)

    async def relay_once(self) -> int:
        if isinstance(self._store.backend, RedisBackend):
            return await super().relay_once()
        entries = await self._store.backend.pop_list(self._key, self._batch)
        for entry in entries:  # in order: one key's emits keep their order
            await self._send(decode_entry(entry))
        self.relayed += len(entries)
        return len(entries)
