"""The embedded SQLite default: tenant sessions, outbox and drainer work without PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from atlas_runtime.db import (
    Database,
    DatabaseSettings,
    DrainerOptions,
    KafkaPublisher,
    OutboxDrainer,
    TenantScoped,
    TenantScopeError,
    enqueue,
    migrate,
)

from .conftest import make_tenant
from .kafka_topics import new_topic, read_topic

pytestmark = pytest.mark.kafka


class Base(DeclarativeBase):
    pass


class Pet(TenantScoped, Base):
    __tablename__ = "embedded_pets"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(30))


async def test_sqlite_scopes_tenants_and_drains_the_outbox(tmp_path: Path, kafka_bootstrap: str) -> None:
    """On SQLite tenants see only their rows, text on tenant tables is refused, and the outbox drains."""
    db = await Database.connect("pets", settings=DatabaseSettings(sqlite_path=str(tmp_path / "pets.db")))
    topic = new_topic(kafka_bootstrap)
    a, b = make_tenant(), make_tenant()
    try:
        await migrate(db.engine, Base.metadata)
        for tenant, name in ((a, "rex"), (b, "tom")):
            async with db.tenant_session(tenant) as session:
                session.add(Pet(name=name))
                await enqueue(session, topic, name, f"{name} adopted")
        async with db.tenant_session(a) as session:
            assert (await session.scalars(select(Pet.name))).all() == ["rex"]
            with pytest.raises(TenantScopeError):
                await session.execute(text("SELECT * FROM embedded_pets"))
        drainer = OutboxDrainer(
            db.engine,
            KafkaPublisher(kafka_bootstrap),
            service="pets",
            options=DrainerOptions(poll_interval=0.05),
        )
        task = asyncio.create_task(drainer.run())
        received = await asyncio.to_thread(read_topic, kafka_bootstrap, topic, 2)
        drainer.stop()
        await task
        assert [m.key for m in received] == [b"rex", b"tom"]
        assert await drainer.backlog() == 0
    finally:
        await db.close()
