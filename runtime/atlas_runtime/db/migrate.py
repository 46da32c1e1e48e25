"""Schema migrations with Alembic, safe when several replicas start at once.

Two ways, both serialized across replicas (PostgreSQL: a transaction-level advisory
lock, and DDL is transactional, so a replica that waited sees the finished schema;
SQLite: a file lock next to the database):

- `migrate(engine, metadata)`: compare the live schema with the metadata (Alembic
  autogenerate) and apply the **additive** operations (new tables, columns, indexes,
  constraints). Destructive or altering changes (drops, type changes) are never applied
  automatically; they are logged and need a versioned migration.
- `upgrade(engine, script_location)`: run a versioned Alembic migration folder to
  `head`. Its `env.py` calls `run_env_migrations(context, target_metadata)`, which
  uses the connection handed over here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import produce_migrations
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations, ops
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from atlas_runtime.db.locks import advisory_key, file_lock
from atlas_runtime.db.tables import runtime_metadata

log = logging.getLogger("atlas_runtime.db.migrate")

MIGRATION_LOCK = "atlas:migrate"
_ADDITIVE = (
    ops.CreateTableOp,
    ops.AddColumnOp,
    ops.CreateIndexOp,
    ops.CreateUniqueConstraintOp,
    ops.CreateForeignKeyOp,
    ops.CreateCheckConstraintOp,
)


async def migrate(
    engine: AsyncEngine,
    metadata: MetaData | Sequence[MetaData],
    *,
    include_runtime_tables: bool = True,
) -> list[str]:
    """Bring the schema up to `metadata` by applying the missing additive operations.

    Args:
        engine: the service's engine.
        metadata: the service's tables (one MetaData or several).
        include_runtime_tables: also create the outbox, dead-letter and inbox tables.

    Returns:
        A description of each operation applied (empty when the schema was current).
    """
    targets = [metadata] if isinstance(metadata, MetaData) else list(metadata)
    if include_runtime_tables:
        targets.append(runtime_metadata)
    async with _serialized(engine) as connection:
        return await connection.run_sync(_apply_additive, targets)


async def upgrade(engine: AsyncEngine, script_location: str | Path, revision: str = "head") -> None:
    """Run the versioned Alembic migrations in `script_location` up to `revision`."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    async with _serialized(engine) as connection:

        def run(sync_connection: Connection) -> None:
            config.attributes["connection"] = sync_connection
            command.upgrade(config, revision)

        await connection.run_sync(run)


def run_env_migrations(context: Any, target_metadata: MetaData | None = None) -> None:
    """Body of an Alembic `env.py` driven by `upgrade()`: migrate on the handed-over connection."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


@asynccontextmanager
async def _serialized(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that no other replica's migration overlaps."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            # Released by COMMIT/ROLLBACK, so a crashed replica cannot leave it held.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(MIGRATION_LOCK)}
            )
            yield connection
        return
    database = engine.url.database
    if database and database != ":memory:":
        async with file_lock(Path(f"{database}.migrate.lock")), engine.begin() as connection:
            yield connection
        return
    async with engine.begin() as connection:
        yield connection


def _apply_additive(connection: Connection, targets: list[MetaData]) -> list[str]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    script = produce_migrations(context, targets)  # type: ignore[arg-type]
    operations = Operations(context)
    applied: list[str] = []
    for operation in _flatten(script.upgrade_ops.ops if script.upgrade_ops else []):
        if isinstance(operation, _ADDITIVE):
            if isinstance(operation, ops.CreateForeignKeyOp) and connection.dialect.name == "sqlite":
                continue  # SQLite cannot add a constraint to an existing table
            operations.invoke(operation)
            applied.append(_describe(operation))
        elif isinstance(operation, ops.DropTableOp):
            # Tables of other services sharing the database, or of an older version: left alone.
            log.debug("table not in the metadata, left in place: %s", _describe(operation))
        else:
            log.warning(
                "schema change not applied automatically (needs a versioned migration): %s",
                _describe(operation),
            )
    for line in applied:
        log.info("migrated: %s", line)
    return applied


def _flatten(operations: Sequence[ops.MigrateOperation]) -> Iterator[ops.MigrateOperation]:
    for operation in operations:
        if isinstance(operation, ops.OpContainer):
            yield from _flatten(operation.ops)
        else:
            yield operation


def _describe(operation: ops.MigrateOperation) -> str:
    name = type(operation).__name__.removesuffix("Op")
    table = getattr(operation, "table_name", None) or getattr(operation, "source_table", None)
    detail = getattr(operation, "index_name", None) or getattr(operation, "column", None)
    detail_name = getattr(detail, "name", detail)
    return " ".join(str(part) for part in (name, table, detail_name) if part)
