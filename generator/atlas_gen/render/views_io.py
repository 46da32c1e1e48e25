"""View-models of a service's inputs and outputs: topics, endpoints, calls and tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from atlas_gen.render.names import k8s_name, service_url_env, snake
from atlas_gen.render.spec_types import Imports, annotation, key_type
from atlas_gen.render.views_models import MessageView, adapter_name
from atlas_gen.render.views_state import RegistryView
from atlas_spec import (
    ConsumeSpec,
    GetOperation,
    HandlerOperation,
    ListOperation,
    Operation,
    ProduceSpec,
    RemoveOperation,
    TaskSpec,
    TypeRef,
    path_parameters,
)
from atlas_spec.endpoints import Endpoints


@dataclass(frozen=True)
class ConsumeView:
    """A consumed topic: its token, message and handlers per type."""

    token: str
    message: str
    adapter: str
    handlers: tuple[tuple[str, str, str], ...]  # (type value, handler ref, message class)
    dedupe: str | None
    attempts: int
    initial: float
    max_delay: float
    dead_letter: bool
    lock: tuple[str, str] | None = None  # (lock name, envelope field holding the key)


def _consume(token: str, spec: ConsumeSpec, message: MessageView) -> ConsumeView:
    classes = {t.value: t.class_name for t in message.types}
    return ConsumeView(
        token=token,
        message=message.name,
        adapter=message.adapter,
        handlers=tuple((t, ref, classes.get(t, message.name)) for t, ref in spec.handlers.items()),
        dedupe=spec.dedupe,
        attempts=spec.retry.attempts,
        initial=spec.retry.initial.total_seconds(),
        max_delay=spec.retry.max.total_seconds(),
        dead_letter=spec.dead_letter,
        lock=(spec.lock.name, spec.lock.key) if spec.lock is not None else None,
    )


def build_consumes(
    consumes: Mapping[str, ConsumeSpec], messages: tuple[MessageView, ...]
) -> tuple[ConsumeView, ...]:
    """The `consumes:` section, sorted by token."""
    by_name = {m.name: m for m in messages}
    return tuple(_consume(token, spec, by_name[spec.message]) for token, spec in sorted(consumes.items()))


@dataclass(frozen=True)
class ProduceView:
    """A produced topic."""

    token: str
    message: str
    adapter: str
    key: str | None
    via: str


def build_produces(produces: Mapping[str, ProduceSpec]) -> tuple[ProduceView, ...]:
    """The `produces:` section, sorted by token."""
    return tuple(
        ProduceView(token, spec.message, adapter_name(spec.message), spec.key, spec.via)
        for token, spec in sorted(produces.items())
    )


@dataclass(frozen=True)
class EndpointView:
    """One route: a method on a path, bound to a registry operation or a handler."""

    path: str
    method: str
    action: str  # get | list | remove | handler
    resource: str
    registry: str | None
    handler: str | None
    function: str
    params: tuple[tuple[str, str], ...]  # (name, python type)
    filters: tuple[tuple[str, str], ...]  # (filter name, index name)
    body_type: TypeRef | None
    returns: TypeRef | None
    status: int | None
    scopes: tuple[str, ...]
    description: str

    @property
    def body(self) -> str | None:
        """The annotation of the request body (imports are recorded by each module that names it)."""
        return annotation(self.body_type, Imports()) if self.body_type else None

    @property
    def return_annotation(self) -> str:
        """What calling the handler gives, for its typed signature (`Awaitable[Any]` without `returns`).

        A collection may also come from an async generator: `Awaitable[list[T]] | AsyncIterator[T]`.
        """
        if self.returns is None:
            return "Awaitable[Any]"
        awaited = f"Awaitable[{annotation(self.returns, Imports())}]"
        if self.returns.kind == "list" and not self.returns.optional:
            assert self.returns.item is not None
            return f"{awaited} | AsyncIterator[{annotation(self.returns.item, Imports())}]"
        return awaited


def _resource_of(path: str) -> str:
    static = [s for s in path.strip("/").split("/") if s and not s.startswith("{")]
    return static[-1] if static else "resources"


def _action(operation: Operation) -> tuple[str, str | None]:
    """The kind of an operation (get, list, remove, handler) and the registry it is bound to."""
    if isinstance(operation, GetOperation):
        return "get", operation.get
    if isinstance(operation, ListOperation):
        return "list", operation.list
    if isinstance(operation, RemoveOperation):
        return "remove", operation.remove
    return "handler", None


def _param_types(endpoints: Endpoints, registries: Mapping[str, RegistryView]) -> dict[str, str]:
    """Path ending in a parameter -> key type of the registry a `get` or `remove` binds on it."""
    types: dict[str, str] = {}
    for path, methods in endpoints.items():
        for operation in methods.values():
            action, registry = _action(operation)
            bound = registries.get(registry) if action in ("get", "remove") and registry else None
            if bound is not None and path.endswith("}"):
                types[path] = bound.key_type
    return types


def _params(
    path: str, declared: Mapping[str, TypeRef], prefixes: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    params = []
    for name in path_parameters(path):
        prefix = path[: path.index(f"{{{name}}}") + len(name) + 2]
        kind = key_type(declared[name]) if name in declared else prefixes.get(prefix, "str")
        params.append((name, kind))
    return tuple(params)


def _function_name(method: str, path: str) -> str:
    parts = [p.strip("{}") for p in path.strip("/").split("/") if p]
    return snake(f"{method}_{'_'.join(parts) or 'root'}")


def _endpoint(path: str, method: str, operation: Operation, prefixes: Mapping[str, str]) -> EndpointView:
    action, registry = _action(operation)
    handler = operation if isinstance(operation, HandlerOperation) else None
    filters = tuple(sorted(operation.filters.items())) if isinstance(operation, ListOperation) else ()
    return EndpointView(
        path=path,
        method=method.upper(),
        action=action,
        resource=(handler.resource if handler else None) or registry or _resource_of(path),
        registry=registry,
        handler=handler.handler if handler else None,
        function=_function_name(method, path),
        params=_params(path, operation.params, prefixes),
        filters=filters,
        body_type=handler.body if handler else None,
        returns=handler.returns if handler else None,
        status=handler.status if handler else None,
        scopes=tuple(operation.scopes),
        description=operation.description or "",
    )


_METHOD_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}


def build_endpoints(
    endpoints: Endpoints, registries: tuple[RegistryView, ...], imports: Imports
) -> tuple[EndpointView, ...]:
    """The `endpoints:` section, sorted by path then method; request bodies' imports go to `imports`."""
    prefixes = _param_types(endpoints, {r.name: r for r in registries})
    views = tuple(
        _endpoint(path, method, endpoints[path][method], prefixes)
        for path in sorted(endpoints)
        for method in sorted(endpoints[path], key=_METHOD_ORDER.__getitem__)
    )
    for view in views:
        if view.body_type is not None:
            annotation(view.body_type, imports, models_module=".models")
    return views


@dataclass(frozen=True)
class CallView:
    """An outbound REST client of another service."""

    service: str
    attribute: str
    env: str
    k8s_name: str


def build_calls(calls: Iterable[str]) -> tuple[CallView, ...]:
    """The `calls:` list, sorted by service."""
    return tuple(CallView(n, snake(n), service_url_env(n), k8s_name(n)) for n in sorted(calls))


@dataclass(frozen=True)
class TaskView:
    """A periodic task."""

    name: str
    every: float
    handler: str
    leader_only: bool
    description: str


def build_tasks(tasks: Mapping[str, TaskSpec]) -> tuple[TaskView, ...]:
    """The `tasks:` section, sorted by name."""
    return tuple(
        TaskView(n, t.every.total_seconds(), t.handler, t.leader_only, t.description or "")
        for n, t in sorted(tasks.items())
    )
