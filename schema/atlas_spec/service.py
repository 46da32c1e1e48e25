"""The root of a spec file: one service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PositiveInt

from ._base import SpecModel
from .consumes import ConsumeSpec
from .database import DatabaseSpec
from .endpoints import Endpoints
from .fields import Fields
from .locks import LockSpec
from .messages import MessageSpec
from .names import LockName, MessageName, ModelName, RegistryName, SagaName, ServiceName, TaskName, TopicToken
from .produces import ProduceSpec
from .sagas import SagaSpec
from .state import RegistrySpec
from .tasks import TaskSpec


def _wire_case_alias(value: Any) -> Any:
    # `snake` reads naturally for specs whose names are snake_case: the names as declared.
    return "declared" if value == "snake" else value


class ServiceSpec(SpecModel):
    """A service, as written in one YAML file.

    Attributes:
        service: the name (`[a-z][a-z0-9-]*`); the package is `atlas_<name>` with dashes
            as underscores, the Kubernetes name `atlas-<name>`.
        description: one paragraph about the service.
        replicas: Kubernetes replicas (default 2).
        consumer_group: the Kafka consumer group (default `<service> service`).
        wire_case: `declared` (field names as written; `snake` is accepted as a synonym) or
            `camel` (camelCase on the wire).
        models: named record types.
        state: Redis-backed registries.
        locks: distributed locks.
        messages: Kafka envelopes.
        consumes: topic token -> consumer binding.
        produces: topic token -> producer binding.
        endpoints: REST routes under `/api/`.
        calls: services this one calls over REST.
        database: an optional PostgreSQL database.
        tasks: periodic work.
        sagas: saga types this service orchestrates.
    """

    service: ServiceName
    description: str | None = None
    replicas: PositiveInt = 2
    consumer_group: str | None = Field(default=None, min_length=1)
    wire_case: Annotated[
        Literal["declared", "camel"],
        BeforeValidator(_wire_case_alias, json_schema_input_type=Literal["declared", "snake", "camel"]),
    ] = "declared"
    models: dict[ModelName, Fields] = Field(default_factory=dict)
    state: dict[RegistryName, RegistrySpec] = Field(default_factory=dict)
    locks: dict[LockName, LockSpec] = Field(default_factory=dict)
    messages: dict[MessageName, MessageSpec] = Field(default_factory=dict)
    consumes: dict[TopicToken, ConsumeSpec] = Field(default_factory=dict)
    produces: dict[TopicToken, ProduceSpec] = Field(default_factory=dict)
    endpoints: Endpoints = Field(default_factory=dict)
    calls: list[ServiceName] = Field(default_factory=list)
    database: DatabaseSpec | None = None
    tasks: dict[TaskName, TaskSpec] = Field(default_factory=dict)
    sagas: dict[SagaName, SagaSpec] = Field(default_factory=dict)

    @property
    def package(self) -> str:
        """The Python package of the generated service, e.g. `atlas_parties`."""
        return "atlas_" + self.service.replace("-", "_")

    @property
    def effective_consumer_group(self) -> str:
        """The consumer group: the declared one, else `<service> service`."""
        return self.consumer_group or f"{self.service} service"
