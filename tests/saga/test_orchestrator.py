"""The orchestrator on the real PostgreSQL: start, completion, compensation, duplicates, late events."""

from __future__ import annotations

import itertools
import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from atlas_runtime.db import Database
from atlas_runtime.errors import UnprocessableEntity
from atlas_runtime.saga import (
    SagaOrchestrator,
    SagaStatus,
    StepStatus,
    UnknownSagaType,
    Verdict,
    check_transition,
)
from atlas_runtime.saga.tables import saga_history_table
from atlas_runtime.tenant import as_tenant

from .conftest import OTHER_TENANT, TENANT
from .outbox import Staged, answer, staged
from .specs import order_definitions, saga, step, topics_for

pytestmark = pytest.mark.postgres

ORDER = {"order_id": 7, "amount": 250}


def orchestrator(db: Database, **sagas: object) -> SagaOrchestrator:
    return SagaOrchestrator(order_definitions(**sagas), db, topics=topics_for("t"))


async def last_command(db: Database, saga_id: uuid.UUID) -> Staged:
    return [row for row in await staged(db, saga_id) if row.kind == "action"][-1]


async def assert_history_consistent(orch: SagaOrchestrator, saga_id: uuid.UUID) -> None:
    async with orch.database.session_across_tenants() as session:
        versions = await orch.store.history(session, saga_id)
        current = await orch.store.get(session, saga_id)
    assert current is not None
    assert [v.version for v in versions] == list(range(1, current.version + 1))
    for before, after in itertools.pairwise(versions):
        assert check_transition(before, after) == [], (before.version, after.version)


async def test_start_stores_the_saga_and_stages_its_first_command(saga_db: Database) -> None:
    """Starting a saga stores version 1 and stages the first step's command with tenant and step headers."""
    orch = orchestrator(saga_db)
    result = await orch.start("three", ORDER, tenant=TENANT, initiated_by="test")
    assert result.created
    saga_row = await orch.get(result.saga.id)
    assert saga_row is not None
    assert (saga_row.version, saga_row.status) == (1, SagaStatus.ACTIVE)
    assert [s.status for s in saga_row.steps] == [
        StepStatus.DISPATCHED,
        StepStatus.PENDING,
        StepStatus.PENDING,
    ]
    assert saga_row.deadline is not None and saga_row.tenant == TENANT
    (command,) = await staged(saga_db)
    assert command.topic == "command-topic-stock-t"
    assert command.envelope == {
        "type": "DO",
        "transaction_id": str(result.saga.id),
        "body": {"order_id": 7, "amount": 250},
    }
    assert command.step == "s1" and command.headers["TENANT_ID"] == str(TENANT.id).encode()


async def test_redelivered_start_changes_nothing(saga_db: Database) -> None:
    """A start for an existing transaction id returns the stored saga and stages no command."""
    orch = orchestrator(saga_db)
    saga_id = uuid.uuid4()
    first = await orch.start("three", ORDER, transaction_id=saga_id, tenant=TENANT)
    await answer(orch, await last_command(saga_db, saga_id))
    again = await orch.start("three", {"order_id": 99, "amount": 1}, transaction_id=saga_id, tenant=TENANT)
    assert first.created and not again.created
    assert again.saga.data == ORDER and again.saga.version == 2
    assert len(await staged(saga_db, saga_id)) == 2


async def test_start_refuses_unknown_types_and_missing_data(saga_db: Database) -> None:
    """An unknown saga type or data missing a required field is refused before anything is stored."""
    orch = orchestrator(saga_db)
    with pytest.raises(UnknownSagaType, match="three"):
        await orch.start("nine", ORDER, tenant=TENANT)
    with pytest.raises(UnprocessableEntity, match="amount"):
        await orch.start("three", {"order_id": 1}, tenant=TENANT)
    assert await staged(saga_db) == []


async def test_saga_completes_and_announces_it_once(saga_db: Database) -> None:
    """Each completion dispatches the next step with earlier results; the last one completes the saga."""
    orch = orchestrator(saga_db)
    saga_id = (await orch.start("three", ORDER, tenant=TENANT)).saga.id
    for _ in range(3):
        assert await answer(orch, await last_command(saga_db, saga_id)) is Verdict.ADVANCED
    rows = await staged(saga_db, saga_id)
    assert [(r.kind, r.step) for r in rows] == [
        ("action", "s1"),
        ("action", "s2"),
        ("action", "s3"),
        ("terminal", None),
    ]
    assert rows[1].envelope["body"]["prev"] == f"{saga_id}:s1"
    assert rows[3].envelope == {
        "type": "COMPLETED",
        "transaction_id": str(saga_id),
        "body": {"saga_type": "three", "order_id": 7},
    }
    done = await orch.get(saga_id)
    assert done is not None and done.status is SagaStatus.COMPLETED and done.deadline is None
    await assert_history_consistent(orch, saga_id)


async def test_failure_compensates_completed_steps_in_reverse(saga_db: Database) -> None:
    """A failed step sends the compensations of the completed steps, last first, then one FAILED event."""
    orch = orchestrator(saga_db)
    saga_id = (await orch.start("five", ORDER, tenant=TENANT)).saga.id
    for _ in range(3):
        await answer(orch, await last_command(saga_db, saga_id))
    assert await answer(orch, await last_command(saga_db, saga_id), ok=False) is Verdict.ADVANCED
    rows = await staged(saga_db, saga_id)
    undo = [(r.step, r.envelope["body"]["receipt"]) for r in rows if r.kind == "compensation"]
    assert undo == [(f"s{i}", f"{saga_id}:s{i}") for i in (3, 2, 1)]
    terminal = rows[-1]
    assert terminal.kind == "terminal" and terminal.envelope["type"] == "FAILED"
    assert terminal.envelope["body"]["failed_step"] == "s4"
    assert terminal.envelope["body"]["error_code"] == "NOPE"
    done = await orch.get(saga_id)
    assert done is not None and done.status is SagaStatus.COMPENSATED
    assert [s.status for s in done.steps] == [StepStatus.COMPENSATED] * 3 + [
        StepStatus.FAILED,
        StepStatus.PENDING,
    ]
    await assert_history_consistent(orch, saga_id)


async def test_step_that_cannot_be_undone_makes_the_saga_failed(saga_db: Database) -> None:
    """When a completed step has no compensation, the others are undone and the saga ends failed."""
    spec = saga(3)
    spec["steps"][0] = step(1, compensation=None)
    spec["steps"][1] = step(2, compensation="none")
    orch = orchestrator(saga_db, stuck=spec)
    saga_id = (await orch.start("stuck", ORDER, tenant=TENANT)).saga.id
    await answer(orch, await last_command(saga_db, saga_id))
    await answer(orch, await last_command(saga_db, saga_id))
    await answer(orch, await last_command(saga_db, saga_id), ok=False)
    done = await orch.get(saga_id)
    assert done is not None and done.status is SagaStatus.FAILED
    assert [s.status for s in done.steps] == [StepStatus.COMPLETED, StepStatus.SKIPPED, StepStatus.FAILED]
    assert [r.kind for r in await staged(saga_db, saga_id)][-1] == "terminal"
    assert "compensation" not in [r.kind for r in await staged(saga_db, saga_id)]


async def test_duplicate_and_out_of_order_events_change_nothing(saga_db: Database) -> None:
    """Redelivered, early, foreign and unknown events leave the saga and the outbox as they were."""
    orch = orchestrator(saga_db)
    saga_id = (await orch.start("three", ORDER, tenant=TENANT)).saga.id
    s1 = await last_command(saga_db, saga_id)
    await answer(orch, s1)
    s2 = await last_command(saga_db, saga_id)
    before = await orch.get(saga_id)
    rows_before = await staged(saga_db)
    duplicates_before = (
        REGISTRY.get_sample_value("atlas_saga_events_total", {"service": "saga-test", "verdict": "duplicate"})
        or 0.0
    )
    early = Staged(0, "", str(saga_id), {}, {"SAGA_STEP": b"s3", "SAGA_MESSAGE_KIND": b"action"})
    unknown = Staged(0, "", str(uuid.uuid4()), {}, {"SAGA_STEP": b"s1", "SAGA_MESSAGE_KIND": b"action"})
    assert await answer(orch, s1) is Verdict.DUPLICATE
    assert await answer(orch, s1, ok=False) is Verdict.DUPLICATE
    assert await answer(orch, early) is Verdict.OUT_OF_ORDER
    assert await answer(orch, unknown) is Verdict.UNMATCHED
    with as_tenant(OTHER_TENANT):
        assert await answer(orch, s2) is Verdict.UNMATCHED
    assert await orch.get(saga_id) == before
    assert await staged(saga_db) == rows_before
    assert orch.stats["event_duplicate"] == 2
    assert (
        REGISTRY.get_sample_value("atlas_saga_events_total", {"service": "saga-test", "verdict": "duplicate"})
        == duplicates_before + 2
    )
    await answer(orch, s2)
    await answer(orch, await last_command(saga_db, saga_id))
    finished = await orch.get(saga_id)
    rows_finished = await staged(saga_db)
    for command in [r for r in rows_finished if r.kind == "action"]:
        assert await answer(orch, command) is Verdict.DUPLICATE
        assert await answer(orch, command, echo_step=False) is Verdict.DUPLICATE
    assert await orch.get(saga_id) == finished
    assert await staged(saga_db) == rows_finished
    await assert_history_consistent(orch, saga_id)


async def test_events_without_step_header_match_the_in_flight_step(saga_db: Database) -> None:
    """Without the step header, an event completes the in-flight step of its completion topic."""
    orch = orchestrator(saga_db)
    saga_id = (await orch.start("three", ORDER, tenant=TENANT)).saga.id
    for _ in range(3):
        assert await answer(orch, await last_command(saga_db, saga_id), echo_step=False) is Verdict.ADVANCED
    done = await orch.get(saga_id)
    assert done is not None and done.status is SagaStatus.COMPLETED


async def test_late_success_of_a_timed_out_step_is_compensated_once(saga_db: Database) -> None:
    """A success arriving after the saga timed out sends that step's compensation exactly once."""
    orch = orchestrator(saga_db, quick=saga(3, timeout="1ms"))
    saga_id = (await orch.start("quick", ORDER, tenant=TENANT)).saga.id
    s1 = await last_command(saga_db, saga_id)
    assert await orch.reap_once() == 1
    timed_out = await orch.get(saga_id)
    assert timed_out is not None and timed_out.status is SagaStatus.COMPENSATED
    assert timed_out.failure is not None and timed_out.failure.error_code == "SAGA_TIMEOUT"
    assert timed_out.steps[0].status is StepStatus.TIMED_OUT
    assert await answer(orch, s1) is Verdict.LATE
    assert await answer(orch, s1) is Verdict.DUPLICATE
    rows = await staged(saga_db, saga_id)
    assert [(r.kind, r.step) for r in rows] == [("action", "s1"), ("terminal", None), ("compensation", "s1")]
    assert await orch.reap_once() == 0
    await assert_history_consistent(orch, saga_id)


async def test_late_failure_of_a_timed_out_step_is_recorded(saga_db: Database) -> None:
    """A failure arriving after the timeout marks the step failed and sends nothing."""
    orch = orchestrator(saga_db, quick=saga(3, timeout="1ms"))
    saga_id = (await orch.start("quick", ORDER, tenant=TENANT)).saga.id
    s1 = await last_command(saga_db, saga_id)
    await orch.reap_once()
    assert await answer(orch, s1, ok=False) is Verdict.LATE
    done = await orch.get(saga_id)
    assert done is not None and done.steps[0].status is StepStatus.FAILED
    assert len(await staged(saga_db, saga_id)) == 2


async def test_history_keeps_every_version(saga_db: Database) -> None:
    """Every write appends the full document at its new version to the history table."""
    orch = orchestrator(saga_db)
    saga_id = (await orch.start("three", ORDER, tenant=TENANT)).saga.id
    await answer(orch, await last_command(saga_db, saga_id))
    async with saga_db.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(saga_history_table.c.version, saga_history_table.c.status).where(
                    saga_history_table.c.saga_id == saga_id
                )
            )
        ).all()
    assert sorted(rows) == [(1, "active"), (2, "active")]


async def test_unbuildable_command_fails_the_step_and_walks_back(saga_db: Database) -> None:
    """A step whose command cannot be built fails, and the steps before it are compensated."""
    spec = saga(3)
    spec["steps"][1]["action"]["set"] = {"prev": "steps.s1.no_such_field"}
    orch = orchestrator(saga_db, broken=spec)
    saga_id = (await orch.start("broken", ORDER, tenant=TENANT)).saga.id
    await answer(orch, await last_command(saga_db, saga_id))
    done = await orch.get(saga_id)
    assert done is not None and done.status is SagaStatus.COMPENSATED
    assert done.failure is not None and "no_such_field" in done.failure.reason
    assert [s.status for s in done.steps] == [StepStatus.COMPENSATED, StepStatus.FAILED, StepStatus.PENDING]
    assert [(r.kind, r.step) for r in await staged(saga_db, saga_id)] == [
        ("action", "s1"),
        ("compensation", "s1"),
        ("terminal", None),
    ]


async def test_data_is_stored_as_json(saga_db: Database) -> None:
    """Data values such as uuids and datetimes are stored and sent in their JSON form."""
    orch = orchestrator(saga_db)
    owner = uuid.uuid4()
    saga_id = (await orch.start("three", {**ORDER, "owner": owner}, tenant=TENANT)).saga.id
    stored = await orch.get(saga_id)
    assert stored is not None and stored.data == {**ORDER, "owner": str(owner)}
