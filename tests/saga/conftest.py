"""Fixtures of the saga tests: a throwaway PostgreSQL database per test, with the saga schema.

The schema is migrated once per session into a template database; each test's database
is a copy of it (`CREATE DATABASE ... TEMPLATE`), which is much faster than migrating.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from atlas_runtime.db import Database, DatabaseSettings
from atlas_runtime.db.engine import create_engine
from atlas_runtime.saga import create_schema
from atlas_runtime.tenant import Tenant

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)
OTHER_TENANT = Tenant(uuid.UUID("5f1b3a52-51b9-4a5a-9d0e-5d0c3f6c9a11"), "EMS", 95, 1)


def admin(db_env: dict[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=db_env["DB_HOST"],
        port=int(db_env["DB_PORT"]),
        user=db_env["DB_USER"],
        dbname=db_env["DB_NAME"],
        autocommit=True,
    )


def settings_for(db_env: dict[str, str], name: str) -> DatabaseSettings:
    return DatabaseSettings(
        host=db_env["DB_HOST"],
        port=int(db_env["DB_PORT"]),
        user=db_env["DB_USER"],
        password=db_env.get("DB_PASSWORD", ""),
        name=name,
        sslmode="disable",
    )


def open_database(db_env: dict[str, str], name: str) -> Database:
    settings = settings_for(db_env, name)
    return Database(create_engine(settings, service="saga-test"), service="saga-test", settings=settings)


async def _migrate(db_env: dict[str, str], name: str) -> None:
    db = open_database(db_env, name)
    await create_schema(db.engine)
    await db.close()


@pytest.fixture(scope="session")
def saga_template(db_env: dict[str, str]) -> Iterator[str]:
    """A database holding the saga and outbox schema, copied by every test's database."""
    name = f"atlas_saga_tpl_{uuid.uuid4().hex[:12]}"
    with admin(db_env) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    asyncio.run(_migrate(db_env, name))
    yield name
    with admin(db_env) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture
def saga_db_name(db_env: dict[str, str], saga_template: str) -> Iterator[str]:
    """A fresh database `atlas_saga_<random>` with the schema, dropped after the test."""
    name = f"atlas_saga_{uuid.uuid4().hex[:12]}"
    with admin(db_env) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{saga_template}"')  # type: ignore[arg-type]
    yield name
    with admin(db_env) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture
async def saga_db(db_env: dict[str, str], saga_db_name: str) -> AsyncIterator[Database]:
    """A `Database` on the fresh database, with the saga and outbox tables."""
    db = open_database(db_env, saga_db_name)
    yield db
    await db.close()
