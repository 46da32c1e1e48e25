"""`Database`: one service's engine, its session factory and the tenant-scoped sessions.

db = await Database.connect("parties", pool=PoolSpec(max_open=30, max_idle=10))
async with db.tenant_session() as session:      # ctx.db in a handler
    session.add(Note(message="hi"))             # tenant_id stamped
    await outbox.enqueue(session, "EVENT_TOPIC", key, value)
# committed here (rolled back if the block raised)
await db.close()
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from atlas_runtime.db.engine import connect_engine
from atlas_runtime.db.settings import DatabaseSettings, PoolConfig, PoolSpec, load_settings
from atlas_runtime.db.tenancy import TenantSession, bind_tenant
from atlas_runtime.retry import DB_CONNECT, RetryPolicy
from atlas_runtime.tenant import Tenant, as_tenant, current_tenant


class DatabaseState(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Database:
    """A service's database: engine, pool and tenant-scoped sessions."""

    def __init__(self, engine: AsyncEngine, *, service: str, settings: DatabaseSettings) -> None:
        self.engine = engine
        self.service = service
        self.settings = settings
        self.state = DatabaseState.OPEN
        self._sessions: async_sessionmaker[TenantSession] = async_sessionmaker(
            engine, class_=TenantSession, expire_on_commit=False
        )

    @classmethod
    async def connect(
        cls,
        service: str,
        *,
        settings: DatabaseSettings | None = None,
        pool: PoolSpec | PoolConfig | None = None,
        policy: RetryPolicy = DB_CONNECT,
    ) -> Database:
        """Connect to the configured database, retrying while it is unreachable.

        Args:
            service: the service name (names the embedded SQLite file and the outbox lock).
            settings: the `DB_*` settings; read from the environment when omitted.
            pool: the spec's `database.pool` block (the environment overrides it).
            policy: connect retry policy (default 10 attempts, 500ms -> 30s).

        Raises:
            BackendUnavailable: the server stayed unreachable.
            ConfigurationError: a setting is invalid or the server refused the credentials.
        """
        settings = settings or load_settings()
        engine = await connect_engine(settings, service=service, pool=pool, policy=policy)
        return cls(engine, service=service, settings=settings)

    @property
    def sessions(self) -> async_sessionmaker[TenantSession]:
        """The factory of `TenantSession`s; bind each with `bind_tenant` before use."""
        return self._sessions

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query now (readiness)."""
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def tenant_session(self, tenant: Tenant | None = None) -> AsyncIterator[TenantSession]:
        """A session scoped to `tenant` (default: the current one) inside one transaction.

        The transaction commits when the block ends and rolls back if it raises.

        Raises:
            NoTenantError: no tenant was given and none is in context.
        """
        tenant = tenant or current_tenant()
        with as_tenant(tenant):
            async with self._open() as session:
                bind_tenant(session, tenant)
                yield session

    @asynccontextmanager
    async def session_across_tenants(self) -> AsyncIterator[TenantSession]:
        """A session that sees every tenant's rows: for maintenance, sweeps and recovery only."""
        async with self._open() as session:
            bind_tenant(session, None)
            yield session

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[TenantSession]:
        if self.state is DatabaseState.CLOSED:
            raise RuntimeError(f"the database of {self.service} is closed")
        async with self._sessions() as session, session.begin():
            assert isinstance(session, TenantSession)
            yield session

    async def close(self) -> None:
        """Close every pooled connection; the database cannot be used afterwards."""
        if self.state is DatabaseState.OPEN:
            self.state = DatabaseState.CLOSED
            await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
