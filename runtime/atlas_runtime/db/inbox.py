"""Idempotent message handling for handlers that write to the database.

    async with db.tenant_session() as session:
        if not await inbox.claim(session, "parties service:on_status", message_id):
            return                                  # already processed: ack and stop
        ...                                         # the handler's writes
    # the claim and the writes commit together: the effect happens exactly once

The claim is an `INSERT ... ON CONFLICT DO NOTHING` into `atlas_inbox` keyed by
(consumer group, message id); it rolls back with the handler, so a failed attempt
leaves no claim behind. Key the group per handler (`"<group>:<handler>"`) when several
handlers consume one topic, since a redelivery re-runs those that had succeeded.
Message id: the `EVENT_ID` header when present, else `topic:partition:offset`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from atlas_runtime.db.tables import inbox_table


async def claim(session: AsyncSession, consumer_group: str, message_id: str) -> bool:
    """Record `message_id` as processed by `consumer_group` in the session's transaction.

    Returns:
        True if this call claimed it (run the handler), False if it was processed before.
    """
    dialect = (await session.connection()).dialect.name
    dml = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        dml(inbox_table)
        .values(consumer_group=consumer_group, message_id=message_id, processed_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["consumer_group", "message_id"])
        # RETURNING, not rowcount: the async psycopg cursor reports -1 for this statement.
        .returning(inbox_table.c.message_id)
    )
    result = await session.execute(statement)
    return result.first() is not None


async def sweep(session: AsyncSession, *, retention: timedelta = timedelta(days=7)) -> int:
    """Delete claims older than `retention`; returns how many were deleted."""
    cutoff = datetime.now(UTC) - retention
    result = await session.execute(delete(inbox_table).where(inbox_table.c.processed_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
