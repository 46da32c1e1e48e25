"""Rules about sagas: data model, messages and types of every command and event,
completion events on every step, compensations for steps that can be undone.
"""

from __future__ import annotations

from collections.abc import Iterator

from atlas_spec import CommandSpec, SagaSpec, StepSpec

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from ._resolve import did_you_mean, envelope_fields, message_fields, one_of, resolve_field_path

Loc = tuple[str | int, ...]


def _sagas(ecosystem: Ecosystem) -> Iterator[tuple[SpecFile, str, SagaSpec]]:
    for spec_file in ecosystem.files:
        for name, saga in spec_file.spec.sagas.items():
            yield spec_file, name, saga


def _message_and_types(spec_file: SpecFile, message: str, types: list[str], loc: Loc) -> Iterator[Diagnostic]:
    messages = spec_file.spec.messages
    declared = messages.get(message)
    if declared is None:
        text = f"unknown message `{message}`" + did_you_mean(message, messages)
        yield spec_file.diagnostic((*loc, "message"), "E022", text, expected=one_of(messages))
        return
    for message_type in types:
        if message_type not in declared.types:
            text = f"`{message}` has no type `{message_type}`" + did_you_mean(message_type, declared.types)
            yield spec_file.diagnostic(loc, "E027", text, expected=one_of(declared.types))


def _transaction_field(spec_file: SpecFile, saga: SagaSpec, message: str, loc: Loc) -> Iterator[Diagnostic]:
    fields = envelope_fields(spec_file.spec, message)
    if message in spec_file.spec.messages and saga.transaction_field not in fields:
        yield spec_file.diagnostic(
            (*loc, "message"),
            "E026",
            f"`{message}` has no envelope field `{saga.transaction_field}` for the saga's transaction id",
            expected=f"an envelope field `{saga.transaction_field}: uuid`",
        )


def _source_problem(spec_file: SpecFile, saga: SagaSpec, earlier: list[str], source: str) -> str | None:
    head, _, rest = source.partition(".")
    if head == "data" and rest:
        resolved = resolve_field_path(spec_file.spec, saga.data, rest)
        return resolved if isinstance(resolved, str) else None
    if head == "steps" and rest.partition(".")[0] in earlier and rest.partition(".")[2]:
        return None
    return f"`{source}` is neither `data.<field>` nor `steps.<earlier step>.<field>`"


def _command(
    spec_file: SpecFile, saga: SagaSpec, command: CommandSpec, loc: Loc, earlier: list[str]
) -> Iterator[Diagnostic]:
    yield from _message_and_types(spec_file, command.message, [command.type], (*loc, "type"))
    yield from _transaction_field(spec_file, saga, command.message, loc)
    fields = message_fields(spec_file.spec, command.message, command.type)
    for target, source in command.set.items():
        if fields and target not in fields:
            text = f"`{command.message}` `{command.type}` has no field `{target}`" + did_you_mean(
                target, fields
            )
            yield spec_file.diagnostic((*loc, "set", target), "E026", text, key=True, expected=one_of(fields))
        if saga.data in spec_file.spec.models and (
            problem := _source_problem(spec_file, saga, earlier, source)
        ):
            yield spec_file.diagnostic((*loc, "set", target), "E052", problem)


def _step(
    spec_file: SpecFile, saga: SagaSpec, step: StepSpec, loc: Loc, earlier: list[str]
) -> Iterator[Diagnostic]:
    yield from _command(spec_file, saga, step.action, (*loc, "action"), earlier)
    if step.completion is None:
        yield spec_file.diagnostic(
            loc,
            "E051",
            f"step `{step.name}` has no completion event",
            key=True,
            expected="`completion: {topic, message, success: [...]}`",
        )
    else:
        completion = step.completion
        types = [*completion.success, *completion.failure]
        yield from _message_and_types(spec_file, completion.message, types, (*loc, "completion"))
        yield from _transaction_field(spec_file, saga, completion.message, (*loc, "completion"))
    if step.compensation is not None and step.compensation != "none":
        # A compensation runs after its own step completed, so it may use that step's event.
        yield from _command(spec_file, saga, step.compensation, (*loc, "compensation"), [*earlier, step.name])


def steps_well_formed(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Every step's commands and completion event are declared and carry the transaction id."""
    for spec_file, name, saga in _sagas(ecosystem):
        earlier: list[str] = []
        for index, step in enumerate(saga.steps):
            loc: Loc = ("sagas", name, "steps", index)
            if step.name in earlier:
                yield spec_file.diagnostic(
                    (*loc, "name"), "E028", f"saga `{name}` has two steps named `{step.name}`"
                )
            yield from _step(spec_file, saga, step, loc, earlier)
            earlier.append(step.name)


def saga_models_exist(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """`data` is a declared model; the trigger and events name declared messages and types."""
    for spec_file, name, saga in _sagas(ecosystem):
        models = spec_file.spec.models
        loc: Loc = ("sagas", name)
        if saga.data not in models:
            text = f"saga `{name}` has unknown data model `{saga.data}`" + did_you_mean(saga.data, models)
            yield spec_file.diagnostic((*loc, "data"), "E021", text, expected=one_of(models))
        if saga.trigger is not None:
            trigger = saga.trigger
            yield from _message_and_types(
                spec_file, trigger.message, [trigger.type], (*loc, "trigger", "type")
            )
        if saga.events is not None:
            events = saga.events
            types = [events.completed, events.failed]
            yield from _message_and_types(spec_file, events.message, types, (*loc, "events"))


def saga_topics_known(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Topics a saga uses appear elsewhere in the ecosystem (checked when every file loaded)."""
    for spec_file, name, saga in _sagas(ecosystem):
        for index, step in enumerate(saga.steps):
            loc: Loc = ("sagas", name, "steps", index)
            parts = [("action", step.action.topic)]
            if step.completion is not None:
                parts.append(("completion", step.completion.topic))
            for part, token in parts:
                topic = ecosystem.topics.get(token)
                users = {use.loc[:2] for use in (*topic.producers, *topic.consumers)} if topic else set()
                if users <= {("sagas", name)} and ecosystem.complete:
                    # an action goes to a topic some service consumes; a completion comes from a producer
                    role = "consumers" if part == "action" else "producers"
                    candidates = {
                        other.token
                        for other in ecosystem.topics.values()
                        if any(use.loc[:2] != ("sagas", name) for use in getattr(other, role))
                    }
                    yield spec_file.diagnostic(
                        (*loc, part, "topic"),
                        "E050",
                        f"unknown topic `{token}`: no service consumes or produces it"
                        + did_you_mean(token, candidates - {token}),
                    )


def completed_steps_compensable(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Warn when a step that a later failure would leave done has no compensation."""
    for spec_file, name, saga in _sagas(ecosystem):
        for index, step in enumerate(saga.steps[:-1]):
            if step.compensation is None:
                yield spec_file.diagnostic(
                    ("sagas", name, "steps", index),
                    "W103",
                    f"step `{step.name}` of saga `{name}` cannot be undone if a later step fails",
                    severity="warning",
                    key=True,
                    expected="`compensation:` a command, or `compensation: none`",
                )


def sagas_have_a_database(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """An orchestrator stores its sagas and sends their commands through its database."""
    for spec_file in ecosystem.files:
        spec = spec_file.spec
        if spec.sagas and spec.database is None:
            yield spec_file.diagnostic(
                ("sagas",),
                "E041",
                "sagas are stored, and their commands sent, through the service's database",
                key=True,
                expected="a `database:` section (`database: {outbox: true}`)",
            )


RULES = (
    saga_models_exist,
    steps_well_formed,
    saga_topics_known,
    completed_steps_compensable,
    sagas_have_a_database,
)
