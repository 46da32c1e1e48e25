"""Contract tests of coalesced registries and read-through caches."""

from __future__ import annotations

import asyncio

import pytest

from atlas_runtime.state import StateStore
from atlas_runtime.tenant import as_tenant

from .conftest import TENANT_A, TENANT_B, Character, Counter


async def test_coalesced_reads_see_pending_writes_before_the_flush(store: StateStore) -> None:
    """A buffered put is visible through the coalesced registry at once, in Redis after the flush."""
    positions = store.coalesced("positions", value_type=Counter, key_type=int, flush=30)
    with as_tenant(TENANT_A):
        await positions.put(1, Counter(n=5))
        assert await positions.get(1) == Counter(n=5)
        assert await positions.exists(1)
        assert await positions.registry.get(1) is None
        await positions.flush()
        assert await positions.registry.get(1) == Counter(n=5)
    await positions.aclose()


async def test_coalesced_writes_collapse_to_the_latest_value_per_key(store: StateStore) -> None:
    """Many updates of few keys cost one flush and leave the latest value of each key."""
    positions = store.coalesced("positions", value_type=Counter, key_type=int, flush=30)
    with as_tenant(TENANT_A):
        for step in range(100):
            await positions.put(step % 10, Counter(n=step))
        assert positions.pending == 10
        await positions.flush()
        assert positions.flushes == 1 and positions.flushed_writes == 10
        stored = {key: value.n async for key, value in positions.registry.items()}
    assert stored == {key: 90 + key for key in range(10)}
    await positions.aclose()


async def test_the_background_flush_bounds_staleness(store: StateStore) -> None:
    """Without an explicit flush, a write reaches the store within the flush interval."""
    positions = store.coalesced("positions", value_type=Counter, key_type=int, flush=0.05)
    with as_tenant(TENANT_A):
        await positions.put(1, Counter(n=1))
        await asyncio.sleep(0.2)
        assert positions.pending == 0
        assert await positions.registry.get(1) == Counter(n=1)
    await positions.aclose()


async def test_coalesced_removes_and_tenants_are_kept_apart(store: StateStore) -> None:
    """A buffered remove deletes at flush, and the same key of two tenants stays separate."""
    positions = store.coalesced("positions", value_type=Counter, key_type=int, flush=30)
    with as_tenant(TENANT_A):
        await positions.put(1, Counter(n=1))
    with as_tenant(TENANT_B):
        await positions.put(1, Counter(n=2))
    await positions.flush()
    with as_tenant(TENANT_A):
        await positions.remove(1)
        assert await positions.get(1) is None
        await positions.flush()
        assert await positions.registry.get(1) is None
    with as_tenant(TENANT_B):
        assert await positions.get(1) == Counter(n=2)
    await positions.aclose()


async def test_close_flushes_and_is_idempotent(store: StateStore) -> None:
    """Closing flushes pending writes; closing again is harmless; writing after close is refused."""
    positions = store.coalesced("positions", value_type=Counter, key_type=int, flush=30)
    with as_tenant(TENANT_A):
        await positions.put(1, Counter(n=3))
        await positions.aclose()
        await positions.aclose()
        assert await positions.registry.get(1) == Counter(n=3)
        with pytest.raises(RuntimeError, match="closed"):
            await positions.put(2, Counter())


async def test_coalesced_incr_field_applies_after_the_pending_write(store: StateStore) -> None:
    """incr_field first flushes the key's pending value, then adds atomically."""
    monsters = store.coalesced("monsters", value_type=Character, key_type=int, flush=30)
    with as_tenant(TENANT_A):
        await monsters.put(1, Character(id=1, name="slime", hp=50))
        assert await monsters.incr_field(1, "hp", -80, minimum=0) == 0
        assert await monsters.get(1) == Character(id=1, name="slime", hp=0)
    await monsters.aclose()


async def test_store_close_flushes_its_coalesced_registries(
    backend_store_pair: tuple[StateStore, StateStore],
) -> None:
    """Closing the store flushes every coalesced registry it made before the backend closes."""
    writer, reader = backend_store_pair
    positions = writer.coalesced("positions", value_type=Counter, key_type=int, flush=30)
    with as_tenant(TENANT_A):
        await positions.put(1, Counter(n=9))
        await writer.aclose()
        registry = reader.registry("positions", value_type=Counter, key_type=int)
        assert await registry.get(1) == Counter(n=9)


async def test_cache_loads_once_for_concurrent_misses(store: StateStore) -> None:
    """Concurrent misses on one key share a single loader call."""
    calls: list[int] = []

    async def load(key: int) -> Counter:
        calls.append(key)
        await asyncio.sleep(0.05)
        return Counter(n=key * 2)

    cache = store.cache("consumables", value_type=Counter, key_type=int, loader=load, ttl=5)
    with as_tenant(TENANT_A):
        results = await asyncio.gather(*(cache.get(21) for _ in range(10)))
        assert results == [Counter(n=42)] * 10
        assert await cache.get(21) == Counter(n=42)
    assert calls == [21]


async def test_cache_entries_expire_and_reload(store: StateStore) -> None:
    """After the ttl the loader runs again; invalidate drops an entry at once."""
    loads = 0

    async def load(key: int) -> Counter:
        nonlocal loads
        loads += 1
        return Counter(n=loads)

    cache = store.cache("consumables", value_type=Counter, key_type=int, loader=load, ttl=0.1)
    with as_tenant(TENANT_A):
        assert await cache.get(1) == Counter(n=1)
        await asyncio.sleep(0.15)
        assert await cache.get(1) == Counter(n=2)
        assert await cache.invalidate(1)
        assert await cache.get(1) == Counter(n=3)


async def test_cache_does_not_store_a_missing_value(store: StateStore) -> None:
    """A loader returning None is asked again next time."""
    loads = 0

    async def load(key: int) -> Counter | None:
        nonlocal loads
        loads += 1
        return None

    cache = store.cache("consumables", value_type=Counter, key_type=int, loader=load, ttl=5)
    with as_tenant(TENANT_A):
        assert await cache.get(1) is None
        assert await cache.get(1) is None
    assert loads == 2


async def test_a_failed_load_reaches_every_waiter_and_is_not_cached(store: StateStore) -> None:
    """A loader error is raised to all concurrent callers, and the next call loads again."""
    attempts = 0

    async def load(key: int) -> Counter:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.02)
        if attempts == 1:
            raise LookupError("source down")
        return Counter(n=1)

    cache = store.cache("consumables", value_type=Counter, key_type=int, loader=load, ttl=5)
    with as_tenant(TENANT_A):
        results = await asyncio.gather(*(cache.get(1) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(result, LookupError) for result in results)
        assert await cache.get(1) == Counter(n=1)
    assert attempts == 2
