"""Database access of the runtime: engine and pool, tenant scoping, migrations, outbox, inbox.

Generated services call:

- `Database.connect(service, pool=PoolSpec(...))` at start-up, `db.close()` at shutdown;
- `migrate(db.engine, metadata)` (or `upgrade(db.engine, folder)`) before serving;
- `db.tenant_session()` for each request or message (`ctx.db`);
- `enqueue(session, topic, key, value)` for `emit` with `via: outbox`;
- `claim(session, group, message_id)` to make a DB handler's effect exactly-once;
- `OutboxDrainer(db.engine, KafkaPublisher(servers), service=...).run()` as a task.
"""

from __future__ import annotations

from atlas_runtime.db import inbox, outbox
from atlas_runtime.db.database import Database, DatabaseState
from atlas_runtime.db.drainer import BatchOutcome, DrainerOptions, OutboxDrainer
from atlas_runtime.db.engine import connect_engine, create_engine, database_url
from atlas_runtime.db.inbox import claim
from atlas_runtime.db.locks import advisory_key
from atlas_runtime.db.migrate import migrate, run_env_migrations, upgrade
from atlas_runtime.db.outbox import EVENT_ID_HEADER, NOTIFY_CHANNEL, decode_headers, encode_headers, enqueue
from atlas_runtime.db.publisher import KafkaPublisher, OutgoingMessage, Publisher, PublishError
from atlas_runtime.db.settings import DatabaseSettings, PoolConfig, PoolSpec, load_settings, parse_duration
from atlas_runtime.db.tables import inbox_table, outbox_dead_table, outbox_table, runtime_metadata
from atlas_runtime.db.tenancy import (
    ALL_TENANTS,
    TenantScoped,
    TenantScopeError,
    TenantSession,
    across_tenants,
    bind_tenant,
    is_tenant_table,
    register_tenant_table,
    session_tenant,
)

__all__ = [
    "ALL_TENANTS",
    "EVENT_ID_HEADER",
    "NOTIFY_CHANNEL",
    "BatchOutcome",
    "Database",
    "DatabaseSettings",
    "DatabaseState",
    "DrainerOptions",
    "KafkaPublisher",
    "OutboxDrainer",
    "OutgoingMessage",
    "PoolConfig",
    "PoolSpec",
    "PublishError",
    "Publisher",
    "TenantScopeError",
    "TenantScoped",
    "TenantSession",
    "across_tenants",
    "advisory_key",
    "bind_tenant",
    "claim",
    "connect_engine",
    "create_engine",
    "database_url",
    "decode_headers",
    "encode_headers",
    "enqueue",
    "inbox",
    "inbox_table",
    "is_tenant_table",
    "load_settings",
    "migrate",
    "outbox",
    "outbox_dead_table",
    "outbox_table",
    "parse_duration",
    "register_tenant_table",
    "run_env_migrations",
    "runtime_metadata",
    "session_tenant",
    "upgrade",
]
