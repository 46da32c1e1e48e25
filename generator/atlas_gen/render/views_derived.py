"""Values derived from a whole service view: import lists, handler aliases, the env var table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from atlas_gen.render.names import pascal
from atlas_gen.render.spec_types import Imports, annotation

if TYPE_CHECKING:
    from atlas_gen.render.views import EnvVarView, ServiceView


def uses_uuid(service: ServiceView) -> bool:
    """True when service.py or protocols.py names `UUID` (a key or path parameter type)."""
    keys = {r.key_type for r in service.registries}
    params = {kind for e in service.endpoints for _, kind in e.params}
    return "UUID" in keys | params


def description_imports(service: ServiceView) -> list[str]:
    """The `atlas_runtime.service.description` names service.py uses."""
    used = {
        "RegistryDecl": bool(service.registries),
        "IndexDecl": any(r.indexes for r in service.registries),
        "LockDecl": bool(service.locks),
        "ConsumeDecl": bool(service.consumes),
        "RetryDecl": bool(service.consumes),
        "ConsumeLockDecl": any(c.lock for c in service.consumes),
        "ProduceDecl": bool(service.produces),
        "EndpointDecl": bool(service.endpoints),
        "CallDecl": bool(service.calls),
        "TaskDecl": bool(service.tasks),
        "DatabaseDecl": service.database is not None,
        "ServiceDescription": True,
    }
    return sorted(name for name, needed in used.items() if needed)


def table_imports(service: ServiceView) -> list[str]:
    """Import lines tables.py needs for column types and table arguments."""
    return service.imports.tables.lines()


def handler_aliases(service: ServiceView) -> list[tuple[str, str, str]]:
    """(alias, Callable signature, docstring) of every handler the spec references, unique by alias."""
    found: dict[str, tuple[str, str, str]] = {}
    for c in service.consumes:
        for type_value, ref, cls in c.handlers:
            alias = f"{cls}Handler"
            doc = f"Signature of a {c.message} {type_value} handler.\n\nBound to `{ref}` on {c.token}.\n"
            found.setdefault(alias, (alias, f"Callable[[Context, {cls}], Awaitable[None]]", doc))
    for e in service.endpoints:
        if e.handler:
            alias = f"{pascal(e.function)}Handler"
            returns = e.return_annotation
            signature = f"Callable[[Context, Request[{e.body or 'None'}]], {returns}]"
            doc = f"Signature of the {e.method} /api{e.path} handler.\n\nBound to `{e.handler}`.\n"
            found[alias] = (alias, signature, doc)
    for t in service.tasks:
        alias = f"{pascal(t.name)}Task"
        found[alias] = (alias, "Callable[[Context], Awaitable[None]]", f"Signature of task `{t.handler}`.")
    return [found[k] for k in sorted(found)]


def protocol_imports(service: ServiceView) -> list[str]:
    """Import lines protocols.py needs for registry values, messages, bodies and results."""
    imports = Imports()
    for r in service.registries:
        imports.add(".models", r.value)
    for c in service.consumes:
        for _, _, cls in c.handlers:
            imports.add(".messages", cls)
    handler_types = [t for e in service.endpoints if e.handler for t in (e.body_type, e.returns) if t]
    for ref in handler_types:
        annotation(ref, imports, models_module=".models")
    return imports.lines()


def all_env_vars(service: ServiceView) -> list[EnvVarView]:
    """Every variable the service reads: the shared ones, the spec's defaults, the service's own."""
    from atlas_gen.render.views import EnvVarView
    from atlas_runtime.service.settings import ServiceSettings

    overrides = {"KAFKA_CONSUMER_GROUP": repr(service.consumer_group)}
    if service.database:
        overrides["DB_MAX_OPEN_CONNS"] = str(service.database.max_open)
        overrides["DB_MAX_IDLE_CONNS"] = str(service.database.max_idle)
    found = {}
    for name, info in ServiceSettings.model_fields.items():
        env = name.upper()
        default = overrides.get(env, "unset" if info.default is None else repr(info.default))
        found[env] = EnvVarView(env, name, "", default, info.description or "")
    for var in service.env_vars:
        found[var.name] = EnvVarView(
            var.name, var.field, var.annotation, "unset" if var.default else None, var.description
        )
    return [found[k] for k in sorted(found)]
