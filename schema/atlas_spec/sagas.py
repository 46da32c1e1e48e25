"""Sagas under `sagas:`: saga types of an orchestrator, as data.

A saga type has input `data` (a model) and ordered steps. Each step sends a command
(its `action`), waits for the status event that completes it (matched by the
transaction id), and names how to undo it (`compensation`) when a later step fails or
the saga times out. Adding a saga type or a step is a spec edit, not a code change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from ._base import SpecModel
from .durations import Duration
from .names import FieldName, MessageName, MessageType, ModelName, StepName, TopicToken


class CommandSpec(SpecModel):
    """A command the orchestrator sends.

    Attributes:
        topic: the command topic token.
        message: the envelope (declared under this spec's `messages:`).
        type: the message type sent.
        set: message field (envelope or body) -> source: `data.<path>` (the saga's
            data) or `steps.<step>.<field>` (a field of the event that completed an
            earlier step). Body and envelope fields named like a data field are
            filled from it without being listed.
    """

    topic: TopicToken
    message: MessageName
    type: MessageType
    set: dict[FieldName, str] = Field(default_factory=dict)


class CompletionSpec(SpecModel):
    """The status event that completes a step, matched by the transaction id."""

    topic: TopicToken
    message: MessageName
    success: list[MessageType] = Field(min_length=1)
    failure: list[MessageType] = Field(default_factory=list)


def _compensation_kind(value: Any) -> str | None:
    if value == "none":
        return "none"
    if isinstance(value, dict | CommandSpec):
        return "command"
    return None


Compensation = Annotated[
    Annotated[Literal["none"], Tag("none")] | Annotated[CommandSpec, Tag("command")],
    Discriminator(
        _compensation_kind,
        custom_error_type="bad_compensation",
        custom_error_message="a compensation is a command mapping or `none`",
    ),
]


class StepSpec(SpecModel):
    """One step of a saga.

    Attributes:
        name: unique within the saga.
        action: the command that performs the step.
        completion: the event that completes it (required).
        compensation: the command that undoes it, or `none` when nothing needs undoing.
        timeout: how long to wait for the completion before compensating.
    """

    name: StepName
    action: CommandSpec
    completion: CompletionSpec | None = None
    compensation: Compensation | None = None
    timeout: Duration | None = None
    description: str | None = None


class TriggerSpec(SpecModel):
    """A command message that starts a saga; its envelope and body fields fill the data."""

    topic: TopicToken
    message: MessageName
    type: MessageType


class SagaEventsSpec(SpecModel):
    """Where the orchestrator announces that a saga finished."""

    topic: TopicToken
    message: MessageName
    completed: MessageType = "COMPLETED"
    failed: MessageType = "FAILED"


class SagaSpec(SpecModel):
    """A saga type.

    Attributes:
        data: the model of the saga's input (from `POST /api/sagas/<type>` or the trigger).
        steps: run in order; a failure compensates the completed ones in reverse.
        timeout: deadline of the whole saga (compensated when exceeded).
        transaction_field: the envelope field carrying the transaction id in commands
            and events.
        trigger: an optional command message that starts this saga (its fields fill `data`).
        events: an optional topic announcing completion or failure.
    """

    data: ModelName
    steps: list[StepSpec] = Field(min_length=1)
    timeout: Duration = timedelta(minutes=5)
    transaction_field: FieldName = "transaction_id"
    trigger: TriggerSpec | None = None
    events: SagaEventsSpec | None = None
    description: str | None = None
