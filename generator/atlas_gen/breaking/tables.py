"""Database tables: rows already stored must fit the new columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from atlas_spec import ColumnSpec, ServiceSpec, TableSpec

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from .common import Loc, finding, pairs, type_loc


def _tables(spec: ServiceSpec) -> Mapping[str, TableSpec]:
    return spec.database.tables if spec.database is not None else {}


def tables(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """Existing rows survive the migration: columns keep their types, keys stay, new columns can be filled."""
    for old_file, new_file in pairs(old, new):
        after = _tables(new_file.spec)
        for name, table in _tables(old_file.spec).items():
            loc: Loc = ("database", "tables", name)
            if name not in after:
                yield finding(new_file, loc, "B023", f"table `{name}` is removed; its rows are dropped")
                continue
            yield from _primary_key(new_file, loc, table, after[name])
            yield from _columns(new_file, loc, table, after[name])


def _key_columns(table: TableSpec) -> tuple[str, ...]:
    tenant = ("tenant_id",) if table.tenant_scoped else ()
    return (*tenant, *(name for name, column in table.columns.items() if column.primary_key))


def _primary_key(file: SpecFile, loc: Loc, before: TableSpec, after: TableSpec) -> Iterator[Diagnostic]:
    old_key, new_key = _key_columns(before), _key_columns(after)
    if old_key != new_key:
        message = (
            f"the primary key of `{loc[-1]}` changes from ({', '.join(old_key)}) to ({', '.join(new_key)}); "
            "existing rows may not fit it"
        )
        yield finding(file, loc, "B024", message)


def _nullable(column: ColumnSpec) -> bool:
    return column.nullable or column.type.optional


def _columns(file: SpecFile, loc: Loc, before: TableSpec, after: TableSpec) -> Iterator[Diagnostic]:
    table = loc[-1]
    for name, column in before.columns.items():
        new_column = after.columns.get(name)
        column_loc: Loc = (*loc, "columns", name)
        if new_column is None:
            yield finding(
                file, column_loc, "B022", f"column `{name}` of `{table}` is removed; its data is dropped"
            )
        elif str(column.type.required()) != str(new_column.type.required()):
            message = f"column `{name}` of `{table}` changes type from `{column.type}` to `{new_column.type}`"
            yield finding(file, type_loc(file, column_loc), "B020", message, value=True)
        elif _nullable(column) and not _nullable(new_column):
            message = f"column `{name}` of `{table}` becomes NOT NULL; rows holding NULL fail the migration"
            yield finding(file, column_loc, "B020", message, expected="`nullable: true`")
    yield from _added_columns(file, loc, before, after)


def _added_columns(file: SpecFile, loc: Loc, before: TableSpec, after: TableSpec) -> Iterator[Diagnostic]:
    for name, column in after.columns.items():
        if name not in before.columns and not _nullable(column) and column.default is None:
            message = (
                f"new column `{name}` of `{loc[-1]}` is NOT NULL without a default; existing rows have none"
            )
            yield finding(
                file, (*loc, "columns", name), "B021", message, expected="`nullable: true` or a `default`"
            )
