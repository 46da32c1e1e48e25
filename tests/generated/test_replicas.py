"""Two replicas of one generated service on the real Redis: shared state over HTTP, one lock holder."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest

from atlas_runtime.errors import LockTimeout
from atlas_runtime.service import ServiceDescription
from atlas_runtime.service.testing import running, tenant_headers
from atlas_runtime.tenant import Tenant, as_tenant

pytestmark = pytest.mark.redis

SPEC = """
service: fn-replicas
models:
  Guild: {id: uint32, name: str}
  GuildCreate: {name: str}
state:
  guilds: {key: uint32, value: Guild, ids: {start: 1}}
locks:
  guild: {ttl: 5s, wait: 300ms}
endpoints:
  /guilds:
    get: {list: guilds}
    post: {handler: fn_replicas_logic.rest:create, body: GuildCreate, status: 201}
  /guilds/{id}:
    get: {get: guilds}
    delete: {remove: guilds}
"""

HANDLERS = {
    "fn_replicas_logic.rest": """
        async def create(ctx, request):
            guild_id = await ctx.state.guilds.next_id()
            guild = {"id": guild_id, "name": request.body.name}
            await ctx.state.guilds.put(guild_id, guild)
            return guild
    """,
}


@pytest.fixture
def description(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    key_env: dict[str, str],
) -> ServiceDescription:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("AUTH_MODE", "off")
    for name, value in key_env.items():
        monkeypatch.setenv(name, value)
    return build_service(SPEC, HANDLERS)


async def test_replicas_share_state_and_ids(description: ServiceDescription) -> None:
    """What one replica writes the other serves; ids drawn on both never collide; one remove wins."""
    headers = tenant_headers()
    async with running(description) as (_, first), running(description) as (_, second):
        body = {"data": {"type": "guilds", "attributes": {"name": "Knights"}}}
        posts = await asyncio.gather(
            *(client.post("/api/guilds", json=body, headers=headers) for client in (first, second) * 10)
        )
        assert {response.status_code for response in posts} == {201}
        ids = {response.json()["data"]["id"] for response in posts}
        assert len(ids) == 20
        listed = await second.get("/api/guilds", params={"page[size]": "50"}, headers=headers)
        assert {resource["id"] for resource in listed.json()["data"]} == ids
        target = sorted(ids)[0]
        removals = await asyncio.gather(
            first.delete(f"/api/guilds/{target}", headers=headers),
            second.delete(f"/api/guilds/{target}", headers=headers),
        )
        assert sorted(response.status_code for response in removals) == [204, 404]
        assert (await first.get(f"/api/guilds/{target}", headers=headers)).status_code == 404


async def test_a_lock_held_by_one_replica_keeps_the_other_out(description: ServiceDescription) -> None:
    """While replica A holds `guild(7)`, replica B waits its `wait` and times out; then B gets it."""
    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    async with AsyncExitStack() as stack:
        a, _ = await stack.enter_async_context(running(description))
        b, _ = await stack.enter_async_context(running(description))
        with as_tenant(tenant):
            async with a.context().locks.guild(7):
                with pytest.raises(LockTimeout):
                    async with b.context().locks.guild(7):
                        pytest.fail("two replicas held one lock")
                async with b.context().locks.guild(8):  # another key is free
                    pass
            async with b.context().locks.guild(7):
                pass
