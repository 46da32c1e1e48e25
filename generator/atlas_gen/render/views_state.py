"""View-models of a service's state: registries, indexes, ids, locks and database tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from atlas_gen.render.names import pascal, snake
from atlas_gen.render.spec_types import Imports, key_type, seconds
from atlas_spec import ColumnSpec, DatabaseSpec, LockSpec, RegistrySpec, TableSpec


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


def _registry(name: str, spec: RegistrySpec) -> RegistryView:
    return RegistryView(
        name=name,
        attribute=snake(name),
        kind=spec.kind,
        scope=spec.scope,
        key_annotation=str(spec.key),
        key_type=key_type(spec.key),
        value=spec.value,
        ids_start=spec.ids.start if spec.ids is not None else None,
        indexes=tuple(IndexView(n, i.field, i.unique) for n, i in sorted(spec.indexes.items())),
        ttl=seconds(spec.ttl),
        flush=seconds(spec.flush),
        description=spec.description or "",
    )


def build_registries(registries: Mapping[str, RegistrySpec], imports: Imports) -> tuple[RegistryView, ...]:
    """The `state:` section, sorted by registry name."""
    for spec in registries.values():
        imports.add(".models", spec.value)
    return tuple(_registry(name, spec) for name, spec in sorted(registries.items()))


@dataclass(frozen=True)
class LockView:
    """A named distributed lock."""

    name: str
    attribute: str
    ttl: float
    wait: float


def build_locks(locks: Mapping[str, LockSpec]) -> tuple[LockView, ...]:
    """The `locks:` section, sorted by name."""
    return tuple(
        LockView(n, snake(n), s.ttl.total_seconds(), s.wait.total_seconds()) for n, s in sorted(locks.items())
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
_PY_IMPORTS = {"UUID": ("uuid", "UUID"), "datetime": ("datetime", "datetime"), "Any": ("typing", "Any")}


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


def _python_type(py_type: str, imports: Imports, shadowed: frozenset[str]) -> str:
    module = _PY_IMPORTS[py_type][0] if py_type in _PY_IMPORTS else None
    if py_type in shadowed:  # a column named like its type (`str: str`) hides it in the class body
        return imports.qualified(module, py_type)
    if module:
        imports.add(module, py_type)
    return py_type


def _column(
    name: str, spec: ColumnSpec, imports: Imports, *, tenant_scoped: bool, shadowed: frozenset[str]
) -> ColumnView:
    scalar = spec.type.name if spec.type.kind == "scalar" else ""
    sql_type, py_type = _SQL_TYPES.get(scalar, ("JSON()", "Any"))
    imports.add("sqlalchemy", sql_type.split("(")[0])
    py_type = _python_type(py_type, imports, shadowed)
    nullable = spec.type.optional or spec.nullable
    args = [sql_type]
    if spec.primary_key and not tenant_scoped:
        args.append("primary_key=True")
    args.append(f"nullable={nullable}")
    if spec.unique:
        args.append("unique=True")
    if spec.default is not None:
        args.append(f"default={spec.default!r}")
    annotation = f"{py_type} | None" if nullable else py_type
    return ColumnView(name, f"{name}: Mapped[{annotation}] = mapped_column({', '.join(args)})")


def _table(name: str, spec: TableSpec, imports: Imports) -> TableView:
    shadowed = frozenset(spec.columns)
    columns = tuple(
        _column(c, column, imports, tenant_scoped=spec.tenant_scoped, shadowed=shadowed)
        for c, column in spec.columns.items()
    )
    primary_key = tuple(c for c, column in spec.columns.items() if column.primary_key)
    indexes, unique = tuple(map(tuple, spec.indexes)), tuple(map(tuple, spec.unique))
    if spec.tenant_scoped and primary_key:
        imports.add("sqlalchemy", "PrimaryKeyConstraint")
    if indexes:
        imports.add("sqlalchemy", "Index")
    if unique:
        imports.add("sqlalchemy", "UniqueConstraint")
    return TableView(name, pascal(name), columns, indexes, unique, spec.tenant_scoped, primary_key)


def build_tables(database: DatabaseSpec | None, imports: Imports) -> tuple[TableView, ...]:
    """The `database.tables:` section, sorted by table name."""
    tables = database.tables if database is not None else {}
    return tuple(_table(name, spec, imports) for name, spec in sorted(tables.items()))
