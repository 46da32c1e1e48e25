"""Inbox claims make a database handler's effect exactly-once, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from atlas_runtime.db import Database, DatabaseSettings, TenantScoped, claim, inbox, migrate
from atlas_runtime.tenant import Tenant

from .conftest import FAST_CONNECT, make_tenant

pytestmark = pytest.mark.postgres


class Base(DeclarativeBase):
    pass


class Grant(TenantScoped, Base):
    __tablename__ = "inbox_grants"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    item: Mapped[str] = mapped_column(String(40))


@pytest.fixture(params=["postgres", "sqlite"])
async def db(
    request: pytest.FixtureRequest, pg_settings: DatabaseSettings, tmp_path: Path
) -> AsyncIterator[Database]:
    settings = (
        pg_settings if request.param == "postgres" else DatabaseSettings(sqlite_path=str(tmp_path / "in.db"))
    )
    database = await Database.connect("inboxtest", settings=settings, policy=FAST_CONNECT)
    await migrate(database.engine, Base.metadata)
    yield database
    await database.close()


async def grant_once(db: Database, tenant: Tenant, group: str, message_id: str) -> bool:
    """A handler: grant an item unless this message was processed before."""
    async with db.tenant_session(tenant) as session:
        if not await claim(session, group, message_id):
            return False
        session.add(Grant(item=message_id))
        return True


async def grants(db: Database, tenant: Tenant, message_id: str) -> int:
    async with db.tenant_session(tenant) as session:
        return int(await session.scalar(select(func.count()).where(Grant.item == message_id)) or 0)


async def test_redelivered_message_takes_effect_once(db: Database) -> None:
    """Handling the same message id three times writes the effect once."""
    tenant, message_id = make_tenant(), f"m-{uuid.uuid4()}"
    outcomes = [await grant_once(db, tenant, "grants", message_id) for _ in range(3)]
    assert outcomes == [True, False, False]
    assert await grants(db, tenant, message_id) == 1


async def test_concurrent_deliveries_take_effect_once(db: Database) -> None:
    """Two deliveries of one message handled at once produce one effect."""
    tenant, message_id = make_tenant(), f"m-{uuid.uuid4()}"
    outcomes = await asyncio.gather(*(grant_once(db, tenant, "grants", message_id) for _ in range(2)))
    assert sorted(outcomes) == [False, True]
    assert await grants(db, tenant, message_id) == 1


async def test_failed_handler_leaves_no_claim(db: Database) -> None:
    """A claim rolls back with its failed handler, so the redelivery runs the handler."""
    tenant, message_id = make_tenant(), f"m-{uuid.uuid4()}"
    with pytest.raises(RuntimeError):
        async with db.tenant_session(tenant) as session:
            assert await claim(session, "grants", message_id)
            raise RuntimeError("handler failed")
    assert await grant_once(db, tenant, "grants", message_id)
    assert await grants(db, tenant, message_id) == 1


async def test_groups_claim_independently(db: Database) -> None:
    """The same message id is claimed once per consumer group."""
    tenant, message_id = make_tenant(), f"m-{uuid.uuid4()}"
    assert await grant_once(db, tenant, "group-a", message_id)
    assert await grant_once(db, tenant, "group-b", message_id)
    assert not await grant_once(db, tenant, "group-a", message_id)


async def test_sweep_forgets_old_claims(db: Database) -> None:
    """Sweeping with zero retention deletes claims, after which a message id can be claimed again."""
    tenant, message_id = make_tenant(), f"m-{uuid.uuid4()}"
    assert await grant_once(db, tenant, "sweep", message_id)
    async with db.session_across_tenants() as session:
        assert await inbox.sweep(session, retention=timedelta(0)) >= 1
    assert await grant_once(db, tenant, "sweep", message_id)
