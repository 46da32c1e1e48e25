"""View-models of a service's inputs and outputs: topics, endpoints, calls and tasks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from atlas_gen.render.names import k8s_name, pascal, service_url_env, snake, upper_snake
from atlas_gen.render.spec_types import Imports, annotation, key_type, seconds
from atlas_gen.render.views_models import MessageView, adapter_name
from atlas_gen.render.views_state import RegistryView

_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")


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


def build_consumes(
    raw: Mapping[str, Any] | None, messages: tuple[MessageView, ...]
) -> tuple[ConsumeView, ...]:
    """The `consumes:` section, sorted by token."""
    by_name = {m.name: m for m in messages}
    views = []
    for token, spec in sorted((raw or {}).items()):
        message = by_name[pascal(str(spec["message"]))]
        classes = {t.value: t.class_name for t in message.types}
        handlers = tuple(
            (str(t), str(ref), classes.get(str(t), message.name))
            for t, ref in (spec.get("handlers") or {}).items()
        )
        retry = spec.get("retry") or {}
        views.append(
            ConsumeView(
                token=str(token),
                message=message.name,
                adapter=message.adapter,
                handlers=handlers,
                dedupe=str(spec["dedupe"]) if spec.get("dedupe") else None,
                attempts=int(retry.get("attempts", 5)),
                initial=seconds(retry.get("initial", "100ms")),
                max_delay=seconds(retry.get("max", "10s")),
                dead_letter=bool(spec.get("dead_letter", True)),
                lock=(str(spec["lock"]["name"]), str(spec["lock"]["key"])) if spec.get("lock") else None,
            )
        )
    return tuple(views)


@dataclass(frozen=True)
class ProduceView:
    """A produced topic."""

    token: str
    message: str
    adapter: str
    key: str | None
    via: str


def build_produces(raw: Mapping[str, Any] | None) -> tuple[ProduceView, ...]:
    """The `produces:` section, sorted by token."""
    return tuple(
        ProduceView(
            str(token),
            pascal(str(spec["message"])),
            adapter_name(pascal(str(spec["message"]))),
            str(spec["key"]) if spec.get("key") else None,
            str(spec.get("via", "direct")),
        )
        for token, spec in sorted((raw or {}).items())
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
    body: str | None
    returns: str | None
    returns_many: bool
    status: int | None
    scopes: tuple[str, ...]
    description: str
    returns_annotation: str | None = None

    @property
    def return_annotation(self) -> str:
        """What the handler returns, for its typed signature (`Any` when the spec says nothing)."""
        return self.returns_annotation or "Any"


def _resource_of(path: str) -> str:
    static = [s for s in path.strip("/").split("/") if s and not s.startswith("{")]
    return static[-1] if static else "resources"


def _param_types(paths: Mapping[str, Any], registries: Mapping[str, RegistryView]) -> dict[str, str]:
    """Path prefix ending in a parameter -> key type of the registry bound on that path."""
    types: dict[str, str] = {}
    for path, methods in paths.items():
        for binding in (methods or {}).values():
            registry = next((binding.get(k) for k in ("get", "remove") if binding.get(k)), None)
            if registry and str(registry) in registries and str(path).endswith("}"):
                types[str(path)] = registries[str(registry)].key_type
    return types


def _params(
    path: str, declared: Mapping[str, Any], prefixes: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    params = []
    for match in _PARAM.finditer(path):
        name = match.group(1)
        prefix = path[: match.end()]
        kind = key_type(str(declared[name])) if name in declared else prefixes.get(prefix, "str")
        params.append((name, kind))
    return tuple(params)


def _function_name(method: str, path: str) -> str:
    parts = [p.strip("{}") for p in path.strip("/").split("/") if p]
    return snake(f"{method}_{'_'.join(parts) or 'root'}")


def _endpoint(path: str, method: str, spec: Mapping[str, Any], ctx: _EndpointContext) -> EndpointView:
    action = next((a for a in ("get", "list", "remove") if spec.get(a)), "handler")
    registry = str(spec[action]) if action != "handler" else None
    returns = str(spec["returns"]) if spec.get("returns") else None
    returns_many = bool(returns and returns.startswith("list["))
    returns_annotation = annotation(returns, ctx.imports, models_module=".models") if returns else None
    filters = tuple(sorted((str(k), str(v)) for k, v in (spec.get("filters") or {}).items()))
    return EndpointView(
        path=path,
        method=method.upper(),
        action=action,
        resource=str(spec.get("resource") or registry or _resource_of(path)),
        registry=registry,
        handler=str(spec["handler"]) if spec.get("handler") else None,
        function=_function_name(method, path),
        params=_params(path, spec.get("params") or {}, ctx.prefixes),
        filters=filters,
        body=pascal(str(spec["body"])) if spec.get("body") else None,
        returns=returns,
        returns_many=returns_many,
        status=int(spec["status"]) if spec.get("status") else None,
        scopes=tuple(str(s) for s in spec.get("scopes") or ()),
        description=str(spec.get("description", "")),
        returns_annotation=returns_annotation,
    )


@dataclass(frozen=True)
class _EndpointContext:
    imports: Imports
    prefixes: Mapping[str, str]


_METHOD_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}


def build_endpoints(
    raw: Mapping[str, Any] | None, registries: tuple[RegistryView, ...], imports: Imports
) -> tuple[EndpointView, ...]:
    """The `endpoints:` section, sorted by path then method."""
    paths = raw or {}
    ctx = _EndpointContext(imports, _param_types(paths, {r.name: r for r in registries}))
    views = []
    for path in sorted(paths):
        methods = paths[path] or {}
        for method in sorted(methods, key=lambda m: (_METHOD_ORDER.get(str(m).lower(), 9), str(m))):
            views.append(_endpoint(str(path), str(method).lower(), methods[method] or {}, ctx))
    return tuple(views)


@dataclass(frozen=True)
class CallView:
    """An outbound REST client of another service."""

    service: str
    attribute: str
    env: str
    k8s_name: str


def build_calls(raw: Any) -> tuple[CallView, ...]:
    """The `calls:` list, sorted by service."""
    names = sorted(str(c) for c in (raw or ()))
    return tuple(CallView(n, snake(n), service_url_env(n), k8s_name(n)) for n in names)


@dataclass(frozen=True)
class TaskView:
    """A periodic task."""

    name: str
    every: float
    handler: str
    leader_only: bool
    description: str


def build_tasks(raw: Mapping[str, Any] | None) -> tuple[TaskView, ...]:
    """The `tasks:` section, sorted by name."""
    return tuple(
        TaskView(
            str(n),
            seconds(s["every"]),
            str(s["handler"]),
            bool(s.get("leader_only", False)),
            str(s.get("description", "")),
        )
        for n, s in sorted((raw or {}).items())
    )


def token_constant(token: str) -> str:
    """The constant holding a topic token, as written (tokens are UPPER_SNAKE already)."""
    return upper_snake(token)
