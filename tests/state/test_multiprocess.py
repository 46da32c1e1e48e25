"""Races between four OS processes against the real Redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from atlas_runtime.state import RedisBackend, StateStore
from atlas_runtime.state.backend import Expiry, ExpiryMode, PutOp
from atlas_runtime.tenant import as_tenant

from ._workers import TENANT, Counter

WORKER = Path(__file__).with_name("_workers.py")
PROCESSES = 4

Race = tuple[StateStore, str]

pytestmark = pytest.mark.slow


@pytest.fixture
async def race(state_redis_url: str) -> AsyncIterator[tuple[StateStore, str]]:
    service = f"mp{uuid.uuid4().hex[:10]}"
    backend = RedisBackend.from_url(state_redis_url)
    yield StateStore(backend, service=service), service
    async for key in backend.client.scan_iter(match=f"atlas:{service}:*", count=1000):
        await backend.client.delete(key)
    await backend.aclose()


def start(job: str, state_redis_url: str, service: str, count: int, start_at: float) -> subprocess.Popen[str]:
    args = [sys.executable, str(WORKER), job, state_redis_url, service, str(count), str(start_at)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=WORKER.parent)


async def run_all(job: str, state_redis_url: str, service: str, count: int) -> list[object]:
    start_at = time.time() + 1.5  # every worker imports and connects first, then they race
    workers = [start(job, state_redis_url, service, count, start_at) for _ in range(PROCESSES)]
    outputs = await asyncio.gather(
        *(asyncio.to_thread(worker.communicate, timeout=120) for worker in workers)
    )
    assert [worker.returncode for worker in workers] == [0] * PROCESSES
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


async def test_next_id_never_collides_across_processes(race: Race, state_redis_url: str) -> None:
    """4 processes x 25,000 next_id calls yield 100,000 distinct ids."""
    _, service = race
    results = await run_all("next_ids", state_redis_url, service, 25_000)
    ids = [i for result in results for i in result]  # type: ignore[attr-defined]
    assert len(ids) == 100_000
    assert len(set(ids)) == 100_000
    assert min(ids) == 1_000_000_000 and max(ids) == 1_000_099_999


async def test_concurrent_updates_across_processes_lose_nothing(race: Race, state_redis_url: str) -> None:
    """4 processes x 2,000 increments of one counter through update end at exactly 8,000."""
    store, service = race
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT):
        await registry.put(1, Counter())
    results = await run_all("increments", state_redis_url, service, 2_000)
    assert results == [2_000] * PROCESSES
    with as_tenant(TENANT):
        assert await registry.get(1) == Counter(n=8_000)


async def test_racing_pollers_pop_each_expired_entry_once(race: Race, state_redis_url: str) -> None:
    """With 4 pollers racing, 10,000 expired entries are popped exactly once in total."""
    store, service = race
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=1)
    with as_tenant(TENANT):
        space = invites.space()
        ops = [PutOp(space, str(key), '{"n":0}', Expiry(ExpiryMode.TRACKED, 500)) for key in range(10_000)]
        await store.backend.apply_many(ops)
        assert await invites.count() == 10_000
    results = await run_all("pop_expired", state_redis_url, service, 100)
    popped = [key for result in results for key in result]  # type: ignore[attr-defined]
    assert sorted(popped) == list(range(10_000))
    assert all(len(result) > 0 for result in results)  # type: ignore[arg-type]


async def test_a_lock_admits_one_holder_at_a_time_across_processes(race: Race, state_redis_url: str) -> None:
    """A lock-guarded read-modify-write of a plain key loses no increment over 4 x 1,000 rounds."""
    store, service = race
    await run_all("locked_increments", state_redis_url, service, 1_000)
    with as_tenant(TENANT):
        assert await store.backend.get(store.internal_key("plain", "counter")) == "4000"


async def test_an_expired_holder_cannot_release_the_new_holders_lock(
    race: Race, state_redis_url: str
) -> None:
    """A process whose lease ran out gets False from release, and the new holder keeps the lock."""
    store, service = race
    stale = start("stale_holder", state_redis_url, service, 1, time.time())
    assert stale.stdout is not None
    assert (await asyncio.to_thread(stale.stdout.readline)).strip() == "acquired"
    with as_tenant(TENANT):
        lease = await store.lock("party", ttl=10, wait=2).acquire(1)
        out, _ = await asyncio.to_thread(stale.communicate, timeout=30)
        assert json.loads(out.strip().splitlines()[-1]) is False
        assert await store.backend.get(lease.key) == lease.token
        assert await lease.release()
