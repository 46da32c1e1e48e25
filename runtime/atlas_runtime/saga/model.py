"""The state of one saga: its lifecycle, its steps and their results, as stored in JSONB.

Pure data with no I/O. The JSON form follows the Go orchestrator's wire names
(`transactionId`, `sagaType`, `steps[].stepId`, `status`, `result`, `createdAt`,
`updatedAt`) so tools reading either store see the same shape.

Saga lifecycle: `active` -> `completed`, or `active` -> `compensating` ->
`compensated` | `failed`. Terminal states have no outgoing transition.

Step lifecycle: `pending` -> `dispatched` -> `completed` | `failed` | `timed_out`;
`completed` -> `compensated` (undone) or `skipped` (nothing to undo); `timed_out` ->
`compensated` (a late success was undone) or `failed` (a late failure). Any other
change between two stored versions is a corruption (`check_transition`).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from atlas_runtime.tenant import Tenant


class SagaStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    COMPENSATED = "compensated"
    SKIPPED = "skipped"


TERMINAL = frozenset({SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED})
RUNNING = (SagaStatus.ACTIVE, SagaStatus.COMPENSATING)

_SAGA_EDGES: dict[SagaStatus, set[SagaStatus]] = {
    SagaStatus.ACTIVE: {SagaStatus.COMPLETED, SagaStatus.COMPENSATING},
    SagaStatus.COMPENSATING: {SagaStatus.COMPENSATED, SagaStatus.FAILED},
}
_STEP_EDGES: dict[StepStatus, set[StepStatus]] = {
    # PENDING -> COMPLETED: a step without a completion event is done once sent.
    StepStatus.PENDING: {StepStatus.DISPATCHED, StepStatus.FAILED, StepStatus.COMPLETED},
    StepStatus.DISPATCHED: {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.TIMED_OUT},
    StepStatus.COMPLETED: {StepStatus.COMPENSATED, StepStatus.SKIPPED},
    StepStatus.TIMED_OUT: {StepStatus.COMPLETED, StepStatus.FAILED},
}


def _closure(edges: dict[Any, set[Any]]) -> dict[Any, frozenset[Any]]:
    """Every state reachable from each state: one transaction may take several edges at once."""
    reach: dict[Any, frozenset[Any]] = {}
    for start in edges:
        seen: set[Any] = set()
        todo = list(edges[start])
        while todo:
            state = todo.pop()
            if state not in seen:
                seen.add(state)
                todo.extend(edges.get(state, ()))
        reach[start] = frozenset(seen)
    return reach


_SAGA_MOVES = _closure(_SAGA_EDGES)
_STEP_MOVES = _closure(_STEP_EDGES)


@dataclass(frozen=True, slots=True)
class StepState:
    """One step as stored: status, the command sent, the completing event's fields."""

    name: str
    status: StepStatus = StepStatus.PENDING
    payload: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    updated_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "stepId": self.name,
            "status": self.status.value,
            "payload": self.payload,
            "result": self.result,
            "updatedAt": self.updated_at,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> StepState:
        return cls(
            name=raw["stepId"],
            status=StepStatus(raw["status"]),
            payload=raw.get("payload"),
            result=raw.get("result"),
            updated_at=raw.get("updatedAt"),
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a saga did not complete: Go's FAILED body fields."""

    reason: str
    error_code: str
    failed_step: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "errorCode": self.error_code, "failedStep": self.failed_step}

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> Failure | None:
        if not raw:
            return None
        return cls(raw["reason"], raw["errorCode"], raw.get("failedStep"))


@dataclass(frozen=True, slots=True)
class Saga:
    """A saga instance; `version` is the stored row version it was read at (0: never stored)."""

    id: uuid.UUID
    saga_type: str
    tenant: Tenant
    data: dict[str, Any]
    steps: tuple[StepState, ...]
    status: SagaStatus = SagaStatus.ACTIVE
    initiated_by: str = ""
    timeout_ms: int = 0
    failure: Failure | None = None
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deadline: datetime | None = None

    def step(self, name: str) -> StepState:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"saga {self.id} ({self.saga_type}) has no step {name!r}")

    def index_of(self, name: str) -> int:
        return next(i for i, step in enumerate(self.steps) if step.name == name)

    def with_step(self, updated: StepState) -> Saga:
        steps = tuple(updated if step.name == updated.name else step for step in self.steps)
        return replace(self, steps=steps)

    def document(self) -> dict[str, Any]:
        """The JSONB column value (and the REST attributes)."""
        return {
            "transactionId": str(self.id),
            "sagaType": self.saga_type,
            "initiatedBy": self.initiated_by,
            "timeout": self.timeout_ms,
            "data": self.data,
            "steps": [step.to_json() for step in self.steps],
            "failure": self.failure.to_json() if self.failure else None,
        }


def check_transition(before: Saga, after: Saga) -> list[str]:
    """The illegal changes between two consecutive stored versions of a saga (empty: consistent)."""
    problems: list[str] = []
    if before.status != after.status and after.status not in _SAGA_MOVES.get(before.status, frozenset()):
        problems.append(f"saga {before.status} -> {after.status}")
    if before.data != after.data:
        problems.append("data changed")
    if [s.name for s in before.steps] != [s.name for s in after.steps]:
        return [*problems, "steps changed"]
    for old, new in zip(before.steps, after.steps, strict=True):
        if old.status != new.status and new.status not in _STEP_MOVES.get(old.status, frozenset()):
            problems.append(f"step {old.name} {old.status} -> {new.status}")
        if old.result is not None and old.result != new.result:
            problems.append(f"step {old.name} result changed")
    return problems
