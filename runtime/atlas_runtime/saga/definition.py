"""Saga types as data: `SagaDefinition` is built from the spec's `sagas:` entry and its messages.

Nothing here is specific to one saga type: a definition knows, for each step, the
command to send (topic token, envelope, type and the `set:` mapping), the status event
that completes it, and the compensation. `build_command` turns a definition's command
and a saga's state into the wire envelope `{"type", "body", <envelope fields>}`.

Field values come from, in order: the command's `set:` (`data.<path>` or
`steps.<step>.<field>`), the transaction field (the saga id), a data field of the
same name. A declared field with no value and no default is a `CommandBuildError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from atlas_runtime.saga.errors import CommandBuildError
from atlas_runtime.saga.model import Saga
from atlas_spec import CommandSpec, MessageSpec, SagaSpec, ServiceSpec, StepSpec
from atlas_spec.fields import FieldSpec

Fields = Mapping[str, FieldSpec]
_MISSING = object()


def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def from_camel(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True, slots=True)
class CommandTemplate:
    """A command a step sends: where, which envelope and type, and how its fields are filled."""

    topic: str
    message: str
    type: str
    set: Mapping[str, str] = field(default_factory=dict)
    envelope_fields: Fields | None = None
    body_fields: Fields | None = None

    @classmethod
    def from_spec(cls, spec: CommandSpec, messages: Mapping[str, MessageSpec]) -> CommandTemplate:
        declared = messages.get(spec.message)
        return cls(
            topic=spec.topic,
            message=spec.message,
            type=spec.type,
            set=dict(spec.set),
            envelope_fields=dict(declared.fields) if declared else None,
            body_fields=dict(declared.types.get(spec.type, {})) if declared else None,
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """The status event completing a step: its topic token and the types meaning success or failure."""

    topic: str
    message: str
    success: frozenset[str]
    failure: frozenset[str]

    def outcome(self, message_type: str) -> bool | None:
        """True for a success type, False for a failure type, None for a type of no interest."""
        if message_type in self.success:
            return True
        if message_type in self.failure:
            return False
        return None


@dataclass(frozen=True, slots=True)
class StepDefinition:
    """One step: its action, its completion, its compensation (`None`: cannot be undone)."""

    name: str
    action: CommandTemplate
    completion: Completion | None
    compensation: CommandTemplate | Literal["none"] | None
    timeout: timedelta | None = None


@dataclass(frozen=True, slots=True)
class EventsTemplate:
    """Where terminal states are announced, and with which types."""

    topic: str
    message: str
    completed: str
    failed: str
    envelope_fields: Fields | None = None
    types: Mapping[str, Fields] | None = None


@dataclass(frozen=True, slots=True)
class TriggerTemplate:
    topic: str
    message: str
    type: str


@dataclass(frozen=True, slots=True)
class SagaDefinition:
    """A saga type, as the orchestrator runs it.

    Attributes:
        name: the saga type (the key under `sagas:`).
        steps: in order.
        timeout: the saga's own deadline; None means `SAGA_DEFAULT_TIMEOUT`.
        transaction_field: the envelope field carrying the saga id.
        required_data: data fields without a default, checked when a saga starts.
        camel: camelCase names on the wire (`wire_case: camel`).
    """

    name: str
    steps: tuple[StepDefinition, ...]
    timeout: timedelta | None = None
    transaction_field: str = "transaction_id"
    required_data: frozenset[str] = frozenset()
    trigger: TriggerTemplate | None = None
    events: EventsTemplate | None = None
    camel: bool = False

    @classmethod
    def from_spec(
        cls,
        name: str,
        spec: SagaSpec,
        *,
        messages: Mapping[str, MessageSpec],
        models: Mapping[str, Fields] | None = None,
        camel: bool = False,
    ) -> SagaDefinition:
        """Build the definition of saga type `name` from its spec and the service's messages/models."""
        data_fields = (models or {}).get(spec.data, {})
        return cls(
            name=name,
            steps=tuple(_step(step, messages) for step in spec.steps),
            timeout=spec.timeout if "timeout" in spec.model_fields_set else None,
            transaction_field=spec.transaction_field,
            required_data=frozenset(n for n, f in data_fields.items() if not f.has_default),
            trigger=TriggerTemplate(spec.trigger.topic, spec.trigger.message, spec.trigger.type)
            if spec.trigger
            else None,
            events=_events(spec, messages),
            camel=camel,
        )

    def step(self, name: str) -> StepDefinition:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"saga type {self.name} has no step {name!r}")

    def topic_tokens(self) -> set[str]:
        """Every topic token the saga type sends to or listens on."""
        tokens: set[str] = set()
        for step in self.steps:
            tokens.add(step.action.topic)
            if step.completion:
                tokens.add(step.completion.topic)
            if isinstance(step.compensation, CommandTemplate):
                tokens.add(step.compensation.topic)
        if self.events:
            tokens.add(self.events.topic)
        if self.trigger:
            tokens.add(self.trigger.topic)
        return tokens

    def wire(self, name: str) -> str:
        return to_camel(name) if self.camel else name


def definitions_from_service(spec: ServiceSpec) -> dict[str, SagaDefinition]:
    """Every saga type a service spec declares."""
    camel = spec.wire_case == "camel"
    return {
        name: SagaDefinition.from_spec(name, saga, messages=spec.messages, models=spec.models, camel=camel)
        for name, saga in spec.sagas.items()
    }


def _step(step: StepSpec, messages: Mapping[str, MessageSpec]) -> StepDefinition:
    completion = step.completion
    compensation = step.compensation
    return StepDefinition(
        name=step.name,
        action=CommandTemplate.from_spec(step.action, messages),
        completion=Completion(
            completion.topic, completion.message, frozenset(completion.success), frozenset(completion.failure)
        )
        if completion
        else None,
        compensation=CommandTemplate.from_spec(compensation, messages)
        if isinstance(compensation, CommandSpec)
        else compensation,
        timeout=step.timeout,
    )


def _events(spec: SagaSpec, messages: Mapping[str, MessageSpec]) -> EventsTemplate | None:
    if spec.events is None:
        return None
    declared = messages.get(spec.events.message)
    return EventsTemplate(
        topic=spec.events.topic,
        message=spec.events.message,
        completed=spec.events.completed,
        failed=spec.events.failed,
        envelope_fields=dict(declared.fields) if declared else None,
        types={t: dict(f) for t, f in declared.types.items()} if declared else None,
    )


# -- building envelopes ----------------------------------------------------------------


def build_command(definition: SagaDefinition, saga: Saga, command: CommandTemplate) -> dict[str, Any]:
    """The wire envelope of `command` for `saga`.

    Raises:
        CommandBuildError: a declared field without a default has no value.
    """

    def value_of(name: str) -> Any:
        if name in command.set:
            return _resolve(saga, command.set[name])
        if name == definition.transaction_field:
            return str(saga.id)
        return saga.data.get(name, _MISSING)

    envelope = _fill(definition, command.envelope_fields, value_of, command, where="envelope")
    body = _fill(definition, command.body_fields, value_of, command, where="body")
    if command.envelope_fields is None:
        envelope[definition.wire(definition.transaction_field)] = str(saga.id)
        body.update({definition.wire(k): _resolve(saga, v) for k, v in command.set.items()})
    return {"type": command.type, "body": body, **envelope}


def build_terminal(definition: SagaDefinition, saga: Saga) -> dict[str, Any] | None:
    """The envelope announcing `saga`'s terminal state, or None without an `events:` topic."""
    events = definition.events
    if events is None:
        return None
    message_type = events.completed if saga.failure is None else events.failed
    facts: dict[str, Any] = {
        definition.transaction_field: str(saga.id),
        "saga_type": saga.saga_type,
        "status": saga.status.value,
        "results": {step.name: step.result for step in saga.steps if step.result is not None},
    }
    if saga.failure is not None:
        facts.update(
            reason=saga.failure.reason,
            error_code=saga.failure.error_code,
            failed_step=saga.failure.failed_step,
        )

    def value_of(name: str) -> Any:
        return facts[name] if name in facts else saga.data.get(name, _MISSING)

    if events.envelope_fields is None or events.types is None:
        body = {definition.wire(k): v for k, v in facts.items() if k != definition.transaction_field}
        return {
            "type": message_type,
            "body": body,
            definition.wire(definition.transaction_field): str(saga.id),
        }
    envelope = {definition.wire(n): v for n in events.envelope_fields if (v := value_of(n)) is not _MISSING}
    fields = events.types.get(message_type, {})
    body = {definition.wire(n): v for n in fields if (v := value_of(n)) is not _MISSING}
    return {"type": message_type, "body": body, **envelope}


def _fill(
    definition: SagaDefinition,
    fields: Fields | None,
    value_of: Callable[[str], Any],
    command: CommandTemplate,
    *,
    where: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in (fields or {}).items():
        value = value_of(name)
        if value is _MISSING:
            if spec.has_default:
                continue
            raise CommandBuildError(
                f"{where} field {name!r} of {command.message} {command.type} has no value: "
                f"add it to the saga's data or map it under `set:`"
            )
        out[definition.wire(name)] = value
    return out


def _resolve(saga: Saga, source: str) -> Any:
    head, _, path = source.partition(".")
    if head == "data":
        return _walk(saga.data, path, source)
    if head == "steps":
        step_name, _, rest = path.partition(".")
        result = saga.step(step_name).result
        if result is None:
            raise CommandBuildError(f"{source!r}: step {step_name!r} has no result yet")
        return _walk(result, rest, source)
    raise CommandBuildError(f"{source!r} is neither `data.<field>` nor `steps.<step>.<field>`")


def _walk(value: Any, path: str, source: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise CommandBuildError(f"{source!r} has no value in the saga")
        value = value[part]
    return value
