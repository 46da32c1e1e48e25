"""The idempotency inbox and the per-message unit of work: one small interface.

A handler's effects commit together with a processed-message marker, in one atomic step:

1. the inbox looks the message id up (per consumer group and tenant); a marker means the
   message was processed before, and it is acknowledged without running the handler;
2. the handler runs against a `Unit`: reads are watched, writes (`set`, `incr`, `stage`)
   and emits are only staged;
3. `commit` applies the staged writes, the marker (with a retention window) and the
   emits (appended to the outbox) at once; if a watched key, the marker included,
   changed meanwhile, nothing is applied and the handler runs again.

`RedisInbox` does this with WATCH + MULTI/EXEC; `MemoryInbox` is the in-process
equivalent for the embedded bus. A message id of None (dedupe off) skips the marker but
keeps the atomic commit of effects and emits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from atlas_runtime.messaging._records import OutboundMessage

DEFAULT_RETENTION = 7 * 24 * 3600.0
MAX_CONFLICT_RERUNS = 50
BATCH_CONFLICT_RERUNS = 2  # a batch watches more keys for longer: past this, one message at a time


class Outcome(Enum):
    """What the inbox did with a message."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class InboxScope:
    """Where a message id is unique: one consumer group and one tenant."""

    group: str
    tenant: str


class Unit(Protocol):
    """Staged effects of one handler run; nothing is applied before the inbox commits."""

    async def get(self, key: str) -> str | None:
        """Read `key`, watching it: a change before commit re-runs the handler."""

    def set(self, key: str, value: str) -> None:
        """Stage `key = value`."""

    def incr(self, key: str, amount: int = 1) -> None:
        """Stage an increment of the integer at `key`."""

    def stage(self, op: Callable[[Any], object]) -> None:
        """Stage a backend operation; it receives the transaction (a Redis pipeline after MULTI)."""

    def emit(self, message: OutboundMessage) -> None:
        """Stage a message for the outbox; it is produced only if the unit commits."""


Handler = Callable[[Unit], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One message of a batch: its id (None: no marker) and its handler."""

    message_id: str | None
    handler: Handler


class Inbox(Protocol):
    """Runs a handler at most once per message id, with its effects committed atomically."""

    async def process(self, scope: InboxScope, message_id: str | None, handler: Handler) -> Outcome:
        """Run `handler` unless `message_id` was already processed in `scope`, then commit."""

    async def close(self) -> None:
        """Release connections."""


@runtime_checkable
class BatchInbox(Inbox, Protocol):
    """An inbox that also commits several messages of one scope in one atomic step."""

    async def process_batch(
        self, scope: InboxScope, items: Sequence[InboxItem], *, stop: Callable[[], bool]
    ) -> list[Outcome]:
        """Run the handlers in order against one shared unit and commit them with their markers at once.

        Later handlers see the writes of earlier ones. Once `stop()` is true no further
        handler starts and the ones that ran commit: the outcomes cover a prefix of `items`.
        A handler error propagates and nothing is applied; so does `UnitConflict` after a
        few conflicting reruns (the caller then handles the messages one by one).
        """


def marker_key(prefix: str, scope: InboxScope, message_id: str) -> str:
    """The documented key of a processed-message marker."""
    return f"{prefix}:inbox:{scope.group}:{scope.tenant}:{message_id}"
