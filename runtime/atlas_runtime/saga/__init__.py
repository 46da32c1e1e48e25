"""Durable saga orchestration on PostgreSQL: saga types as data, optimistic writes, outbox delivery.

    definitions = definitions_from_service(spec)            # from the spec's `sagas:`
    await create_schema(db.engine)                           # tables + outbox, once per start
    orchestrator = SagaOrchestrator(definitions, db, topics=resolve_topics(tokens))
    await orchestrator.start("trade", {"buyer": 1, ...})     # or POST /api/sagas, or the trigger
    await orchestrator.on_event(topic, envelope, headers=headers)   # each status event
    asyncio.create_task(orchestrator.run())                  # recovery, then the reaper
    app = create_app("orchestrator", routers=[orchestrator.router()])

See `docs/sagas.md` for the state machine, the wire format and the guarantees.
"""

from __future__ import annotations

from atlas_runtime.saga.decisions import STEP_HEADER, Decision, MessageKind, Outgoing, Verdict
from atlas_runtime.saga.definition import (
    CommandTemplate,
    Completion,
    SagaDefinition,
    StepDefinition,
    build_command,
    definitions_from_service,
)
from atlas_runtime.saga.emitter import Emitter, OutboxEmitter
from atlas_runtime.saga.errors import CommandBuildError, UnknownSagaType, VersionConflictError
from atlas_runtime.saga.model import Failure, Saga, SagaStatus, StepState, StepStatus, check_transition
from atlas_runtime.saga.orchestrator import KIND_HEADER, SagaOrchestrator, StartResult
from atlas_runtime.saga.router import saga_router
from atlas_runtime.saga.settings import SagaSettings
from atlas_runtime.saga.store import SagaStore
from atlas_runtime.saga.subscribe import subscribe
from atlas_runtime.saga.tables import create_schema, saga_history_table, saga_metadata, sagas_table

__all__ = [
    "KIND_HEADER",
    "STEP_HEADER",
    "CommandBuildError",
    "CommandTemplate",
    "Completion",
    "Decision",
    "Emitter",
    "Failure",
    "MessageKind",
    "OutboxEmitter",
    "Outgoing",
    "Saga",
    "SagaDefinition",
    "SagaOrchestrator",
    "SagaSettings",
    "SagaStatus",
    "SagaStore",
    "StartResult",
    "StepDefinition",
    "StepState",
    "StepStatus",
    "UnknownSagaType",
    "Verdict",
    "VersionConflictError",
    "build_command",
    "check_transition",
    "create_schema",
    "definitions_from_service",
    "saga_history_table",
    "saga_metadata",
    "saga_router",
    "sagas_table",
    "subscribe",
]
