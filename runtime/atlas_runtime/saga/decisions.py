"""The orchestrator's pure core: given a saga, its definition and what happened, the next state.

No I/O here: each function returns a `Decision` (the new state and the messages to
emit with it), and the orchestrator writes both in one transaction. Keeping the rules
pure makes every transition testable and keeps the I/O shell small.

Rules:
- `drive` (Go's `Step`): dispatch the first pending step, wait while one is in flight,
  complete when every step completed, walk back when the saga failed;
- `apply_event`: a completion event for the in-flight step completes or fails it; an
  event for a step already past that point is a duplicate (ignored); one for a step not
  yet dispatched is out of order (ignored); a late success for a step that timed out is
  undone at once (its compensation is sent), a late failure is recorded;
- `time_out`: the in-flight step becomes `timed_out` and the saga walks back;
- walking back sends the compensation of every completed step, last first.
  Compensations are fire-and-forget commands (the spec gives them no completion event):
  they leave through the outbox in the transaction that records them, so each is sent
  exactly once by the orchestrator and delivered at least once; participants
  deduplicate on the `EVENT_ID` header. The saga ends `compensated`, or `failed` when a
  completed step cannot be undone (no compensation declared).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from atlas_runtime.messaging._trace import SAGA_STEP
from atlas_runtime.saga.definition import (
    CommandTemplate,
    SagaDefinition,
    StepDefinition,
    build_command,
    build_terminal,
)
from atlas_runtime.saga.errors import CommandBuildError
from atlas_runtime.saga.model import Failure, Saga, SagaStatus, StepState, StepStatus

STEP_HEADER = SAGA_STEP  # echoed by participants' handlers (atlas_runtime.messaging)
"""Header naming the step a command belongs to; a participant that echoes it gets exact matching."""

SAGA_TIMEOUT = "SAGA_TIMEOUT"
STEP_FAILED = "STEP_FAILED"
UNKNOWN = "UNKNOWN"


class MessageKind(enum.StrEnum):
    ACTION = "action"
    COMPENSATION = "compensation"
    TERMINAL = "terminal"


class Verdict(enum.StrEnum):
    """What an event or a drive did to the saga."""

    ADVANCED = "advanced"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    LATE = "late"
    UNMATCHED = "unmatched"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to emit with the state change: topic token, key, envelope, step and kind."""

    token: str
    key: str
    envelope: dict[str, Any]
    kind: MessageKind
    step: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    saga: Saga
    messages: tuple[Outgoing, ...] = ()
    verdict: Verdict = Verdict.ADVANCED

    @property
    def changed(self) -> bool:
        return self.verdict in (Verdict.ADVANCED, Verdict.LATE)


def new_saga(
    definition: SagaDefinition,
    saga_id: Any,
    *,
    tenant: Any,
    data: dict[str, Any],
    initiated_by: str,
    timeout: timedelta,
    now: datetime,
) -> Saga:
    """A saga of `definition` with every step pending (not stored, nothing dispatched)."""
    return Saga(
        id=saga_id,
        saga_type=definition.name,
        tenant=tenant,
        data=data,
        steps=tuple(StepState(step.name) for step in definition.steps),
        initiated_by=initiated_by,
        timeout_ms=int(timeout.total_seconds() * 1000),
        created_at=now,
        updated_at=now,
    )


def drive(definition: SagaDefinition, saga: Saga, now: datetime) -> Decision:
    """Move `saga` on as far as it can go without waiting for an event."""
    if saga.status.terminal:
        return Decision(saga, verdict=Verdict.UNCHANGED)
    if saga.failure is not None:
        return _walk_back(definition, saga, now)
    messages: list[Outgoing] = []
    for step_def in definition.steps:
        step = saga.step(step_def.name)
        if step.status is StepStatus.COMPLETED:
            continue
        if step.status is StepStatus.DISPATCHED:
            break
        if step.status is not StepStatus.PENDING:
            # Only a failure leaves a step failed or timed out, and that sets `failure`;
            # never re-send a step in any other state.
            failure = Failure(f"step {step.name} is {step.status} in a running saga", UNKNOWN, step.name)
            walked = _walk_back(definition, replace(saga, failure=failure), now)
            return Decision(walked.saga, (*messages, *walked.messages))
        try:
            saga, sent = _dispatch(definition, saga, step_def, now)
        except CommandBuildError as error:
            failed = replace(step, status=StepStatus.FAILED, updated_at=now.isoformat())
            saga = replace(saga.with_step(failed), failure=Failure(str(error), UNKNOWN, step.name))
            walked = _walk_back(definition, saga, now)
            return Decision(walked.saga, (*messages, *walked.messages))
        messages.append(sent)
        if step_def.completion is not None:
            break  # wait for the completion event
    else:
        return _finish(definition, replace(saga, status=SagaStatus.COMPLETED), now, messages)
    changed = bool(messages)
    return Decision(saga, tuple(messages), Verdict.ADVANCED if changed else Verdict.UNCHANGED)


def apply_event(
    definition: SagaDefinition,
    saga: Saga,
    *,
    token: str,
    message_type: str,
    fields: dict[str, Any],
    step_hint: str | None,
    now: datetime,
) -> Decision:
    """Apply a status event (topic token, type, fields) to `saga`."""
    matched = match_step(definition, saga, token=token, message_type=message_type, step_hint=step_hint)
    if matched is None:
        return Decision(saga, verdict=Verdict.UNMATCHED)
    step_def, success = matched
    step = saga.step(step_def.name)
    stamp = now.isoformat()
    if step.status is StepStatus.DISPATCHED:
        if success:
            saga = saga.with_step(replace(step, status=StepStatus.COMPLETED, result=fields, updated_at=stamp))
            return drive(definition, saga, now)
        failed = replace(step, status=StepStatus.FAILED, result=fields, updated_at=stamp)
        code = str(fields.get("error_code") or STEP_FAILED)
        failure = Failure(f"step {step.name} failed: {message_type}", code, step.name)
        return _walk_back(definition, replace(saga.with_step(failed), failure=failure), now)
    if step.status is StepStatus.TIMED_OUT:
        return _late(definition, saga, step_def, step, success=success, fields=fields, now=now)
    if step.status is StepStatus.PENDING:
        return Decision(saga, verdict=Verdict.OUT_OF_ORDER)
    return Decision(saga, verdict=Verdict.DUPLICATE)


def time_out(definition: SagaDefinition, saga: Saga, now: datetime) -> Decision:
    """The saga missed its deadline: the in-flight step times out and the saga walks back."""
    if saga.status.terminal:
        return Decision(saga, verdict=Verdict.UNCHANGED)
    in_flight = next((s for s in saga.steps if s.status is StepStatus.DISPATCHED), None)
    if in_flight is not None:
        saga = saga.with_step(replace(in_flight, status=StepStatus.TIMED_OUT, updated_at=now.isoformat()))
    name = in_flight.name if in_flight else None
    reason = f"step {name} timed out" if name else "saga timed out"
    return _walk_back(
        definition, replace(saga, failure=saga.failure or Failure(reason, SAGA_TIMEOUT, name)), now
    )


def match_step(
    definition: SagaDefinition, saga: Saga, *, token: str, message_type: str, step_hint: str | None
) -> tuple[StepDefinition, bool] | None:
    """The step an event completes, and whether it reports success.

    Several steps may share a completion topic and types; the in-flight one wins, then a
    timed-out one, then the earliest (which the caller sees as a duplicate). A `SAGA_STEP`
    header echoed by the participant (`step_hint`) makes the match exact.
    """
    candidates: list[tuple[StepDefinition, bool]] = []
    for step_def in definition.steps:
        completion = step_def.completion
        if completion is None or completion.topic != token:
            continue
        if step_hint is not None and step_def.name != step_hint:
            continue
        outcome = completion.outcome(message_type)
        if outcome is not None:
            candidates.append((step_def, outcome))
    for wanted in (StepStatus.DISPATCHED, StepStatus.TIMED_OUT):
        for candidate in candidates:
            if saga.step(candidate[0].name).status is wanted:
                return candidate
    return candidates[0] if candidates else None


def _dispatch(
    definition: SagaDefinition, saga: Saga, step_def: StepDefinition, now: datetime
) -> tuple[Saga, Outgoing]:
    envelope = build_command(definition, saga, step_def.action)
    status = StepStatus.DISPATCHED if step_def.completion is not None else StepStatus.COMPLETED
    step = replace(saga.step(step_def.name), status=status, payload=envelope, updated_at=now.isoformat())
    saga = replace(saga.with_step(step), deadline=_deadline(saga, step_def, now))
    return saga, Outgoing(step_def.action.topic, str(saga.id), envelope, MessageKind.ACTION, step_def.name)


def _deadline(saga: Saga, step_def: StepDefinition, now: datetime) -> datetime:
    assert saga.created_at is not None
    deadline = saga.created_at + timedelta(milliseconds=saga.timeout_ms)
    if step_def.timeout is not None:
        deadline = min(deadline, now + step_def.timeout)
    return deadline


def _walk_back(definition: SagaDefinition, saga: Saga, now: datetime) -> Decision:
    saga = replace(saga, status=SagaStatus.COMPENSATING)
    messages: list[Outgoing] = []
    undone = True
    for step_def in reversed(definition.steps):
        step = saga.step(step_def.name)
        if step.status is not StepStatus.COMPLETED:
            continue
        sent = _compensate(definition, saga, step_def)
        if sent is None and not isinstance(step_def.compensation, str):
            undone = False  # nothing declared: this step stays done
            continue
        status = StepStatus.SKIPPED if sent is None else StepStatus.COMPENSATED
        saga = saga.with_step(replace(step, status=status, updated_at=now.isoformat()))
        if sent is not None:
            messages.append(sent)
    final = SagaStatus.COMPENSATED if undone else SagaStatus.FAILED
    return _finish(definition, replace(saga, status=final), now, messages)


def _compensate(definition: SagaDefinition, saga: Saga, step_def: StepDefinition) -> Outgoing | None:
    """The compensation command of a completed step; None for `none` or an undeclared one."""
    command = step_def.compensation
    if not isinstance(command, CommandTemplate):
        return None
    try:
        envelope = build_command(definition, saga, command)
    except CommandBuildError:
        return None
    return Outgoing(command.topic, str(saga.id), envelope, MessageKind.COMPENSATION, step_def.name)


def _late(
    definition: SagaDefinition,
    saga: Saga,
    step_def: StepDefinition,
    step: StepState,
    *,
    success: bool,
    fields: dict[str, Any],
    now: datetime,
) -> Decision:
    """A step that timed out reports after all: undo a late success, record a late failure."""
    stamp = now.isoformat()
    if not success:
        saga = saga.with_step(replace(step, status=StepStatus.FAILED, result=fields, updated_at=stamp))
        return Decision(saga, verdict=Verdict.LATE)
    saga = saga.with_step(replace(step, status=StepStatus.COMPLETED, result=fields, updated_at=stamp))
    sent = _compensate(definition, saga, step_def)
    if sent is None and not isinstance(step_def.compensation, str):
        return Decision(saga, verdict=Verdict.LATE)  # cannot be undone: it stays completed
    status = StepStatus.SKIPPED if sent is None else StepStatus.COMPENSATED
    saga = saga.with_step(replace(saga.step(step.name), status=status, updated_at=stamp))
    return Decision(saga, (sent,) if sent else (), Verdict.LATE)


def _finish(definition: SagaDefinition, saga: Saga, now: datetime, messages: list[Outgoing]) -> Decision:
    """Enter the terminal state: no deadline any more, and the one terminal event."""
    saga = replace(saga, deadline=None)
    terminal = build_terminal(definition, saga)
    if terminal is not None and definition.events is not None:
        messages = [
            *messages,
            Outgoing(definition.events.topic, str(saga.id), terminal, MessageKind.TERMINAL),
        ]
    return Decision(saga, tuple(messages))
