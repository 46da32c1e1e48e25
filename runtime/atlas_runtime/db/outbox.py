"""Transactional outbox: an event is a row written in the same transaction as the change it reports.

    async with db.tenant_session() as session:
        session.add(party)
        await outbox.enqueue(session, "EVENT_TOPIC_PARTY_STATUS", key=party_id, value=payload)
    # commit: the row and the event exist together, or neither does

`OutboxDrainer` (drainer.py) publishes committed rows to Kafka. Each row carries an
`EVENT_ID` header (a uuid) so consumers can deduplicate the at-least-once delivery,
plus the tenant headers of the enqueuing context. On PostgreSQL the enqueue also runs
`pg_notify` in the same transaction, so the drainer wakes only when the row commits.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from atlas_runtime.db.tables import outbox_table
from atlas_runtime.db.tenancy import session_tenant
from atlas_runtime.errors import NoTenantError
from atlas_runtime.tenant import HEADER_NAMES

NOTIFY_CHANNEL = "atlas_outbox"
EVENT_ID_HEADER = "EVENT_ID"

HeaderValue = bytes | str
Headers = Sequence[tuple[str, HeaderValue]]


async def enqueue(
    session: AsyncSession,
    topic: str,
    key: bytes | str,
    value: bytes | str | None,
    headers: Headers | None = None,
) -> uuid.UUID:
    """Write an event row in `session`'s transaction; it is published after the commit.

    Args:
        session: the caller's session; the row commits or rolls back with its transaction.
        topic: the Kafka topic (the real name, resolved from the spec's token).
        key: the Kafka key (the entity id); never empty.
        value: the payload; `None` is a tombstone.
        headers: extra headers; the current tenant's headers are added unless given.

    Returns:
        The event id, also sent as the `EVENT_ID` header.
    """
    if not topic:
        raise ValueError("outbox.enqueue needs a topic")
    key_bytes = _as_bytes(key)
    if not key_bytes:
        raise ValueError(f"outbox.enqueue on topic {topic!r} needs a non-empty key")
    event_id = uuid.uuid4()
    all_headers = _with_tenant_headers(session, list(headers or ()))
    all_headers.append((EVENT_ID_HEADER, str(event_id).encode()))
    await session.execute(
        insert(outbox_table).values(
            event_id=event_id,
            topic=topic,
            key=key_bytes,
            value=None if value is None else _as_bytes(value),
            headers=encode_headers(all_headers),
            created_at=datetime.now(UTC),
        )
    )
    if (await session.connection()).dialect.name == "postgresql":
        # Delivered to listeners only when this transaction commits.
        await session.execute(
            text("SELECT pg_notify(:channel, :topic)"), {"channel": NOTIFY_CHANNEL, "topic": topic}
        )
    return event_id


def encode_headers(headers: Sequence[tuple[str, HeaderValue]]) -> list[list[str]]:
    """JSON-safe form: `[[name, base64(value)], ...]` (tenant versions are raw bytes)."""
    return [[name, base64.b64encode(_as_bytes(value)).decode("ascii")] for name, value in headers]


def decode_headers(stored: Any) -> list[tuple[str, bytes]]:
    """Inverse of `encode_headers`."""
    return [(str(name), base64.b64decode(value)) for name, value in stored or ()]


def _with_tenant_headers(
    session: AsyncSession, headers: list[tuple[str, HeaderValue]]
) -> list[tuple[str, HeaderValue]]:
    if any(name in HEADER_NAMES for name, _ in headers):
        return headers
    try:
        tenant = session_tenant(session.sync_session)
    except NoTenantError:
        return headers  # an event of no tenant (a global one): sent without tenant headers
    return [*tenant.kafka_headers(), *headers]


def _as_bytes(value: HeaderValue) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)
