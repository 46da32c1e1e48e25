"""The saga tables: one row per saga (`atlas_sagas`) and its append-only version history.

`atlas_sagas` keeps the saga document as JSONB next to the columns the orchestrator
queries: tenant (id, region, major, minor), type, status, timestamps, the stored
`deadline` (the reaper's timer, so a restart loses none) and `version` (optimistic
locking). `atlas_saga_history` receives the full document of every version, written in
the same transaction as the row, so the sequence of versions of each saga can be
checked for consistency and audited.

`create_schema(engine)` creates both (with the runtime's outbox tables) through the
runtime's serialized, additive migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from atlas_runtime.db import migrate

saga_metadata = MetaData()
_Stamp = DateTime(timezone=True)

sagas_table = Table(
    "atlas_sagas",
    saga_metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("tenant_region", String(32), nullable=False),
    Column("tenant_major", SmallInteger, nullable=False),
    Column("tenant_minor", SmallInteger, nullable=False),
    Column("saga_type", String(64), nullable=False),
    Column("initiated_by", String(255), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("saga_data", JSONB, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", _Stamp, nullable=False),
    Column("updated_at", _Stamp, nullable=False),
    Column("deadline", _Stamp, nullable=True),
    Index("atlas_sagas_tenant_idx", "tenant_id", "created_at", "id"),
    Index(
        "atlas_sagas_deadline_idx",
        "deadline",
        postgresql_where=text("status IN ('active', 'compensating')"),
    ),
    Index("atlas_sagas_finished_idx", "updated_at", postgresql_where=text("deadline IS NULL")),
)

saga_history_table = Table(
    "atlas_saga_history",
    saga_metadata,
    Column("saga_id", Uuid, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("saga_data", JSONB, nullable=False),
    Column("recorded_at", _Stamp, nullable=False),
    PrimaryKeyConstraint("saga_id", "version", name="atlas_saga_history_pk"),
)


async def create_schema(engine: AsyncEngine) -> list[str]:
    """Create the saga tables and the runtime's outbox tables when missing (safe on every replica).

    Returns:
        The operations applied (empty when the schema was already current).
    """
    return await migrate(engine, saga_metadata)
