"""The ecosystem: every loaded spec, plus the graph of topics and calls between them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from atlas_spec import ServiceSpec

from .diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    # Only for annotations: importing the loader here would import this module back.
    from .loader.source_map import Loc, Position, SourceMap

Role = Literal["producer", "consumer"]


@dataclass(frozen=True)
class SpecFile:
    """One spec that passed the schema, with where it came from."""

    path: str
    spec: ServiceSpec
    source: SourceMap = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        """The service name."""
        return self.spec.service

    def position(self, loc: Loc, *, key: bool = False) -> Position:
        """Where the value (or its key) at `loc` is written."""
        return self.source.locate(loc, key=key)

    def diagnostic(
        self,
        loc: Loc,
        code: str,
        message: str,
        *,
        expected: str | None = None,
        severity: Severity = "error",
        key: bool = False,
    ) -> Diagnostic:
        """A diagnostic located at `loc` in this file."""
        position = self.position(loc, key=key)
        return Diagnostic(self.path, position.line, position.column, severity, code, message, expected)


@dataclass(frozen=True)
class TopicUse:
    """One service producing or consuming a topic token.

    Attributes:
        file: the spec that declares it.
        token: the topic token.
        message: the message name (declared in that spec).
        role: `producer` or `consumer`.
        loc: where in the spec (the binding, e.g. `("produces", TOKEN)`).
    """

    file: SpecFile
    token: str
    message: str
    role: Role
    loc: tuple[str | int, ...]

    @property
    def service(self) -> str:
        """The service name."""
        return self.file.name


@dataclass(frozen=True)
class Topic:
    """Who produces and who consumes one topic token."""

    token: str
    producers: tuple[TopicUse, ...] = ()
    consumers: tuple[TopicUse, ...] = ()


@dataclass(frozen=True)
class Ecosystem:
    """All the specs of a folder, loaded together.

    Attributes:
        files: every spec that passed the schema, in path order.
        services: service name -> its spec file (the first one if a name repeats).
        topics: topic token -> producers and consumers (saga commands and events included).
        calls: service name -> the services it calls.
        complete: every file of the folder loaded (no file was rejected).
        rejected: service names of files that were rejected (their `service` key could be
            read), so rules do not call them unknown.
    """

    files: tuple[SpecFile, ...]
    services: Mapping[str, SpecFile]
    topics: Mapping[str, Topic]
    calls: Mapping[str, tuple[str, ...]]
    complete: bool = True
    rejected: frozenset[str] = frozenset()

    def specs(self) -> Iterator[ServiceSpec]:
        """The service specs, in service-name order."""
        for name in sorted(self.services):
            yield self.services[name].spec

    def spec(self, service: str) -> ServiceSpec:
        """The spec of one service; KeyError when there is none."""
        return self.services[service].spec


def build_ecosystem(
    files: list[SpecFile], *, complete: bool = True, rejected: frozenset[str] = frozenset()
) -> Ecosystem:
    """Index loaded spec files into an `Ecosystem` (no validation)."""
    services: dict[str, SpecFile] = {}
    for spec_file in files:
        services.setdefault(spec_file.name, spec_file)
    uses = [use for spec_file in files for use in _topic_uses(spec_file)]
    tokens = sorted({use.token for use in uses})
    topics = {
        token: Topic(
            token,
            tuple(use for use in uses if use.token == token and use.role == "producer"),
            tuple(use for use in uses if use.token == token and use.role == "consumer"),
        )
        for token in tokens
    }
    calls = {name: tuple(spec_file.spec.calls) for name, spec_file in sorted(services.items())}
    return Ecosystem(tuple(files), services, topics, calls, complete, rejected)


def _topic_uses(spec_file: SpecFile) -> Iterator[TopicUse]:
    spec = spec_file.spec
    for token, consume in spec.consumes.items():
        yield TopicUse(spec_file, token, consume.message, "consumer", ("consumes", token))
    for token, produce in spec.produces.items():
        yield TopicUse(spec_file, token, produce.message, "producer", ("produces", token))
    for saga_name, saga in spec.sagas.items():
        base: tuple[str | int, ...] = ("sagas", saga_name)
        if saga.trigger is not None:
            yield TopicUse(
                spec_file, saga.trigger.topic, saga.trigger.message, "consumer", (*base, "trigger")
            )
        if saga.events is not None:
            yield TopicUse(spec_file, saga.events.topic, saga.events.message, "producer", (*base, "events"))
        for index, step in enumerate(saga.steps):
            step_loc = (*base, "steps", index)
            yield TopicUse(
                spec_file, step.action.topic, step.action.message, "producer", (*step_loc, "action")
            )
            if step.completion is not None:
                completion = step.completion
                yield TopicUse(
                    spec_file, completion.topic, completion.message, "consumer", (*step_loc, "completion")
                )
            if step.compensation is not None and step.compensation != "none":
                command = step.compensation
                yield TopicUse(
                    spec_file, command.topic, command.message, "producer", (*step_loc, "compensation")
                )
