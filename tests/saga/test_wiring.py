"""Saga definitions from specs, triggers, settings, and wiring to the runtime's consumer."""

from __future__ import annotations

import asyncio
import json
import types
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

import atlas_runtime.saga as package
from atlas_runtime.db import Database
from atlas_runtime.errors import ConfigurationError
from atlas_runtime.messaging import MemoryBroker, Messaging, MessagingSettings, OutboundMessage
from atlas_runtime.saga import (
    CommandBuildError,
    SagaOrchestrator,
    SagaSettings,
    SagaStatus,
    StepStatus,
    build_command,
    check_transition,
    definitions_from_service,
    subscribe,
)
from atlas_runtime.saga.decisions import drive, new_saga
from atlas_runtime.saga.store import utcnow

from .conftest import TENANT
from .outbox import staged
from .specs import ORDER_TRIGGER, order_definitions, saga, service, topics_for


def test_definitions_come_from_the_spec() -> None:
    """Steps, completions, compensations and timeouts of a saga type are read from its spec."""
    definitions = order_definitions(timed=saga(3, timeout="2s"))
    five = definitions["five"]
    assert [s.name for s in five.steps] == ["s1", "s2", "s3", "s4", "s5"]
    assert five.steps[1].completion is not None and five.steps[1].completion.success == {"DONE"}
    assert five.timeout is None and definitions["timed"].timeout == timedelta(seconds=2)
    assert five.required_data == {"order_id", "amount"}
    assert five.trigger is not None and five.trigger.type == "PLACE5"
    assert "EVENT_TOPIC_ORDER_STATUS" in five.topic_tokens()


def test_camel_wire_case_renames_fields_on_the_wire() -> None:
    """With `wire_case: camel` commands carry camelCase names while data keeps the declared ones."""
    definition = definitions_from_service(service({"three": saga(3)}, wire_case="camel"))["three"]
    state = new_saga(
        definition,
        uuid.uuid4(),
        tenant=TENANT,
        data={"order_id": 4, "amount": 2, "fail_step": "s9"},
        initiated_by="",
        timeout=timedelta(minutes=1),
        now=utcnow(),
    )
    envelope = build_command(definition, state, definition.steps[0].action)
    assert envelope == {
        "type": "DO",
        "transactionId": str(state.id),
        "body": {"orderId": 4, "amount": 2, "failStep": "s9"},
    }


def test_missing_command_field_is_a_build_error() -> None:
    """A declared field with no value and no default cannot be built into a command."""
    definition = order_definitions()["three"]
    state = new_saga(
        definition,
        uuid.uuid4(),
        tenant=TENANT,
        data={"order_id": 4},
        initiated_by="",
        timeout=timedelta(minutes=1),
        now=utcnow(),
    )
    with pytest.raises(CommandBuildError, match="amount"):
        build_command(definition, state, definition.steps[0].action)
    complete = new_saga(
        definition,
        uuid.uuid4(),
        tenant=TENANT,
        data={"order_id": 4, "amount": 1},
        initiated_by="",
        timeout=timedelta(minutes=1),
        now=utcnow(),
    )
    with pytest.raises(CommandBuildError, match="s1"):
        build_command(definition, complete, definition.steps[1].action)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SAGA_* variables accept spec durations or seconds."""
    monkeypatch.setenv("SAGA_DEFAULT_TIMEOUT", "90s")
    monkeypatch.setenv("SAGA_REAPER_INTERVAL", "0.5")
    monkeypatch.setenv("SAGA_RECOVERY_ENABLED", "false")
    monkeypatch.setenv("SAGA_RETENTION", "2d")
    settings = SagaSettings()
    assert settings.default_timeout == timedelta(seconds=90)
    assert settings.reaper_interval == timedelta(seconds=0.5)
    assert settings.recovery_enabled is False and settings.retention == timedelta(days=2)
    assert SagaSettings.model_fields["default_timeout"].default == timedelta(minutes=5)


def test_missing_topic_names_are_a_configuration_error(saga_db_name: str) -> None:
    """An orchestrator refuses to start when a token its saga types use has no topic name."""
    topics = topics_for("x")
    del topics[ORDER_TRIGGER]
    with pytest.raises(ConfigurationError, match=ORDER_TRIGGER):
        SagaOrchestrator(order_definitions(), None, topics=topics)  # type: ignore[arg-type]


@pytest.mark.postgres
async def test_trigger_starts_a_saga_once(saga_db: Database) -> None:
    """A trigger command starts its saga type with its fields as data; a redelivery starts nothing."""
    orch = SagaOrchestrator(order_definitions(), saga_db, topics=topics_for("tr"))
    saga_id = uuid.uuid4()
    trigger = {"type": "PLACE4", "transaction_id": str(saga_id), "body": {"order_id": 8, "amount": 3}}
    topic = topics_for("tr")[ORDER_TRIGGER]
    first = await orch.on_trigger(topic, trigger, headers=TENANT.kafka_headers())
    again = await orch.on_trigger(topic, trigger, headers=TENANT.kafka_headers())
    assert first is not None and first.created and first.saga.saga_type == "four"
    assert again is not None and not again.created
    assert first.saga.data == {"order_id": 8, "amount": 3}
    assert await orch.on_trigger(topic, {**trigger, "type": "PLACE9"}) is None
    assert len(await staged(saga_db, saga_id)) == 1


@pytest.mark.postgres
async def test_subscribe_feeds_status_events_from_the_runtime_consumer(saga_db: Database) -> None:
    """Subscribed to the runtime's consumer, the orchestrator completes a step from a status event."""
    topics = topics_for(uuid.uuid4().hex[:8])
    orch = SagaOrchestrator(order_definitions(), saga_db, topics=topics)
    broker = MemoryBroker()
    messaging = Messaging(
        MessagingSettings(service="orders", topics=topics, consumer_group="orders"), broker=broker
    )
    consumer = messaging.consumer()
    assert "EVENT_TOPIC_STOCK_STATUS" in subscribe(consumer, orch)
    saga_id = (await orch.start("three", {"order_id": 1, "amount": 2}, tenant=TENANT)).saga.id
    await messaging.start()
    try:
        event = {"type": "DONE", "transaction_id": str(saga_id), "body": {"receipt": "r1"}}
        await broker.append(
            OutboundMessage(
                topics["EVENT_TOPIC_STOCK_STATUS"],
                str(saga_id).encode(),
                json.dumps(event).encode(),
                [*TENANT.kafka_headers(), ("SAGA_STEP", b"s1")],
            )
        )
        for _ in range(100):
            current = await orch.get(saga_id)
            if current is not None and current.version == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await messaging.stop()
    assert current is not None and current.status is SagaStatus.ACTIVE
    assert current.steps[0].status is StepStatus.COMPLETED and current.steps[0].result == {
        "transaction_id": str(saga_id),
        "receipt": "r1",
    }


def test_transition_check_flags_corruption() -> None:
    """The history check reports changed data, changed results and steps moving backwards."""
    definition = order_definitions()["three"]
    before = new_saga(
        definition,
        uuid.uuid4(),
        tenant=TENANT,
        data={"order_id": 1, "amount": 1},
        initiated_by="",
        timeout=timedelta(minutes=1),
        now=utcnow(),
    )
    dispatched = before.with_step(replace(before.steps[0], status=StepStatus.DISPATCHED))
    done = dispatched.with_step(replace(dispatched.steps[0], status=StepStatus.COMPLETED, result={"r": 1}))
    assert check_transition(before, dispatched) == []
    assert check_transition(dispatched, done) == []
    assert check_transition(done, dispatched) == ["step s1 completed -> dispatched", "step s1 result changed"]
    assert check_transition(done, replace(done, data={"order_id": 2, "amount": 1})) == ["data changed"]
    rewritten = done.with_step(replace(done.steps[0], result={"r": 2}))
    assert check_transition(done, rewritten) == ["step s1 result changed"]
    finished = replace(done, status=SagaStatus.COMPLETED)
    assert check_transition(finished, replace(finished, status=SagaStatus.ACTIVE)) == [
        "saga completed -> active"
    ]


def test_step_without_completion_is_done_once_sent() -> None:
    """A step with no completion event counts as completed when its command is sent."""
    spec = saga(2)
    del spec["steps"][0]["completion"]
    del spec["steps"][1]["action"]["set"]  # s1 has no event whose fields s2 could use
    definition = definitions_from_service(service({"fire": spec}))["fire"]
    now = utcnow()
    state = new_saga(
        definition,
        uuid.uuid4(),
        tenant=TENANT,
        data={"order_id": 1, "amount": 1},
        initiated_by="",
        timeout=timedelta(minutes=1),
        now=now,
    )
    decision = drive(definition, state, now)
    assert [s.status for s in decision.saga.steps] == [StepStatus.COMPLETED, StepStatus.DISPATCHED]
    assert [m.step for m in decision.messages] == ["s1", "s2"]


def test_drive_never_resends_a_failed_step() -> None:
    """A running saga holding a failed step without a recorded failure walks back instead of re-sending."""
    definition = order_definitions()["three"]
    now = utcnow()
    state = new_saga(
        definition,
        uuid.uuid4(),
        tenant=TENANT,
        data={"order_id": 1, "amount": 1},
        initiated_by="",
        timeout=timedelta(minutes=1),
        now=now,
    )
    broken = state.with_step(replace(state.steps[0], status=StepStatus.FAILED))
    decision = drive(definition, broken, now)
    assert decision.saga.status is SagaStatus.COMPENSATED
    assert [m.kind.value for m in decision.messages] == ["terminal"]


def test_public_api_is_exported() -> None:
    """`atlas_runtime.saga.__all__` lists exactly the public names the package exports, sorted."""
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert set(package.__all__) == public
    assert package.__all__ == sorted(package.__all__, key=lambda n: (not n.isupper(), n))
