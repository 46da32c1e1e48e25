"""Wiring of an orchestrator to the runtime's Kafka consumer (`atlas_runtime.messaging.Consumer`).

`subscribe(consumer, orchestrator)` registers, per topic token, one handler for every
message type that completes a step or triggers a saga. Step completions need no inbox
(`idempotent=False`): the saga's own state detects duplicates, and the inbox would only
add a write. Triggers keep the inbox: a redelivered trigger with no transaction id would
otherwise start a second saga.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from atlas_runtime.saga.orchestrator import SagaOrchestrator


class _Record(Protocol):
    topic: str
    headers: Sequence[tuple[str, bytes]]


class _Context(Protocol):
    record: _Record


class _Consumer(Protocol):
    """The part of `atlas_runtime.messaging.Consumer` used here."""

    def subscribe(
        self,
        token: str,
        envelope: Any,
        handlers: Mapping[str, Callable[[Any, Any], Awaitable[None]]],
        *,
        idempotent: bool = True,
    ) -> None: ...


def subscribe(consumer: _Consumer, orchestrator: SagaOrchestrator) -> list[str]:
    """Subscribe `orchestrator` to its completion and trigger topics; returns the tokens."""
    completions: dict[str, set[str]] = {}
    triggers: dict[str, set[str]] = {}
    for definition in orchestrator.definitions.values():
        for step in definition.steps:
            if step.completion is not None:
                types = step.completion.success | step.completion.failure
                completions.setdefault(step.completion.topic, set()).update(types)
        if definition.trigger is not None:
            triggers.setdefault(definition.trigger.topic, set()).add(definition.trigger.type)

    async def on_event(ctx: _Context, message: Any) -> None:
        await orchestrator.on_event(ctx.record.topic, message, headers=ctx.record.headers)

    async def on_trigger(ctx: _Context, message: Any) -> None:
        await orchestrator.on_trigger(ctx.record.topic, message, headers=ctx.record.headers)

    for token in sorted(completions.keys() | triggers.keys()):
        handlers = {t: on_event for t in completions.get(token, ())}
        handlers.update({t: on_trigger for t in triggers.get(token, ())})
        consumer.subscribe(token, None, handlers, idempotent=token in triggers)
    return sorted(completions.keys() | triggers.keys())
