"""Registries under `state:`: Redis-backed key/value stores of the service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PositiveInt

from ._base import SpecModel
from .durations import Duration
from .names import FieldPath, IndexName, ModelName
from .types import TypeExpr

RegistryKind = Literal["registry", "ttl", "coalesced"]


class IdsSpec(SpecModel):
    """Per-tenant auto-increment ids (`next_id()`), starting at `start`."""

    start: PositiveInt = 1


class IndexSpec(SpecModel):
    """A reverse lookup from a field of the value to the keys holding it.

    `field` may be a dotted path into nested models (`owner.id`); a list field indexes
    each of its items. A unique index rejects a second key with the same value.
    """

    field: FieldPath
    unique: bool = False
    description: str | None = None


class ReadCacheSpec(SpecModel):
    """A short process-local read cache in front of Redis (bounded staleness)."""

    ttl: Duration
    max_entries: PositiveInt = 10_000


def _index_shorthand(value: Any) -> Any:
    # `member: members` is shorthand for `member: {field: members}`.
    return {"field": value} if isinstance(value, str) else value


def _ids_shorthand(value: Any) -> Any:
    # `ids: true` asks for ids from the default start; `ids: false` for none.
    if value is True:
        return {}
    return None if value is False else value


Index = Annotated[IndexSpec, BeforeValidator(_index_shorthand, json_schema_input_type=str | IndexSpec)]


class RegistrySpec(SpecModel):
    """One registry.

    Attributes:
        kind: `registry` (plain), `ttl` (entries expire and are claimed once by
            `pop_expired`) or `coalesced` (latest value wins, flushed every `flush`).
        key: the key type (a scalar).
        value: the model stored.
        scope: `tenant` (default) or `global` (shared by every tenant).
        ids: per-tenant auto-increment ids.
        indexes: reverse lookups by a field of the value.
        ttl: lifetime of an entry (kind `ttl` only).
        flush: how often buffered writes are flushed (kind `coalesced` only).
        read_cache: an optional process-local read cache.
    """

    kind: RegistryKind = "registry"
    key: TypeExpr
    value: ModelName
    scope: Literal["tenant", "global"] = "tenant"
    ids: Annotated[
        IdsSpec | None, BeforeValidator(_ids_shorthand, json_schema_input_type=bool | IdsSpec | None)
    ] = None
    indexes: dict[IndexName, Index] = Field(default_factory=dict)
    ttl: Duration | None = None
    flush: Duration | None = None
    read_cache: ReadCacheSpec | None = None
    description: str | None = None
