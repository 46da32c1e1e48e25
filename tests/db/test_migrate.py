"""Migrations: additive schema sync serialized across replicas, and versioned Alembic upgrades."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from atlas_runtime.db import DatabaseSettings, create_engine
from atlas_runtime.db.migrate import migrate, upgrade

from .conftest import create_database, drop_database, settings_for

pytestmark = pytest.mark.postgres


def service_metadata(*extra: Column[object]) -> MetaData:
    metadata = MetaData()
    Table(
        "characters",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(30), index=True),
        *extra,
    )
    return metadata


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


@pytest.fixture
def fresh_settings(db_env: dict[str, str]) -> object:
    name = create_database(db_env)
    yield settings_for(db_env, name)
    drop_database(db_env, name)


async def test_concurrent_migrations_create_the_schema_once(fresh_settings: DatabaseSettings) -> None:
    """Two replicas migrating one fresh database at once both succeed and only one creates tables."""
    engines = [create_engine(fresh_settings, service="replica") for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(e, service_metadata()) for e in engines))
        assert sorted(len(r) > 0 for r in results) == [False, True]
        created = next(r for r in results if r)
        assert sum(line.startswith("CreateTable") for line in created) == 4
        assert {"characters", "atlas_outbox", "atlas_outbox_dead", "atlas_inbox"} <= await table_names(
            engines[0]
        )
        assert await migrate(engines[0], service_metadata()) == []
    finally:
        for engine in engines:
            await engine.dispose()


async def test_new_columns_are_added_and_drops_are_not_applied(fresh_settings: DatabaseSettings) -> None:
    """A new column in the metadata is added; a column missing from it is kept."""
    engine = create_engine(fresh_settings, service="replica")
    try:
        await migrate(engine, service_metadata(Column("level", Integer)))
        applied = await migrate(engine, service_metadata(Column("job", Integer)))
        assert applied == ["AddColumn characters job"]
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda c: [col["name"] for col in inspect(c).get_columns("characters")]
            )
        assert {"level", "job"} <= set(columns)
    finally:
        await engine.dispose()


async def test_sqlite_concurrent_migrations_succeed(tmp_path: Path) -> None:
    """Concurrent migrations of one SQLite file both succeed and create the schema once."""
    settings = DatabaseSettings(host=None, sqlite_path=str(tmp_path / "svc.db"))
    engines = [create_engine(settings, service="svc") for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(e, service_metadata()) for e in engines))
        assert sorted(len(r) > 0 for r in results) == [False, True]
        assert "characters" in await table_names(engines[1])
    finally:
        for engine in engines:
            await engine.dispose()


async def test_versioned_upgrade_runs_alembic_revisions(
    fresh_settings: DatabaseSettings, tmp_path: Path
) -> None:
    """upgrade() applies an Alembic revision folder once, even when two replicas run it together."""
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(
        "from alembic import context\n"
        "from atlas_runtime.db.migrate import run_env_migrations\n"
        "run_env_migrations(context)\n"
    )
    (tmp_path / "versions" / "0001_guilds.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa
            from alembic import op

            revision = "0001"
            down_revision = None

            def upgrade():
                op.create_table("guilds", sa.Column("id", sa.Integer, primary_key=True))
                op.execute("INSERT INTO guilds (id) VALUES (1)")
            """
        )
    )
    engines = [create_engine(fresh_settings, service="replica") for _ in range(2)]
    try:
        await asyncio.gather(*(upgrade(e, tmp_path) for e in engines))
        async with engines[0].connect() as conn:
            rows = (await conn.execute(text("SELECT count(*) FROM guilds"))).scalar()
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        assert (rows, version) == (1, "0001")
    finally:
        for engine in engines:
            await engine.dispose()
