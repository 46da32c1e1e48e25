"""The optional PostgreSQL database under `database:`: pool, tables, outbox."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PositiveInt

from ._base import SpecModel
from .durations import Duration
from .names import FieldName, TableName
from .types import TypeExpr


class PoolSpec(SpecModel):
    """Connection pool defaults of this service (the `DB_*` env vars override them)."""

    max_open: PositiveInt | None = None
    max_idle: PositiveInt | None = None
    max_lifetime: Duration | None = None
    max_idle_time: Duration | None = None


class ColumnSpec(SpecModel):
    """One column. Written as just its type (`uint32`) or as a mapping."""

    type: TypeExpr
    primary_key: bool = False
    nullable: bool = False
    unique: bool = False
    default: Any = None
    description: str | None = None


def _column_from_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


Column = Annotated[
    ColumnSpec, BeforeValidator(_column_from_shorthand, json_schema_input_type=str | ColumnSpec)
]


def _column_group(value: Any) -> Any:
    # `indexes: [character_id]` is shorthand for `indexes: [[character_id]]`.
    return [value] if isinstance(value, str) else value


ColumnGroup = Annotated[
    list[FieldName], BeforeValidator(_column_group, json_schema_input_type=str | list[FieldName])
]


class TableSpec(SpecModel):
    """A table. Tenant-scoped tables get the tenant filter and column automatically.

    Attributes:
        columns: column name -> column.
        indexes: each a list of column names (a composite index), or one column name.
        unique: each a list of column names that must be unique together, or one name.
        tenant_scoped: filter every query by the current tenant (default true).
    """

    columns: dict[FieldName, Column] = Field(min_length=1)
    indexes: list[ColumnGroup] = Field(default_factory=list)
    unique: list[ColumnGroup] = Field(default_factory=list)
    tenant_scoped: bool = True
    description: str | None = None


class DatabaseSpec(SpecModel):
    """The service's database (PostgreSQL; SQLite when `DB_HOST` is unset)."""

    pool: PoolSpec = Field(default_factory=PoolSpec)
    tables: dict[TableName, TableSpec] = Field(default_factory=dict)
    outbox: bool = False
