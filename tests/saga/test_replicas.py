"""Several orchestrator replicas on one database: reaper claims, concurrent writers, recovery, retention."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from atlas_runtime.db import Database
from atlas_runtime.saga import (
    SagaOrchestrator,
    SagaSettings,
    SagaStatus,
    Verdict,
    VersionConflictError,
    sagas_table,
)
from atlas_runtime.saga.decisions import new_saga
from atlas_runtime.saga.store import utcnow

from .conftest import TENANT, open_database
from .outbox import answer, staged
from .specs import order_definitions, saga, topics_for

pytestmark = pytest.mark.postgres

ORDER = {"order_id": 7, "amount": 250}


def replica(db: Database, **settings: object) -> SagaOrchestrator:
    return SagaOrchestrator(
        order_definitions(
            slow=saga(3, timeout="1h"), quick=saga(3, timeout="1ms"), stuck=saga(3, timeout="1500ms")
        ),
        db,
        topics=topics_for("r"),
        settings=SagaSettings(**settings),  # type: ignore[arg-type]
    )


async def test_two_reapers_compensate_each_stuck_saga_once(
    saga_db: Database, db_env: dict[str, str], saga_db_name: str
) -> None:
    """With two replicas' reapers running, every overdue saga is timed out and compensated exactly once.

    Both reapers claim some of the sagas: each claims at most `reaper_batch` per
    transaction and both start at once, so the second's first claim skips the rows the
    first holds locked instead of finding nothing left.
    """
    second_db = open_database(db_env, saga_db_name)
    fast = {"reaper_batch": 7, "reaper_interval": timedelta(milliseconds=50), "recovery_enabled": False}
    try:
        first, second = replica(saga_db, **fast), replica(second_db, **fast)
        ids = []
        for n in range(40):
            saga_id = (await first.start("stuck", {**ORDER, "order_id": n}, tenant=TENANT)).saga.id
            await answer(first, (await staged(saga_db, saga_id))[-1])  # s1 done, s2 in flight
            ids.append(saga_id)
        fresh = (await first.start("slow", ORDER, tenant=TENANT)).saga.id
        stuck = await first.get(ids[-1])
        assert stuck is not None and stuck.deadline is not None
        await asyncio.sleep(max(0.0, (stuck.deadline - utcnow()).total_seconds()) + 0.1)
        assert await second.get(fresh) is not None  # its pool is connected: both claims start together
        loops = [asyncio.create_task(r.run()) for r in (first, second)]
        for _ in range(100):
            if first.stats["timed_out"] + second.stats["timed_out"] >= 40:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # more passes of both reapers, which must find nothing
        first.stop()
        second.stop()
        await asyncio.gather(*loops)
        assert first.stats["timed_out"] + second.stats["timed_out"] == 40
        assert first.stats["timed_out"] >= 1 and second.stats["timed_out"] >= 1, "one reaper claimed all"
        rows = await staged(saga_db)
        for saga_id in ids:
            mine = [r for r in rows if r.saga_id == saga_id]
            assert [(r.kind, r.step) for r in mine] == [
                ("action", "s1"),
                ("action", "s2"),
                ("compensation", "s1"),
                ("terminal", None),
            ]
            done = await first.get(saga_id)
            assert done is not None and done.status is SagaStatus.COMPENSATED
            assert done.failure is not None and done.failure.error_code == "SAGA_TIMEOUT"
            assert done.version == 3
        still = await first.get(fresh)
        assert still is not None and still.status is SagaStatus.ACTIVE
    finally:
        await second_db.close()


async def test_concurrent_writers_conflict_and_one_wins(
    saga_db: Database, db_env: dict[str, str], saga_db_name: str
) -> None:
    """One event applied by two replicas at once advances the saga once; the loser re-reads a duplicate."""
    second_db = open_database(db_env, saga_db_name)
    try:
        first, second = replica(saga_db), replica(second_db)
        verdicts: list[Verdict] = []
        for n in range(15):
            saga_id = (await first.start("three", {**ORDER, "order_id": n}, tenant=TENANT)).saga.id
            command = (await staged(saga_db, saga_id))[-1]
            verdicts += await asyncio.gather(answer(first, command), answer(second, command))
            assert len(await staged(saga_db, saga_id)) == 2
            current = await first.get(saga_id)
            assert current is not None and current.version == 2
        assert verdicts.count(Verdict.ADVANCED) == 15
        assert verdicts.count(Verdict.DUPLICATE) == 15
        assert first.stats["conflicts"] + second.stats["conflicts"] > 0
    finally:
        await second_db.close()


async def test_stale_write_raises_version_conflict(saga_db: Database) -> None:
    """Writing a saga over a version that moved on raises VersionConflictError and changes nothing."""
    orch = replica(saga_db)
    started = (await orch.start("three", ORDER, tenant=TENANT)).saga
    async with saga_db.session_across_tenants() as session:
        await orch.store.update(session, started, now=utcnow())
    with pytest.raises(VersionConflictError, match="version 1"):
        async with saga_db.session_across_tenants() as session:
            await orch.store.update(session, started, now=utcnow())
    current = await orch.get(started.id)
    assert current is not None and current.version == 2


async def test_recovery_sends_the_command_of_a_step_never_dispatched(saga_db: Database) -> None:
    """Recovery dispatches a running saga's unsent step once and leaves waiting sagas alone."""
    orch = replica(saga_db, recovery_enabled=True, reaper_interval=timedelta(hours=1))
    waiting = (await orch.start("three", ORDER, tenant=TENANT)).saga.id
    now = utcnow()
    undispatched = new_saga(
        orch.definition("three"),
        uuid.uuid4(),
        tenant=TENANT,
        data=ORDER,
        initiated_by="",
        timeout=timedelta(minutes=5),
        now=now,
    )
    async with saga_db.session_across_tenants() as session:
        await orch.store.insert(session, undispatched, now=now)
    task = asyncio.create_task(orch.run())
    for _ in range(100):
        if orch.stats["recovered"]:
            break
        await asyncio.sleep(0.05)
    orch.stop()
    await task
    assert orch.stats["recovered"] == 1
    assert [(r.kind, r.step) for r in await staged(saga_db, undispatched.id)] == [("action", "s1")]
    assert len(await staged(saga_db, waiting)) == 1
    assert await orch.recover() == 0


async def test_sweep_deletes_finished_sagas_past_retention(saga_db: Database) -> None:
    """The sweep deletes finished sagas older than the retention with their history, and nothing else."""
    orch = replica(saga_db, retention=timedelta(hours=1))
    old = (await orch.start("quick", ORDER, tenant=TENANT)).saga.id
    running = (await orch.start("three", ORDER, tenant=TENANT)).saga.id
    await orch.reap_once()
    async with saga_db.session_across_tenants() as session:
        await session.execute(
            update(sagas_table)
            .where(sagas_table.c.id.in_([old, running]))
            .values(updated_at=utcnow() - timedelta(hours=2))
        )
    assert await orch.sweep() == 1
    assert await orch.get(old) is None
    assert await orch.get(running) is not None
    async with saga_db.session_across_tenants() as session:
        assert await orch.store.history(session, running) != []
