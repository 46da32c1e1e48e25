"""The async SQLAlchemy engine: PostgreSQL through psycopg 3, or the embedded SQLite file.

`create_engine` builds the engine and its pool without touching the network;
`connect_engine` also proves the server answers, retrying with the `DB_CONNECT`
policy (10 attempts, 500ms -> 30s, full jitter) and translating the final failure to
`BackendUnavailable` naming host:port.

The pool follows Go's database/sql knobs (see `settings.py`). SQLAlchemy has no idle
timeout, so one is emulated: the check-in time is kept on the connection record and a
connection idle for longer than `max_idle_time` is discarded at its next checkout
(LIFO checkout keeps surplus connections idle so they age out).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from sqlalchemy import URL, event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from atlas_runtime.db.settings import DatabaseSettings, PoolConfig, PoolSpec
from atlas_runtime.errors import BackendUnavailable, ConfigurationError
from atlas_runtime.retry import DB_CONNECT, RetryPolicy, call_with_retry

log = logging.getLogger("atlas_runtime.db")

_CHECKED_IN_AT = "atlas_checked_in_at"
# Failures that retrying cannot fix. libpq reports connect-time errors without a
# SQLSTATE, so the server's message is matched as well.
_PERMANENT = {
    "28P01": "DB_USER/DB_PASSWORD",
    "28000": "DB_USER/DB_PASSWORD",
    "3D000": "DB_NAME",
}
_PERMANENT_MESSAGES = (
    (re.compile(r'database ".*" does not exist'), "DB_NAME"),
    (
        re.compile(r'role ".*" does not exist|password authentication failed|no pg_hba.conf entry'),
        "DB_USER/DB_PASSWORD",
    ),
)


def database_url(settings: DatabaseSettings, *, service: str) -> URL:
    """The SQLAlchemy URL: `postgresql+psycopg://` with escaped parts, or `sqlite+aiosqlite://`."""
    if settings.is_postgres:
        return URL.create(
            "postgresql+psycopg",
            username=settings.user,
            password=settings.password or None,
            host=settings.host,
            port=settings.port,
            database=settings.name,
            query={"sslmode": settings.sslmode},
        )
    path = settings.sqlite_file(service)
    path.parent.mkdir(parents=True, exist_ok=True)
    return URL.create("sqlite+aiosqlite", database=str(path))


def create_engine(
    settings: DatabaseSettings, *, service: str, pool: PoolSpec | PoolConfig | None = None
) -> AsyncEngine:
    """Build the engine and its pool; nothing is connected yet.

    Args:
        settings: the `DB_*` settings.
        service: the service name (names the SQLite file).
        pool: the spec's pool block (environment overrides it), or already resolved settings.

    Raises:
        ConfigurationError: a pool setting is invalid.
    """
    config = pool if isinstance(pool, PoolConfig) else settings.pool(pool)
    url = database_url(settings, service=service)
    connect_args: dict[str, Any] = {"connect_timeout": 10} if settings.is_postgres else {}
    engine = create_async_engine(
        url,
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        pool_recycle=config.max_lifetime if config.max_lifetime > 0 else -1,
        pool_timeout=config.timeout,
        pool_pre_ping=True,
        pool_use_lifo=True,
        connect_args=connect_args,
    )
    if config.max_idle_time > 0:
        _cull_idle_connections(engine, config.max_idle_time)
    if not settings.is_postgres:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        log.warning("DB_HOST is unset: using the embedded SQLite database %s", url.database)
    return engine


async def connect_engine(
    settings: DatabaseSettings,
    *,
    service: str,
    pool: PoolSpec | PoolConfig | None = None,
    policy: RetryPolicy = DB_CONNECT,
) -> AsyncEngine:
    """Build the engine and wait until the database answers `SELECT 1`.

    Raises:
        BackendUnavailable: the server stayed unreachable through every attempt.
        ConfigurationError: the server refused the credentials or the database name.
    """
    engine = create_engine(settings, service=service, pool=pool)
    address = settings.address if settings.is_postgres else str(engine.url.database)
    try:
        await call_with_retry(policy, lambda: _probe(engine), _is_transient, name=f"connect to {address}")
    except (exc.DBAPIError, OSError) as error:
        await engine.dispose()
        raise _connect_error(error, address, postgres=settings.is_postgres) from error
    return engine


def _connect_error(error: Exception, address: str, *, postgres: bool) -> Exception:
    """Translate the last connect failure: bad credentials are configuration, the rest transient."""
    cause = error.orig if isinstance(error, exc.DBAPIError) else error
    if isinstance(error, exc.DBAPIError):
        setting = _permanent_setting(error)
        if setting:
            return ConfigurationError(
                f"database at {address} refused the connection; check {setting}: {cause}"
            )
    return BackendUnavailable("PostgreSQL" if postgres else "SQLite", address, cause)


async def _probe(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError):
        return _permanent_setting(error) is None
    return isinstance(error, OSError)


def _permanent_setting(error: exc.DBAPIError) -> str | None:
    """The setting to fix when `error` cannot go away by retrying, else None."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _PERMANENT:
        return _PERMANENT[sqlstate]
    message = str(error.orig)
    return next((setting for pattern, setting in _PERMANENT_MESSAGES if pattern.search(message)), None)


def _cull_idle_connections(engine: AsyncEngine, max_idle_time: float) -> None:
    """Discard, at checkout, connections that sat idle for longer than `max_idle_time`."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _remember_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _refuse_stale(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        checked_in_at = record.info.pop(_CHECKED_IN_AT, None)
        if checked_in_at is not None and time.monotonic() - checked_in_at > max_idle_time:
            # The pool disposes of this connection and hands out a fresh one (pool/events.py).
            raise exc.DisconnectionError(f"connection idle for more than {max_idle_time:g}s")


def _sqlite_pragmas(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
