"""Automatic tenant scoping of tenant-owned tables.

A model that inherits `TenantScoped` gets a `tenant_id` column (uuid, not null,
indexed). Every statement run through a `TenantSession` is scoped to the session's
tenant (fixed when the session opens) without a hand-written clause:

- ORM SELECT (``session.get``, filtered selects, joins, lazy and eager relationship
  loads), UPDATE and DELETE get ``tenant_id = :tenant`` through `with_loader_criteria`;
- INSERT: a new object's `tenant_id` is stamped at flush; an explicit value naming
  another tenant is refused (`TenantScopeError`), and so is moving a row to another
  tenant or deleting another tenant's row;
- Core and textual statements that touch a tenant table are **refused**: they cannot
  be scoped reliably. Use the ORM entity, or opt out explicitly with `across_tenants`;
- with no tenant, every statement fails closed with `NoTenantError`.

Reading or writing across tenants is an explicit, greppable opt-out: wrap the
statement in `across_tenants(stmt)`, or open `Database.session_across_tenants()` for
maintenance work. `session.connection()` hands out the raw connection, which is not
scoped: treat it like `across_tenants`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, TypeVar

from sqlalchemy import Table, TextClause, Uuid, event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    UOWTransaction,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import Executable
from sqlalchemy.sql.util import find_tables

from atlas_runtime.errors import AtlasError, NoTenantError
from atlas_runtime.tenant import Tenant, current_tenant, current_tenant_or_none

ALL_TENANTS = "all_tenants"
"""Execution option (and session info key) that turns tenant scoping off."""

_SESSION_TENANT = "atlas_tenant"
_COLUMN_MARK = "atlas_tenant_scope"
_tenant_table_names: set[str] = set()

E = TypeVar("E", bound=Executable)


class TenantScopeError(AtlasError, PermissionError):
    """A statement would read or change rows outside the current tenant."""


def _context_tenant_id() -> uuid.UUID:
    return current_tenant().id


class TenantScoped:
    """Mixin for declarative models owned by one tenant.

    Adds `tenant_id` (uuid, not null, indexed), filled from the session's tenant.
    """

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, nullable=False, index=True, default=_context_tenant_id, info={_COLUMN_MARK: True}
    )


def register_tenant_table(table: Table) -> Table:
    """Mark a Core `Table` as tenant-owned, so Core and text statements on it are refused."""
    _tenant_table_names.add(table.name.lower())
    table.info[_COLUMN_MARK] = True
    return table


def is_tenant_table(table: Any) -> bool:
    """Whether `table` holds rows of several tenants (a `TenantScoped` model or a registered Table)."""
    if not isinstance(table, Table):
        return False
    if table.info.get(_COLUMN_MARK):
        return True
    column = table.c.get("tenant_id")
    return column is not None and bool(column.info.get(_COLUMN_MARK))


@event.listens_for(TenantScoped, "after_mapper_constructed", propagate=True)
def _remember_tenant_table(mapper: Mapper[Any], class_: type) -> None:
    table = mapper.local_table
    if isinstance(table, Table):
        _tenant_table_names.add(table.name.lower())


def across_tenants(statement: E) -> E:
    """Opt `statement` out of tenant scoping: it sees and changes every tenant's rows."""
    return statement.execution_options(**{ALL_TENANTS: True})


class TenantSyncSession(Session):
    """The synchronous session behind `TenantSession`; carries the scoping events."""


class TenantSession(AsyncSession):
    """An async session whose every statement is scoped to one tenant (see the module doc)."""

    sync_session_class = TenantSyncSession


def bind_tenant(session: AsyncSession | Session, tenant: Tenant | None) -> None:
    """Fix the tenant of `session`; `None` opts the whole session out of scoping."""
    info = session.info
    if tenant is None:
        info[ALL_TENANTS] = True
        info.pop(_SESSION_TENANT, None)
    else:
        info[_SESSION_TENANT] = tenant
        info.pop(ALL_TENANTS, None)


def session_tenant(session: Session) -> Tenant:
    """The tenant a session is scoped to: the bound one, else the context's.

    Raises:
        NoTenantError: neither is set.
    """
    tenant = session.info.get(_SESSION_TENANT) or current_tenant_or_none()
    if tenant is None:
        raise NoTenantError("a database statement on a tenant-scoped session")
    assert isinstance(tenant, Tenant)
    return tenant


@event.listens_for(TenantSyncSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if state.execution_options.get(ALL_TENANTS) or state.session.info.get(ALL_TENANTS):
        return
    tenant_id = session_tenant(state.session).id
    if not state.is_orm_statement:
        _refuse_unscoped(state.statement)
        return
    if state.is_from_statement:
        # ORM entities loaded from hand-written SQL: the criteria cannot reach inside it.
        _refuse_unscoped(getattr(state.statement, "element", state.statement))
        return
    if state.is_insert or state.is_update:
        _check_written_tenant(state, tenant_id)
    if state.is_update and isinstance(state.parameters, list):
        _scope_bulk_by_primary_key(state, tenant_id)
    state.statement = state.statement.options(
        # tenant_id is read outside the lambda so SQLAlchemy caches it as a bound parameter.
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


@event.listens_for(TenantSyncSession, "before_flush")
def _check_flush(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    if session.info.get(ALL_TENANTS):
        return
    tenant_id = session_tenant(session).id
    for obj in session.new:
        if isinstance(obj, TenantScoped):
            if obj.tenant_id is None:
                obj.tenant_id = tenant_id
            elif _as_uuid(obj.tenant_id) != tenant_id:
                raise _foreign("insert a row of tenant", obj.tenant_id, tenant_id)
    for obj in session.dirty:
        if isinstance(obj, TenantScoped) and inspect(obj).attrs.tenant_id.history.has_changes():
            raise TenantScopeError(
                f"changing tenant_id of {obj!r} is refused; rows never move between tenants"
            )
    for obj in session.deleted:
        if isinstance(obj, TenantScoped) and _as_uuid(obj.tenant_id) != tenant_id:
            raise _foreign("delete a row of tenant", obj.tenant_id, tenant_id)


def _scope_bulk_by_primary_key(state: ORMExecuteState, tenant_id: uuid.UUID) -> None:
    """Bulk UPDATE by primary key ignores loader criteria, so add the WHERE itself."""
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, TenantScoped):
            column = mapper.columns["tenant_id"]
            state.statement = state.statement.where(column == tenant_id)  # type: ignore[attr-defined]
            # "evaluate" cannot synchronize with extra WHERE criteria (bulk_persistence.py).
            state.update_execution_options(synchronize_session=None)


def _refuse_unscoped(statement: Executable) -> None:
    names = _tables_named_in(statement)
    if names:
        raise TenantScopeError(
            f"a Core or text statement on tenant table(s) {', '.join(sorted(names))} cannot be "
            "scoped to the tenant and is refused; use the ORM entity, or across_tenants(statement) "
            "to act on every tenant on purpose"
        )


def _tables_named_in(statement: Executable) -> set[str]:
    if isinstance(statement, TextClause):
        sql = statement.text
        return {name for name in _tenant_table_names if re.search(rf"\b{re.escape(name)}\b", sql, re.I)}
    try:
        tables = find_tables(statement, include_aliases=True, include_joins=True, include_crud=True)  # type: ignore[arg-type]
    except Exception:  # an unknown statement shape is refused rather than let through
        return {"<unknown>"}
    return {table.name for table in tables if is_tenant_table(table)}


def _check_written_tenant(state: ORMExecuteState, tenant_id: uuid.UUID) -> None:
    """Refuse ORM INSERT/UPDATE statements that set `tenant_id` to another tenant."""
    rows: list[Any] = []
    if isinstance(state.parameters, dict):
        rows.append(state.parameters)
    elif isinstance(state.parameters, list):
        rows.extend(state.parameters)
    inline = getattr(state.statement, "_values", None)
    if inline:
        rows.append({getattr(key, "key", key): value for key, value in inline.items()})
    for row in rows:
        value = row.get("tenant_id") if isinstance(row, dict) else None
        if value is None:
            continue
        value = getattr(value, "value", value)  # a BindParameter from .values()
        if _as_uuid(value) != tenant_id:
            raise _foreign("write rows of tenant", value, tenant_id)


def _as_uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _foreign(action: str, other: object, tenant_id: uuid.UUID) -> TenantScopeError:
    return TenantScopeError(
        f"refused to {action} {other} from a session of tenant {tenant_id}; "
        "use across_tenants(...) for deliberate cross-tenant work"
    )
