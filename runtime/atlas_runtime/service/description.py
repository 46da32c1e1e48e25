"""The declarative description of a service, as a generated `service.py` states it.

A generated package builds one `ServiceDescription` from these frozen records and hands
it to `Service`; nothing in here does any work. Handlers are referenced as
`module:function` strings and imported only when the service starts, so a generated
package imports cleanly before its handler modules exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic_settings import BaseSettings

RegistryKind = Literal["registry", "ttl", "coalesced"]
Scope = Literal["tenant", "global"]


@dataclass(frozen=True)
class IndexDecl:
    """A secondary index: `field` of the value (each item for a list field) -> keys."""

    name: str
    field: str
    unique: bool = False


@dataclass(frozen=True)
class RegistryDecl:
    """A Redis-backed registry of `value` records under `key`."""

    name: str
    key: type[Any]
    value: type[BaseModel]
    kind: RegistryKind = "registry"
    scope: Scope = "tenant"
    ids_start: int | None = None
    indexes: tuple[IndexDecl, ...] = ()
    ttl: float | None = None
    flush: float | None = None


@dataclass(frozen=True)
class LockDecl:
    """A distributed lock family; the key is chosen at call time."""

    name: str
    ttl: float
    wait: float


@dataclass(frozen=True)
class RetryDecl:
    """Redelivery policy of a consumed topic."""

    attempts: int = 5
    initial: float = 0.1
    max_delay: float = 10.0


@dataclass(frozen=True)
class ConsumeLockDecl:
    """A lock held around each handler call, keyed by an envelope field."""

    name: str
    key: str


@dataclass(frozen=True)
class ConsumeDecl:
    """A consumed topic: the env var naming it, its envelope and a handler per type."""

    token: str
    message: TypeAdapter[Any]
    handlers: Mapping[str, str]
    dedupe: str | None = None
    retry: RetryDecl = field(default_factory=RetryDecl)
    dead_letter: bool = True
    lock: ConsumeLockDecl | None = None


@dataclass(frozen=True)
class ProduceDecl:
    """A produced topic: the env var naming it, its envelope, the key field and the path."""

    token: str
    message: TypeAdapter[Any]
    key: str | None = None
    via: Literal["direct", "outbox"] = "direct"


EndpointAction = Literal["get", "list", "remove", "handler"]


@dataclass(frozen=True)
class EndpointDecl:
    """A REST route under `/api`: a registry operation or a handler."""

    path: str
    method: str
    action: EndpointAction
    resource: str
    registry: str | None = None
    handler: str | None = None
    params: Mapping[str, type[Any]] = field(default_factory=dict)
    filters: Mapping[str, str] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    status: int | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallDecl:
    """An outbound REST client of another service, its base URL from `env` or BASE_SERVICE_URL."""

    service: str
    env: str


@dataclass(frozen=True)
class TaskDecl:
    """A periodic task run once per tenant that has state in the service."""

    name: str
    every: float
    handler: str
    leader_only: bool = False


@dataclass(frozen=True)
class DatabaseDecl:
    """The service's tables (SQLAlchemy metadata), pool defaults and outbox switch."""

    metadata: Any
    max_open: int = 10
    max_idle: int = 5
    outbox: bool = False
    max_lifetime: float | None = None
    max_idle_time: float | None = None


@dataclass(frozen=True)
class ServiceDescription:
    """Everything a generated service declares.

    `sagas` holds the spec sections the saga runtime reads (service, wire_case, models,
    messages, sagas) when the service orchestrates sagas.
    """

    name: str
    settings: type[BaseSettings]
    registries: tuple[RegistryDecl, ...] = ()
    locks: tuple[LockDecl, ...] = ()
    consumes: tuple[ConsumeDecl, ...] = ()
    produces: tuple[ProduceDecl, ...] = ()
    endpoints: tuple[EndpointDecl, ...] = ()
    calls: tuple[CallDecl, ...] = ()
    tasks: tuple[TaskDecl, ...] = ()
    database: DatabaseDecl | None = None
    description: str = ""
    sagas: Mapping[str, Any] | None = None
