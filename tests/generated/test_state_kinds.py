"""TTL and coalesced registries of a generated service, driven by a leader-only task on the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from atlas_runtime.service import Service, ServiceDescription
from atlas_runtime.tenant import Tenant, as_tenant

pytestmark = pytest.mark.redis

SPEC = """
service: fn-invites
models:
  Invite: {id: uint32, target_id: uint32}
  Position: {x: int, y: int}
state:
  invites: {kind: ttl, key: uint32, value: Invite, ttl: 200ms}
  positions: {kind: coalesced, key: uint32, value: Position, flush: 50ms}
tasks:
  expire: {every: 100ms, handler: fn_kinds_logic.tasks:expire, leader_only: true}
"""

HANDLERS = {
    "fn_kinds_logic.tasks": """
        EXPIRED = []

        async def expire(ctx):
            for key, invite in await ctx.state.invites.pop_expired():
                EXPIRED.append((ctx.tenant.key, key, invite.target_id))
    """,
}


async def test_expired_entries_are_claimed_once_by_the_leader_task(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    key_env: dict[str, str],
) -> None:
    """Two replicas share Redis; each expired invite is handled exactly once, by the leader."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    description = build_service(SPEC, HANDLERS)
    import fn_kinds_logic.tasks as handlers

    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    async with (
        Service(description, environ=key_env) as first,
        Service(description, environ=key_env) as second,
    ):
        with as_tenant(tenant):
            for n in range(5):
                await first.context().state.invites.put(n, {"id": n, "target_id": 100 + n})
        for _ in range(60):
            if len(handlers.EXPIRED) >= 5:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        assert second.running
    assert sorted(handlers.EXPIRED) == [(tenant.key, n, 100 + n) for n in range(5)]


async def test_coalesced_writes_reach_redis_after_a_flush(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    key_env: dict[str, str],
) -> None:
    """The last of many buffered writes is what another replica reads after the flush interval."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    description = build_service(SPEC, HANDLERS)
    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    async with (
        Service(description, environ=key_env) as writer,
        Service(description, environ=key_env) as reader,
    ):
        with as_tenant(tenant):
            for x in range(50):
                await writer.context().state.positions.put(1, {"x": x, "y": 0})
            await asyncio.sleep(0.3)
            position = await reader.context().state.positions.get(1)
    assert position is not None and position.x == 49
