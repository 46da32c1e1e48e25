"""Fixtures of the state tests: a store per test on each backend, and the test models."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from atlas_runtime.state import MemoryBackend, RedisBackend, StateBackend, StateStore
from atlas_runtime.tenant import Tenant


class Party(BaseModel):
    id: int
    leader_id: int
    members: list[int] = Field(default_factory=list)


class Guild(BaseModel):
    id: int
    name: str = ""


class Item(BaseModel):
    id: int


class Character(BaseModel):
    id: int
    name: str
    hp: int = 100
    party_id: int | None = None
    guild: Guild | None = None
    items: list[Item] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class Counter(BaseModel):
    n: int = 0


TENANT_A = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)
TENANT_B = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 87, 1)


STATE_DB = 11
"""The state tests use their own database of the shared server, so cleanup scans only their keys."""


@pytest.fixture(scope="session")
def state_redis_url(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path=f"/{STATE_DB}"))


async def _drop_service_keys(client: Redis, service: str) -> None:
    async for key in client.scan_iter(match=f"atlas:{service}:*", count=500):
        await client.delete(key)


@pytest.fixture(params=["redis", "memory"])
async def backend(request: pytest.FixtureRequest, state_redis_url: str) -> AsyncIterator[StateBackend]:
    """Each contract test runs once against real Redis and once in process."""
    if request.param == "memory":
        yield MemoryBackend()
        return
    backend = RedisBackend.from_url(state_redis_url)
    yield backend
    await backend.aclose()


@pytest.fixture
async def store(backend: StateBackend) -> AsyncIterator[StateStore]:
    """A store under a service name of its own, so concurrent tests never share keys."""
    service = f"t{uuid.uuid4().hex[:12]}"
    store = StateStore(backend, service=service)
    yield store
    if isinstance(backend, RedisBackend):
        await _drop_service_keys(backend.client, service)


@pytest.fixture
async def backend_store_pair(state_redis_url: str) -> AsyncIterator[tuple[StateStore, StateStore]]:
    """Two stores of one service on separate Redis clients (a writer and a reader)."""
    service = f"t{uuid.uuid4().hex[:12]}"
    writer = StateStore(RedisBackend.from_url(state_redis_url), service=service)
    reader_backend = RedisBackend.from_url(state_redis_url)
    yield writer, StateStore(reader_backend, service=service)
    await _drop_service_keys(reader_backend.client, service)
    await reader_backend.aclose()
