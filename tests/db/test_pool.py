"""Pool behaviour against the real PostgreSQL: limits, waits, lifetime and idle culling, connect errors."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from atlas_runtime.db import Database, DatabaseSettings, PoolSpec, connect_engine
from atlas_runtime.errors import BackendUnavailable, ConfigurationError

from .conftest import FAST_CONNECT, make_tenant, settings_for

pytestmark = pytest.mark.postgres


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def open_connections(engine: AsyncEngine, database: str) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"), {"db": database}
        )
    return int(count or 0) - 1  # minus the connection asking


async def connect(settings: DatabaseSettings, pool: PoolSpec) -> Database:
    return await Database.connect("pooltest", settings=settings, pool=pool, policy=FAST_CONNECT)


async def test_sessions_beyond_max_open_wait_then_time_out(db_env: dict[str, str], pg_database: str) -> None:
    """With max_open=2 a third session waits for a free connection and fails after DB_POOL_TIMEOUT."""
    settings = settings_for(db_env, pg_database, pool_timeout="500ms")
    db = await connect(settings, PoolSpec(max_open=2, max_idle=1))
    tenant = make_tenant()
    try:
        async with db.tenant_session(tenant) as first, db.tenant_session(tenant) as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            started = time.monotonic()
            with pytest.raises(exc.TimeoutError):
                async with db.tenant_session(tenant) as third:
                    await third.execute(text("SELECT 1"))
            assert time.monotonic() - started >= 0.5

            async def late_release() -> None:
                await asyncio.sleep(0.1)
                await first.commit()  # returns first's connection to the pool

            async def waiter() -> int:
                async with db.tenant_session(tenant) as third:
                    return int((await third.execute(text("SELECT 7"))).scalar_one())

            assert (await asyncio.gather(late_release(), waiter()))[1] == 7
    finally:
        await db.close()


async def test_overflow_connections_close_down_to_max_idle(db_env: dict[str, str], pg_database: str) -> None:
    """After a burst of max_open connections only max_idle stay open."""
    db = await connect(settings_for(db_env, pg_database), PoolSpec(max_open=4, max_idle=1))
    try:
        conns = [await db.engine.connect() for _ in range(4)]
        for conn in conns:
            await conn.execute(text("SELECT 1"))
        assert db.engine.pool.checkedout() == 4  # type: ignore[attr-defined]
        for conn in conns:
            await conn.close()
        assert await open_connections(db.engine, pg_database) == 0  # the one kept idle is the one asking
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await db.close()


async def test_connections_are_recycled_after_max_lifetime(db_env: dict[str, str], pg_database: str) -> None:
    """A connection older than DB_CONN_MAX_LIFETIME is replaced at checkout; a young one is reused."""
    settings = settings_for(db_env, pg_database, conn_max_lifetime="800ms", conn_max_idle_time="0")
    db = await connect(settings, PoolSpec(max_open=1, max_idle=1))
    try:
        first = await backend_pid(db.engine)
        assert await backend_pid(db.engine) == first
        await asyncio.sleep(1.0)
        assert await backend_pid(db.engine) != first
    finally:
        await db.close()


async def test_connections_idle_too_long_are_culled(db_env: dict[str, str], pg_database: str) -> None:
    """A connection idle longer than DB_CONN_MAX_IDLE_TIME is closed at checkout, even when young."""
    settings = settings_for(db_env, pg_database, conn_max_lifetime="1h", conn_max_idle_time="800ms")
    db = await connect(settings, PoolSpec(max_open=1, max_idle=1))
    try:
        first = await backend_pid(db.engine)
        await asyncio.sleep(0.1)
        assert await backend_pid(db.engine) == first
        await asyncio.sleep(1.0)
        second = await backend_pid(db.engine)
        assert second != first
        async with db.engine.connect() as conn:
            alive = await conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": first}
            )
        assert alive == 0
    finally:
        await db.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_server_raises_backend_unavailable_naming_the_address() -> None:
    """Connecting to a closed port retries, then raises BackendUnavailable naming host:port."""
    port = free_port()
    settings = DatabaseSettings(host="127.0.0.1", port=port, user="atlas", name="x", sslmode="disable")
    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{port}"):
        await connect_engine(settings, service="svc", policy=FAST_CONNECT)


async def test_unknown_database_is_a_configuration_error(db_env: dict[str, str]) -> None:
    """A database name the server does not know raises ConfigurationError naming DB_NAME, without retrying."""
    settings = settings_for(db_env, "atlas_db_does_not_exist")
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="DB_NAME"):
        await connect_engine(settings, service="svc", policy=FAST_CONNECT.with_(initial=5.0, max_delay=5.0))
    assert time.monotonic() - started < 4
