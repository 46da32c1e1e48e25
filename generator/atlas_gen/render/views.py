"""The view-model of one service: everything its templates need, computed from its spec.

`build_service(spec)` takes one validated `ServiceSpec` (types already parsed into
`TypeRef`s, durations into `timedelta`s) and returns a `ServiceView` of ready-made strings
and sorted tuples. Templates only substitute; every ordering decision is made here so
output is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from atlas_gen.render import views_derived as derived
from atlas_gen.render.names import k8s_name, snake
from atlas_gen.render.saga_literal import saga_literal
from atlas_gen.render.spec_types import Imports, seconds
from atlas_gen.render.views_io import (
    CallView,
    ConsumeView,
    EndpointView,
    ProduceView,
    TaskView,
    build_calls,
    build_consumes,
    build_endpoints,
    build_produces,
    build_tasks,
)
from atlas_gen.render.views_models import MessageView, ModelView, build_messages, build_models
from atlas_gen.render.views_state import (
    LockView,
    RegistryView,
    TableView,
    build_locks,
    build_registries,
    build_tables,
)
from atlas_spec import DatabaseSpec, ServiceSpec


@dataclass(frozen=True)
class EnvVarView:
    """An environment variable the service reads."""

    name: str
    field: str
    annotation: str
    default: str | None
    description: str


@dataclass(frozen=True)
class DatabaseView:
    """The `database:` section: pool defaults and whether the outbox is on."""

    max_open: int
    max_idle: int
    outbox: bool
    max_lifetime: float | None = None
    max_idle_time: float | None = None


@dataclass(frozen=True)
class ModuleImports:
    """The imports each rendered module needs beyond its fixed ones."""

    models: Imports = field(default_factory=Imports)
    messages: Imports = field(default_factory=Imports)
    service: Imports = field(default_factory=Imports)
    tables: Imports = field(default_factory=Imports)


@dataclass(frozen=True)
class ServiceView:
    """Everything the templates of one service need."""

    name: str
    package: str
    k8s_name: str
    description: str
    replicas: int
    consumer_group: str
    wire_case: str
    models: tuple[ModelView, ...]
    messages: tuple[MessageView, ...]
    registries: tuple[RegistryView, ...]
    locks: tuple[LockView, ...]
    consumes: tuple[ConsumeView, ...]
    produces: tuple[ProduceView, ...]
    endpoints: tuple[EndpointView, ...]
    calls: tuple[CallView, ...]
    tasks: tuple[TaskView, ...]
    tables: tuple[TableView, ...]
    database: DatabaseView | None
    env_vars: tuple[EnvVarView, ...]
    imports: ModuleImports
    saga_spec: str | None = None
    sagas: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (saga type, step names in order)

    @property
    def wire_base(self) -> str:
        """The runtime base class of every generated model."""
        return "CamelWireModel" if self.wire_case == "camel" else "WireModel"

    @property
    def uses_uuid(self) -> bool:
        """True when a key or path parameter is a UUID."""
        return derived.uses_uuid(self)

    @property
    def description_imports(self) -> list[str]:
        """Names service.py imports from the runtime's description module."""
        return derived.description_imports(self)

    @property
    def table_imports(self) -> list[str]:
        """Names tables.py imports from sqlalchemy."""
        return derived.table_imports(self)

    @property
    def handler_aliases(self) -> list[tuple[str, str, str]]:
        """Typed handler signatures for protocols.py."""
        return derived.handler_aliases(self)

    @property
    def protocol_import_lines(self) -> list[str]:
        """Import lines of protocols.py."""
        return derived.protocol_imports(self)

    @property
    def all_env_vars(self) -> list[EnvVarView]:
        """Every env var the service reads, for the README."""
        return derived.all_env_vars(self)

    @property
    def messages_used(self) -> tuple[str, ...]:
        """Adapter constants service.py imports from messages.py."""
        return tuple(sorted({c.adapter for c in self.consumes} | {p.adapter for p in self.produces}))


def _env_vars(
    consumes: tuple[ConsumeView, ...], produces: tuple[ProduceView, ...], calls: tuple[CallView, ...]
) -> tuple[EnvVarView, ...]:
    """Service-specific variables: one per topic token and one per called service."""
    found: dict[str, EnvVarView] = {}
    for c in consumes:
        found[c.token] = EnvVarView(c.token, snake(c.token), "str", None, f"Topic consumed as {c.message}.")
    for p in produces:
        found.setdefault(p.token, EnvVarView(p.token, snake(p.token), "str", None, f"Topic of {p.message}."))
    for call in calls:
        found[call.env] = EnvVarView(
            call.env,
            snake(call.env),
            "str | None",
            "None",
            f"Base URL of the {call.service} service; BASE_SERVICE_URL when unset.",
        )
    return tuple(found[k] for k in sorted(found))


def _database(database: DatabaseSpec | None) -> DatabaseView | None:
    if database is None:
        return None
    pool = database.pool
    return DatabaseView(
        pool.max_open or 10,
        pool.max_idle if pool.max_idle is not None else 5,
        database.outbox,
        seconds(pool.max_lifetime),
        seconds(pool.max_idle_time),
    )


def build_service(spec: ServiceSpec) -> ServiceView:
    """The view-model of one validated service spec."""
    imports = ModuleImports()
    messages = build_messages(spec.messages, imports.messages)
    registries = build_registries(spec.state, imports.service)
    consumes = build_consumes(spec.consumes, messages)
    produces = build_produces(spec.produces)
    calls = build_calls(spec.calls)
    endpoints = build_endpoints(spec.endpoints, registries, imports.service)
    return ServiceView(
        name=spec.service,
        package=spec.package,
        k8s_name=k8s_name(spec.service),
        description=(spec.description or "").strip(),
        replicas=spec.replicas,
        consumer_group=spec.effective_consumer_group,
        wire_case=spec.wire_case,
        models=build_models(spec.models, imports.models),
        messages=messages,
        registries=registries,
        locks=build_locks(spec.locks),
        consumes=consumes,
        produces=produces,
        endpoints=endpoints,
        calls=calls,
        tasks=build_tasks(spec.tasks),
        tables=build_tables(spec.database, imports.tables),
        database=_database(spec.database),
        env_vars=_env_vars(consumes, produces, calls),
        imports=imports,
        saga_spec=saga_literal(spec),
        sagas=tuple(
            (name, tuple(step.name for step in saga.steps)) for name, saga in sorted(spec.sagas.items())
        ),
    )
