"""`SagaStore`: reads and optimistic writes of sagas on PostgreSQL (SQLAlchemy Core).

Every write goes through the caller's session, so the state change, its history row
and the outbox rows it emits commit together or not at all:

- `insert` is `INSERT ... ON CONFLICT (id) DO NOTHING`: a redelivered start command
  for an existing transaction id changes nothing and reports False;
- `update` is `UPDATE ... WHERE id = :id AND version = :v`, bumping the version;
  zero rows raises `VersionConflictError` (the caller re-reads and retries);
- `claim_timed_out` selects overdue sagas `FOR UPDATE SKIP LOCKED` inside the
  caller's transaction, so each is claimed by exactly one replica until it commits.

The table holds every tenant's sagas: the orchestrator's recovery and reaper work
across tenants, and the REST listing names its tenant explicitly (`page`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from atlas_runtime.saga.errors import VersionConflictError
from atlas_runtime.saga.model import RUNNING, Failure, Saga, SagaStatus, StepState
from atlas_runtime.saga.tables import saga_history_table, sagas_table
from atlas_runtime.tenant import Tenant

_RUNNING = [status.value for status in RUNNING]


def saga_from_row(row: Row[Any] | Any) -> Saga:
    """A `Saga` from a row of `atlas_sagas` (or of the history, with the row's columns)."""
    doc = row.saga_data
    return Saga(
        id=row.id,
        saga_type=row.saga_type,
        tenant=Tenant(row.tenant_id, row.tenant_region, row.tenant_major, row.tenant_minor),
        data=doc.get("data") or {},
        steps=tuple(StepState.from_json(step) for step in doc.get("steps", ())),
        status=SagaStatus(row.status),
        initiated_by=row.initiated_by,
        timeout_ms=int(doc.get("timeout") or 0),
        failure=Failure.from_json(doc.get("failure")),
        version=int(row.version),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deadline=row.deadline,
    )


class SagaStore:
    """Saga persistence; stateless, so one instance serves every task and replica."""

    async def insert(self, session: AsyncSession, saga: Saga, *, now: datetime) -> bool:
        """Store a new saga at version 1; False (and nothing written) if its id already exists."""
        values = {
            **_columns(saga),
            "id": saga.id,
            "saga_type": saga.saga_type,
            "initiated_by": saga.initiated_by,
            "tenant_id": saga.tenant.id,
            "tenant_region": saga.tenant.region,
            "tenant_major": saga.tenant.major_version,
            "tenant_minor": saga.tenant.minor_version,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        inserted = (
            pg_insert(sagas_table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(*_history_source(sagas_table))
            .cte("inserted")
        )
        return await self._with_history(session, inserted) is not None

    async def get(self, session: AsyncSession, saga_id: uuid.UUID, *, lock: bool = False) -> Saga | None:
        """The saga with this id (any tenant, any status), or None."""
        statement = select(sagas_table).where(sagas_table.c.id == saga_id)
        if lock:
            statement = statement.with_for_update()
        row = (await session.execute(statement)).first()
        return saga_from_row(row) if row else None

    async def update(self, session: AsyncSession, saga: Saga, *, now: datetime) -> Saga:
        """Write `saga` over the version it was read at; returns it at its new version.

        Raises:
            VersionConflictError: the row is no longer at `saga.version`.
        """
        updated = (
            update(sagas_table)
            .where(and_(sagas_table.c.id == saga.id, sagas_table.c.version == saga.version))
            .values(**_columns(saga), version=saga.version + 1, updated_at=now)
            .returning(*_history_source(sagas_table))
            .cte("updated")
        )
        if await self._with_history(session, updated) is None:
            raise VersionConflictError(saga.id, saga.version)
        return Saga(**{**_fields(saga), "version": saga.version + 1, "updated_at": now})

    async def claim_timed_out(
        self, session: AsyncSession, *, now: datetime, limit: int, saga_types: Sequence[str]
    ) -> list[Saga]:
        """Running sagas of `saga_types` past their deadline, row-locked until the transaction ends.

        Rows locked by another replica's open claim are skipped, not waited for.
        """
        statement = (
            select(sagas_table)
            .where(and_(sagas_table.c.status.in_(_RUNNING), sagas_table.c.deadline <= now))
            .where(sagas_table.c.saga_type.in_(saga_types))
            .order_by(sagas_table.c.deadline)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [saga_from_row(row) for row in (await session.execute(statement)).all()]

    async def running_ids(
        self, session: AsyncSession, *, after: uuid.UUID | None, limit: int, saga_types: Sequence[str]
    ) -> list[uuid.UUID]:
        """Ids of active or compensating sagas of `saga_types`, in id order after `after` (keyset paging)."""
        statement = select(sagas_table.c.id).where(
            sagas_table.c.status.in_(_RUNNING), sagas_table.c.saga_type.in_(saga_types)
        )
        if after is not None:
            statement = statement.where(sagas_table.c.id > after)
        statement = statement.order_by(sagas_table.c.id).limit(limit)
        return list((await session.execute(statement)).scalars().all())

    async def page(
        self,
        session: AsyncSession,
        tenant: Tenant,
        *,
        offset: int,
        limit: int,
        statuses: Sequence[SagaStatus] = (),
    ) -> tuple[list[Saga], int]:
        """One page of a tenant's sagas, newest first, and the tenant's total (paged in SQL)."""
        where = [sagas_table.c.tenant_id == tenant.id]
        if statuses:
            where.append(sagas_table.c.status.in_([s.value for s in statuses]))
        total = await session.scalar(select(func.count()).select_from(sagas_table).where(*where))
        statement = (
            select(sagas_table)
            .where(*where)
            .order_by(sagas_table.c.created_at.desc(), sagas_table.c.id)
            .offset(offset)
            .limit(limit)
        )
        rows = (await session.execute(statement)).all()
        return [saga_from_row(row) for row in rows], int(total or 0)

    async def history(self, session: AsyncSession, saga_id: uuid.UUID) -> list[Saga]:
        """Every stored version of a saga, oldest first."""
        current = await self.get(session, saga_id)
        if current is None:
            return []
        statement = (
            select(saga_history_table)
            .where(saga_history_table.c.saga_id == saga_id)
            .order_by(saga_history_table.c.version)
        )
        versions = []
        for row in (await session.execute(statement)).all():
            doc = row.saga_data
            versions.append(
                Saga(
                    **{
                        **_fields(current),
                        "data": doc.get("data") or {},
                        "steps": tuple(StepState.from_json(s) for s in doc.get("steps", ())),
                        "status": SagaStatus(row.status),
                        "failure": Failure.from_json(doc.get("failure")),
                        "version": int(row.version),
                        "updated_at": row.recorded_at,
                    }
                )
            )
        return versions

    async def sweep(self, session: AsyncSession, *, before: datetime, limit: int) -> int:
        """Delete up to `limit` finished sagas last changed before `before`, with their history."""
        doomed = (
            select(sagas_table.c.id)
            .where(and_(sagas_table.c.deadline.is_(None), sagas_table.c.updated_at < before))
            .where(sagas_table.c.status.not_in(_RUNNING))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await session.execute(doomed)).scalars().all())
        if ids:
            await session.execute(delete(saga_history_table).where(saga_history_table.c.saga_id.in_(ids)))
            await session.execute(delete(sagas_table).where(sagas_table.c.id.in_(ids)))
        return len(ids)

    @staticmethod
    async def _with_history(session: AsyncSession, written: Any) -> int | None:
        """Copy the row a DML CTE wrote into the history, in the same statement; its version or None."""
        columns = ["saga_id", "version", "status", "saga_data", "recorded_at"]
        statement = (
            insert(saga_history_table)
            .from_select(columns, select(*written.c))
            .returning(saga_history_table.c.version)
        )
        version = (await session.execute(statement)).scalar_one_or_none()
        return None if version is None else int(version)


def _history_source(table: Any) -> tuple[Any, ...]:
    """Columns of a written saga row, in the order of the history table's columns."""
    return (table.c.id, table.c.version, table.c.status, table.c.saga_data, table.c.updated_at)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _columns(saga: Saga) -> dict[str, Any]:
    return {"status": saga.status.value, "saga_data": saga.document(), "deadline": saga.deadline}


def _fields(saga: Saga) -> dict[str, Any]:
    return {name: getattr(saga, name) for name in Saga.__dataclass_fields__}
