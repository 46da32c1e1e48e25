"""The runtime's own tables: the transactional outbox, its dead letters, and the inbox.

They live in `runtime_metadata`; `migrate()` creates them next to the service's tables.
None of them is tenant-scoped: the tenant of an outbox row travels in its headers,
and inbox rows are keyed by consumer group and message id.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

runtime_metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_Id = BigInteger().with_variant(Integer(), "sqlite")
_Json = JSON().with_variant(JSONB(), "postgresql")
_Stamp = DateTime(timezone=True)

outbox_table = Table(
    "atlas_outbox",
    runtime_metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    Column("topic", Text, nullable=False),
    Column("key", LargeBinary, nullable=False),
    Column("value", LargeBinary, nullable=True),
    # [[name, base64(value)], ...]: tenant versions are raw bytes, which JSON cannot hold.
    Column("headers", _Json, nullable=False),
    Column("created_at", _Stamp, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=True),
    Column("sent_at", _Stamp, nullable=True),
    Index(
        "atlas_outbox_pending_idx",
        "id",
        postgresql_where=text("sent_at IS NULL"),
        sqlite_where=text("sent_at IS NULL"),
    ),
    Index(
        "atlas_outbox_sent_idx",
        "sent_at",
        postgresql_where=text("sent_at IS NOT NULL"),
        sqlite_where=text("sent_at IS NOT NULL"),
    ),
)

outbox_dead_table = Table(
    "atlas_outbox_dead",
    runtime_metadata,
    Column("id", _Id, primary_key=True, autoincrement=False),
    Column("event_id", Uuid, nullable=False),
    Column("topic", Text, nullable=False),
    Column("key", LargeBinary, nullable=False),
    Column("value", LargeBinary, nullable=True),
    Column("headers", _Json, nullable=False),
    Column("created_at", _Stamp, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("dead_at", _Stamp, nullable=False),
)

inbox_table = Table(
    "atlas_inbox",
    runtime_metadata,
    Column("consumer_group", Text, primary_key=True),
    Column("message_id", Text, primary_key=True),
    Column("processed_at", _Stamp, nullable=False),
    Index("atlas_inbox_processed_idx", "processed_at"),
)
