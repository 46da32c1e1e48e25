"""Tenant isolation matrix against the real PostgreSQL: every operation kind stays inside its tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, String, delete, func, insert, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship, selectinload

from atlas_runtime.db import (
    Database,
    DatabaseSettings,
    TenantScoped,
    TenantScopeError,
    TenantSession,
    across_tenants,
)
from atlas_runtime.errors import NoTenantError
from atlas_runtime.tenant import Tenant, as_tenant

from .conftest import FAST_CONNECT, make_tenant

pytestmark = pytest.mark.postgres


class Base(DeclarativeBase):
    pass


class Owner(TenantScoped, Base):
    __tablename__ = "owners"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(50))
    notes: Mapped[list[Note]] = relationship(back_populates="owner", order_by="Note.body")


class Note(TenantScoped, Base):
    __tablename__ = "notes"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("owners.id"))
    body: Mapped[str] = mapped_column(String(50))
    owner: Mapped[Owner] = relationship(back_populates="notes")


class World:
    """Two tenants with identically shaped data, plus a note of B attached to A's owner."""

    def __init__(self, a: Tenant, b: Tenant, owners: dict[str, uuid.UUID], notes: dict[str, uuid.UUID]):
        self.a, self.b, self.owners, self.notes = a, b, owners, notes


@pytest.fixture(params=["postgres", "sqlite"])
async def db(
    request: pytest.FixtureRequest, pg_settings: DatabaseSettings, tmp_path: Path
) -> AsyncIterator[Database]:
    """The same matrix runs on PostgreSQL and on the embedded SQLite default."""
    settings = (
        pg_settings if request.param == "postgres" else DatabaseSettings(sqlite_path=str(tmp_path / "t.db"))
    )
    database = await Database.connect("tenancytest", settings=settings, policy=FAST_CONNECT)
    yield database
    await database.close()


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    a, b = make_tenant(), make_tenant()
    owners: dict[str, uuid.UUID] = {}
    notes: dict[str, uuid.UUID] = {}
    for label, tenant in (("a", a), ("b", b)):
        async with db.tenant_session(tenant) as session:
            owner = Owner(name="same")
            session.add(owner)
            session.add_all([Note(owner=owner, body="shared"), Note(owner=owner, body=f"only-{label}")])
            await session.flush()
            owners[label] = owner.id
    async with db.session_across_tenants() as session:
        stray = Note(tenant_id=b.id, owner_id=owners["a"], body="b-on-a")
        session.add(stray)
        await session.flush()
        notes["stray"] = stray.id
    yield World(a, b, owners, notes)


async def count_bodies(db: Database, tenant: Tenant) -> list[str]:
    async with db.tenant_session(tenant) as session:
        return sorted((await session.scalars(select(Note.body))).all())


async def test_get_by_primary_key_sees_only_own_rows(db: Database, world: World) -> None:
    """session.get returns the tenant's row and None for another tenant's primary key."""
    async with db.tenant_session(world.a) as session:
        assert (await session.get(Owner, world.owners["a"])) is not None
        assert await session.get(Owner, world.owners["b"]) is None


async def test_filtered_select_sees_only_own_rows(db: Database, world: World) -> None:
    """A filtered SELECT returns only the current tenant's matching rows."""
    async with db.tenant_session(world.a) as session:
        rows = (await session.scalars(select(Note).where(Note.body == "shared"))).all()
        total = await session.scalar(select(func.count()).select_from(Note))
    assert [row.tenant_id for row in rows] == [world.a.id]
    assert total == 2


async def test_relationship_loads_see_only_own_rows(db: Database, world: World) -> None:
    """Lazy, selectin and joined relationship loads leave out another tenant's children."""
    async with db.tenant_session(world.a) as session:
        owner = await session.get(Owner, world.owners["a"])
        assert owner is not None
        lazy = await session.run_sync(lambda _: [n.body for n in owner.notes])
    async with db.tenant_session(world.a) as session:
        eager = (await session.scalars(select(Owner).options(selectinload(Owner.notes)))).one()
        selectin = [n.body for n in eager.notes]
    async with db.tenant_session(world.a) as session:
        joined = (await session.scalars(select(Owner).options(joinedload(Owner.notes)))).unique().one()
        joined_bodies = [n.body for n in joined.notes]
    assert lazy == selectin == joined_bodies == ["only-a", "shared"]


async def test_join_sees_only_own_rows(db: Database, world: World) -> None:
    """A SELECT joining two tenant tables filters both sides."""
    async with db.tenant_session(world.a) as session:
        rows = (await session.execute(select(Owner.name, Note.body).join(Owner.notes))).all()
    assert sorted(body for _, body in rows) == ["only-a", "shared"]


async def test_orm_update_changes_only_own_rows(db: Database, world: World) -> None:
    """An ORM UPDATE without a tenant clause changes only the current tenant's rows."""
    async with db.tenant_session(world.a) as session:
        result = await session.execute(update(Note).values(body="edited"))
    assert result.rowcount == 2  # type: ignore[attr-defined]
    assert await count_bodies(db, world.b) == ["b-on-a", "only-b", "shared"]


async def test_orm_delete_removes_only_own_rows(db: Database, world: World) -> None:
    """An ORM DELETE without a tenant clause removes only the current tenant's rows."""
    async with db.tenant_session(world.a) as session:
        await session.execute(delete(Note))
    assert await count_bodies(db, world.a) == []
    assert await count_bodies(db, world.b) == ["b-on-a", "only-b", "shared"]


async def test_bulk_update_by_primary_key_cannot_reach_other_tenant(db: Database, world: World) -> None:
    """A bulk UPDATE by primary key changes the tenant's own row and leaves another tenant's untouched."""
    async with db.tenant_session(world.a) as session:
        own = await session.scalar(select(Note.id).where(Note.body == "only-a"))
        await session.execute(
            update(Note), [{"id": own, "body": "edited"}, {"id": world.notes["stray"], "body": "hijacked"}]
        )
    assert await count_bodies(db, world.a) == ["edited", "shared"]
    assert await count_bodies(db, world.b) == ["b-on-a", "only-b", "shared"]


async def test_session_delete_of_loaded_object_stays_in_tenant(db: Database, world: World) -> None:
    """Deleting and editing objects through the unit of work touches only the tenant's rows."""
    async with db.tenant_session(world.a) as session:
        for note in (await session.scalars(select(Note))).all():
            if note.body == "shared":
                await session.delete(note)
            else:
                note.body = "renamed"
    assert await count_bodies(db, world.a) == ["renamed"]
    assert await count_bodies(db, world.b) == ["b-on-a", "only-b", "shared"]


async def test_insert_stamps_the_current_tenant(db: Database, world: World) -> None:
    """A new object gets the session's tenant id without naming it."""
    async with db.tenant_session(world.a) as session:
        note = Note(owner_id=world.owners["a"], body="fresh")
        session.add(note)
        await session.flush()
        assert note.tenant_id == world.a.id
    assert "fresh" not in await count_bodies(db, world.b)


async def test_insert_naming_another_tenant_is_refused(db: Database, world: World) -> None:
    """Flushing or bulk-inserting a row of another tenant raises TenantScopeError."""
    with pytest.raises(TenantScopeError):
        async with db.tenant_session(world.a) as session:
            session.add(Note(tenant_id=world.b.id, owner_id=world.owners["b"], body="planted"))
    with pytest.raises(TenantScopeError):
        async with db.tenant_session(world.a) as session:
            await session.execute(
                insert(Note), [{"tenant_id": world.b.id, "owner_id": world.owners["b"], "body": "planted"}]
            )
    with pytest.raises(TenantScopeError):
        async with db.tenant_session(world.a) as session:
            await session.execute(update(Note).values(tenant_id=world.b.id))
    assert "planted" not in await count_bodies(db, world.b)


async def test_moving_a_row_to_another_tenant_is_refused(db: Database, world: World) -> None:
    """Changing tenant_id of a loaded object raises TenantScopeError at flush."""
    with pytest.raises(TenantScopeError):
        async with db.tenant_session(world.a) as session:
            owner = await session.get(Owner, world.owners["a"])
            assert owner is not None
            owner.tenant_id = world.b.id


async def test_no_tenant_fails_closed(db: Database, world: World) -> None:
    """Opening a tenant session or querying a tenant session without a tenant raises NoTenantError."""
    with pytest.raises(NoTenantError):
        async with db.tenant_session():
            pass
    async with TenantSession(db.engine) as session:
        with pytest.raises(NoTenantError):
            await session.execute(select(Note))
        with pytest.raises(NoTenantError):
            await session.execute(text("SELECT 1"))


async def test_text_and_core_on_tenant_tables_are_refused(db: Database, world: World) -> None:
    """text() and Core statements naming a tenant table raise; unrelated text runs."""
    async with db.tenant_session(world.a) as session:
        with pytest.raises(TenantScopeError, match="notes"):
            await session.execute(text("SELECT count(*) FROM notes"))
        with pytest.raises(TenantScopeError, match="owners"):
            await session.execute(select(Owner.__table__))
        with pytest.raises(TenantScopeError, match="notes"):
            await session.execute(Note.__table__.delete())
        with pytest.raises(TenantScopeError, match="notes"):
            await session.execute(select(Note).from_statement(text("SELECT * FROM notes")))
        assert (await session.execute(text("SELECT 41 + 1"))).scalar() == 42


async def test_across_tenants_opt_out_sees_every_tenant(db: Database, world: World) -> None:
    """across_tenants() and session_across_tenants() read every tenant's rows."""
    async with db.tenant_session(world.a) as session:
        orm_total = await session.scalar(across_tenants(select(func.count()).select_from(Note)))
        text_total = (await session.execute(across_tenants(text("SELECT count(*) FROM notes")))).scalar()
    async with db.session_across_tenants() as session:
        owners = (await session.scalars(select(Owner))).all()
    assert orm_total == text_total == 5
    assert {o.tenant_id for o in owners} == {world.a.id, world.b.id}


async def test_context_tenant_is_used_when_none_is_given(db: Database, world: World) -> None:
    """tenant_session() without an argument scopes to the tenant in context."""
    with as_tenant(world.b):
        async with db.tenant_session() as session:
            bodies = sorted((await session.scalars(select(Note.body))).all())
    assert bodies == ["b-on-a", "only-b", "shared"]


async def test_bulk_delete_by_id_list_cannot_reach_other_tenant(db: Database, world: World) -> None:
    """A multi-row DELETE naming another tenant's primary keys leaves those rows in place."""
    async with db.tenant_session(world.a) as session:
        all_ids = (await session.scalars(across_tenants(select(Note.id)))).all()
        await session.execute(delete(Note).where(Note.id.in_(all_ids)))
    assert "b-on-a" in await count_bodies(db, world.b)


async def test_across_tenants_update_changes_every_tenant(db: Database, world: World) -> None:
    """An ORM UPDATE wrapped in across_tenants() changes the rows of every tenant."""
    async with db.tenant_session(world.a) as session:
        await session.execute(
            across_tenants(update(Note).where(Note.body == "shared").values(body="everyone"))
        )
    assert "everyone" in await count_bodies(db, world.a)
    assert "everyone" in await count_bodies(db, world.b)


async def test_closed_database_refuses_sessions(db: Database) -> None:
    """Opening a session on a closed Database raises RuntimeError naming the service."""
    await db.close()
    with pytest.raises(RuntimeError, match="tenancytest"):
        async with db.tenant_session(make_tenant()):
            pass
