"""How the orchestrator's messages leave: through the transactional outbox, in the caller's transaction.

`Emitter` is the one thing the orchestrator needs from the outside world to send a
message; `OutboxEmitter` (the default) writes an `atlas_outbox` row with
`atlas_runtime.db.enqueue`, so the message exists if and only if the state change it
belongs to commits. The service's `OutboxDrainer` publishes the rows to Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from atlas_runtime.db import enqueue


class Emitter(Protocol):
    """Writes one outgoing message as part of `session`'s transaction."""

    async def emit(
        self, session: AsyncSession, topic: str, key: str, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Stage the message; it must be sent only if the transaction commits."""
        ...


class OutboxEmitter:
    """The default `Emitter`: a row in the runtime's transactional outbox."""

    async def emit(
        self, session: AsyncSession, topic: str, key: str, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        await enqueue(session, topic, key, value, headers=list(headers))
