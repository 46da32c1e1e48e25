"""Rules about the database: pool limits, primary keys, index columns."""

from __future__ import annotations

from collections.abc import Iterator

from atlas_spec import TableSpec

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from ._resolve import did_you_mean, one_of

Loc = tuple[str | int, ...]


def pool_limits_consistent(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """`max_idle` does not exceed `max_open`."""
    for spec_file in ecosystem.files:
        database = spec_file.spec.database
        if database is None:
            continue
        pool = database.pool
        if pool.max_open is not None and pool.max_idle is not None and pool.max_idle > pool.max_open:
            yield spec_file.diagnostic(
                ("database", "pool", "max_idle"),
                "E044",
                f"`max_idle` ({pool.max_idle}) is larger than `max_open` ({pool.max_open})",
                expected=f"at most {pool.max_open}",
            )


def _table_diagnostics(spec_file: SpecFile, name: str, table: TableSpec) -> Iterator[Diagnostic]:
    loc: Loc = ("database", "tables", name)
    if not any(column.primary_key for column in table.columns.values()):
        yield spec_file.diagnostic(
            loc,
            "E043",
            f"table `{name}` has no primary key",
            key=True,
            expected="`primary_key: true` on at least one column",
        )
    if table.tenant_scoped and "tenant_id" in table.columns:
        yield spec_file.diagnostic(
            (*loc, "columns", "tenant_id"),
            "E043",
            f"table `{name}` is tenant-scoped, so `tenant_id` is added for you; remove this column",
            key=True,
        )
    for column_name, column in table.columns.items():
        if any(True for _ in column.type.models()):
            yield spec_file.diagnostic(
                (*loc, "columns", column_name),
                "E043",
                f"column `{column_name}` cannot hold a model (`{column.type}`)",
                expected="a scalar, list or dict type",
            )
    for group in ("indexes", "unique"):
        for position, columns in enumerate(getattr(table, group)):
            for offset, column_name in enumerate(columns):
                if column_name not in table.columns:
                    message = f"table `{name}` has no column `{column_name}`" + did_you_mean(
                        column_name, table.columns
                    )
                    yield spec_file.diagnostic(
                        (*loc, group, position, offset), "E026", message, expected=one_of(table.columns)
                    )


def tables_well_formed(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Tables have a primary key, indexed columns exist, the tenant column is implicit."""
    for spec_file in ecosystem.files:
        database = spec_file.spec.database
        if database is None:
            continue
        for name, table in database.tables.items():
            yield from _table_diagnostics(spec_file, name, table)


RULES = (pool_limits_consistent, tables_well_formed)
