"""Fixtures of the database tests: a throwaway PostgreSQL database per test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from atlas_runtime.db import Database, DatabaseSettings, PoolSpec
from atlas_runtime.retry import RetryPolicy
from atlas_runtime.tenant import Tenant

FAST_CONNECT = RetryPolicy(attempts=2, initial=0.05, max_delay=0.1)


def admin_connect(db_env: dict[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=db_env["DB_HOST"],
        port=int(db_env["DB_PORT"]),
        user=db_env["DB_USER"],
        dbname=db_env["DB_NAME"],
        autocommit=True,
    )


def create_database(db_env: dict[str, str]) -> str:
    name = f"atlas_db_{uuid.uuid4().hex[:12]}"
    with admin_connect(db_env) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(db_env: dict[str, str], name: str) -> None:
    with admin_connect(db_env) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(db_env: dict[str, str], name: str, **pool: object) -> DatabaseSettings:
    return DatabaseSettings(
        host=db_env["DB_HOST"],
        port=int(db_env["DB_PORT"]),
        user=db_env["DB_USER"],
        password=db_env.get("DB_PASSWORD", ""),
        name=name,
        sslmode="disable",
        **pool,  # type: ignore[arg-type]
    )


def child_env(db_env: dict[str, str], name: str) -> dict[str, str]:
    """The environment of a child process whose `DB_*` settings point at database `name`."""
    return {**os.environ, **db_env, "DB_NAME": name, "DB_SSLMODE": "disable"}


@pytest.fixture(scope="module")
def pg_database(db_env: dict[str, str]) -> Iterator[str]:
    """A fresh PostgreSQL database for the module, dropped afterwards."""
    name = create_database(db_env)
    yield name
    drop_database(db_env, name)


@pytest.fixture
def pg_settings(db_env: dict[str, str], pg_database: str) -> DatabaseSettings:
    return settings_for(db_env, pg_database)


@pytest.fixture
async def pg_db(pg_settings: DatabaseSettings) -> AsyncIterator[Database]:
    db = await Database.connect("dbtest", settings=pg_settings, pool=PoolSpec(), policy=FAST_CONNECT)
    yield db
    await db.close()


def make_tenant(region: str = "GMS") -> Tenant:
    return Tenant(uuid.uuid4(), region, 83, 1)
