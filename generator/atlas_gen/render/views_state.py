"""View-models of a service's state: registries, indexes, ids, locks and database tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from atlas_gen.render.names import pascal, snake
from atlas_gen.render.spec_types import Imports, field_spec, is_optional, key_type, seconds


@dataclass(frozen=True)
class IndexView:
    """A secondary index of a registry."""

    name: str
    field: str
    unique: bool


@dataclass(frozen=True)
class RegistryView:
    """A Redis-backed registry."""

    name: str
    attribute: str
    kind: str
    scope: str
    key_annotation: str
    key_type: str
    value: str
    ids_start: int | None
    indexes: tuple[IndexView, ...]
    ttl: float | None
    flush: float | None
    description: str


def _index(name: str, raw: Any) -> IndexView:
    spec = raw if isinstance(raw, Mapping) else {"field": str(raw)}
    return IndexView(name, str(spec.get("field", name)), bool(spec.get("unique", False)))


def _ids_start(raw: Any) -> int | None:
    if raw is None or raw is False:
        return None
    if isinstance(raw, Mapping):
        return int(raw.get("start", 1))
    return 1


def build_registries(raw: Mapping[str, Any] | None, imports: Imports) -> tuple[RegistryView, ...]:
    """The `state:` section, sorted by registry name."""
    views = []
    for name, spec in sorted((raw or {}).items()):
        key = str(spec.get("key", "str"))
        value = pascal(str(spec["value"]))
        imports.add(".models", value)
        indexes = tuple(_index(str(n), r) for n, r in sorted((spec.get("indexes") or {}).items()))
        views.append(
            RegistryView(
                name=str(name),
                attribute=snake(str(name)),
                kind=str(spec.get("kind", "registry")),
                scope=str(spec.get("scope", "tenant")),
                key_annotation=key,
                key_type=key_type(key),
                value=value,
                ids_start=_ids_start(spec.get("ids")),
                indexes=indexes,
                ttl=seconds(spec["ttl"]) if spec.get("ttl") is not None else None,
                flush=seconds(spec["flush"]) if spec.get("flush") is not None else None,
                description=str(spec.get("description", "")),
            )
        )
    return tuple(views)


@dataclass(frozen=True)
class LockView:
    """A named distributed lock."""

    name: str
    attribute: str
    ttl: float
    wait: float


def build_locks(raw: Mapping[str, Any] | None) -> tuple[LockView, ...]:
    """The `locks:` section, sorted by name."""
    return tuple(
        LockView(str(n), snake(str(n)), seconds(s.get("ttl", "10s")), seconds(s.get("wait", "5s")))
        for n, s in sorted((raw or {}).items())
    )


_SQL_TYPES = {
    "bool": ("Boolean()", "bool"),
    "int": ("BigInteger()", "int"),
    "int64": ("BigInteger()", "int"),
    "uint16": ("Integer()", "int"),
    "uint32": ("BigInteger()", "int"),
    "uint64": ("Numeric(20, 0)", "int"),
    "float": ("Float()", "float"),
    "str": ("Text()", "str"),
    "uuid": ("Uuid()", "UUID"),
    "datetime": ("DateTime(timezone=True)", "datetime"),
}
_PY_IMPORTS = {"UUID": ("uuid", "UUID"), "datetime": ("datetime", "datetime")}


@dataclass(frozen=True)
class ColumnView:
    """A mapped column: `name: Mapped[type] = mapped_column(...)`."""

    name: str
    code: str


@dataclass(frozen=True)
class TableView:
    """A database table, rendered as a declarative ORM model."""

    name: str
    class_name: str
    columns: tuple[ColumnView, ...]
    indexes: tuple[tuple[str, ...], ...]
    unique: tuple[tuple[str, ...], ...]
    tenant_scoped: bool
    primary_key: tuple[str, ...] = ()

    @property
    def table_args(self) -> list[str]:
        """The `__table_args__` entries: tenant-wide primary key, composite indexes, unique constraints."""
        args = []
        if self.tenant_scoped and self.primary_key:
            # Keys are per tenant, as registry keys are: two tenants may both own id 1.
            args.append(f"PrimaryKeyConstraint({', '.join(map(repr, ('tenant_id', *self.primary_key)))})")
        args += [
            f"Index({'ix_' + self.name + '_' + '_'.join(g)!r}, {', '.join(map(repr, g))})"
            for g in self.indexes
        ]
        tenant = ['"tenant_id"'] if self.tenant_scoped else []
        for group in self.unique:
            columns = ", ".join([*tenant, *map(repr, group)])
            args.append(f"UniqueConstraint({columns}, name={'uq_' + self.name + '_' + '_'.join(group)!r})")
        return args


def _column(name: str, raw: Any, imports: Imports, *, tenant_scoped: bool) -> ColumnView:
    spec = field_spec(raw)
    base = str(spec["type"]).rstrip("?")
    sql_type, py_type = _SQL_TYPES.get(base, ("JSON()", "Any"))
    imports.add("sqlalchemy", sql_type.split("(")[0])
    module, name_ = _PY_IMPORTS.get(py_type, ("typing", "Any") if py_type == "Any" else ("", ""))
    if module:
        imports.add(module, name_)
    nullable = is_optional(str(spec["type"])) or bool(spec.get("nullable", False))
    args = [sql_type]
    if spec.get("primary_key") and not tenant_scoped:
        args.append("primary_key=True")
    args.append(f"nullable={nullable}")
    if spec.get("unique"):
        args.append("unique=True")
    if spec.get("default") is not None:
        args.append(f"default={spec['default']!r}")
    annotation = f"{py_type} | None" if nullable else py_type
    return ColumnView(name, f"{name}: Mapped[{annotation}] = mapped_column({', '.join(args)})")


def build_tables(raw: Mapping[str, Any] | None, imports: Imports) -> tuple[TableView, ...]:
    """The `database.tables:` section, sorted by table name."""
    views = []
    for name, spec in sorted(((raw or {}).get("tables") or {}).items()):
        tenant_scoped = bool(spec.get("tenant_scoped", True))
        raw_columns = spec.get("columns") or {}
        columns = tuple(
            _column(str(c), r, imports, tenant_scoped=tenant_scoped) for c, r in raw_columns.items()
        )
        primary_key = tuple(
            str(c) for c, r in raw_columns.items() if isinstance(r, Mapping) and r.get("primary_key")
        )
        if tenant_scoped and primary_key:
            imports.add("sqlalchemy", "PrimaryKeyConstraint")
        indexes = tuple(tuple(str(c) for c in group) for group in spec.get("indexes") or ())
        unique = tuple(tuple(str(c) for c in group) for group in spec.get("unique") or ())
        if indexes:
            imports.add("sqlalchemy", "Index")
        if unique:
            imports.add("sqlalchemy", "UniqueConstraint")
        views.append(
            TableView(str(name), pascal(str(name)), columns, indexes, unique, tenant_scoped, primary_key)
        )
    return tuple(views)
