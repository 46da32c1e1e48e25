"""Contract tests of the strict registry, on Redis and in process."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from atlas_runtime.errors import NoTenantError
from atlas_runtime.state import StateDecodeError, StateStore
from atlas_runtime.state.backend import PutOp
from atlas_runtime.tenant import as_tenant

from .conftest import TENANT_A, TENANT_B, Counter, Party


async def test_get_returns_none_for_an_absent_key(store: StateStore) -> None:
    """Getting a key that was never written returns None."""
    registry = store.registry("parties", value_type=Party, key_type=int)
    with as_tenant(TENANT_A):
        assert await registry.get(1) is None
        assert not await registry.exists(1)


async def test_put_then_get_round_trips_the_model(store: StateStore) -> None:
    """A stored model comes back equal, and exists reports it."""
    registry = store.registry("parties", value_type=Party, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(7, Party(id=7, leader_id=1, members=[1, 2]))
        assert await registry.get(7) == Party(id=7, leader_id=1, members=[1, 2])
        assert await registry.exists(7)


async def test_put_accepts_a_dict_and_validates_it(store: StateStore) -> None:
    """A plain dict is validated into the model; an invalid one is refused before writing."""
    registry = store.registry("parties", value_type=Party, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, {"id": 1, "leader_id": 5})
        assert await registry.get(1) == Party(id=1, leader_id=5)
        with pytest.raises(ValidationError):
            await registry.put(2, {"id": "not a number", "leader_id": 5})
        assert await registry.get(2) is None


async def test_values_are_stored_as_plain_json(store: StateStore) -> None:
    """The stored text is the model's JSON, readable by other ecosystems."""
    registry = store.registry("parties", value_type=Party, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(3, Party(id=3, leader_id=9, members=[9]))
        raw = await store.backend.get(registry.space().entity("3"))
    assert raw == '{"id":3,"leader_id":9,"members":[9]}'


async def test_the_same_key_under_two_tenants_never_crosses(store: StateStore) -> None:
    """Tenants are isolated: writes, reads, counts and iteration of one never see the other."""
    registry = store.registry("parties", value_type=Party, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Party(id=1, leader_id=100))
    with as_tenant(TENANT_B):
        assert await registry.get(1) is None
        await registry.put(1, Party(id=1, leader_id=200))
        assert [p.leader_id async for p in registry.values()] == [200]
        assert await registry.remove(1)
    with as_tenant(TENANT_A):
        party = await registry.get(1)
        assert party is not None and party.leader_id == 100
        assert await registry.count() == 1


async def test_operations_without_a_tenant_fail_closed(store: StateStore) -> None:
    """A tenant-scoped registry refuses to run with no tenant in context."""
    registry = store.registry("parties", value_type=Party, key_type=int)
    with pytest.raises(NoTenantError):
        await registry.get(1)
    with pytest.raises(NoTenantError):
        await registry.put(1, Party(id=1, leader_id=1))
    with pytest.raises(NoTenantError):
        registry.values()


async def test_a_global_registry_needs_no_tenant(store: StateStore) -> None:
    """A global registry works without a tenant and is shared by all tenants."""
    registry = store.registry("config", value_type=Counter, key_type=str, scope="global")
    await registry.put("limits", Counter(n=3))
    with as_tenant(TENANT_A):
        assert await registry.get("limits") == Counter(n=3)


async def test_keys_starting_with_an_underscore_are_refused(store: StateStore) -> None:
    """Caller keys cannot collide with internal keys such as _members."""
    registry = store.registry("config", value_type=Counter, key_type=str)
    with as_tenant(TENANT_A), pytest.raises(ValueError, match="_members"):
        await registry.put("_members", Counter())


async def test_remove_reports_true_to_exactly_one_of_concurrent_callers(store: StateStore) -> None:
    """Of many concurrent removes of one key exactly one gets True."""
    registry = store.registry("parties", value_type=Party, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Party(id=1, leader_id=1))
        results = await asyncio.gather(*(registry.remove(1) for _ in range(20)))
        assert results.count(True) == 1
        assert await registry.get(1) is None
        assert not await registry.remove(1)


async def test_update_returns_the_new_value(store: StateStore) -> None:
    """update applies fn to the stored value, stores and returns the result."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Counter(n=1))
        result = await registry.update(1, lambda c: Counter(n=c.n + 10))
        assert result == Counter(n=11)
        assert await registry.get(1) == Counter(n=11)


async def test_update_accepts_in_place_mutation_dicts_and_async_functions(store: StateStore) -> None:
    """fn may mutate and return None, return a dict, or be a coroutine function."""
    registry = store.registry("counters", value_type=Counter, key_type=int)

    def bump(counter: Counter) -> None:
        counter.n += 1

    async def double(counter: Counter) -> dict[str, int]:
        return {"n": counter.n * 2}

    with as_tenant(TENANT_A):
        await registry.put(1, Counter(n=1))
        await registry.update(1, bump)
        assert await registry.update(1, double) == Counter(n=4)


async def test_update_of_an_absent_key_returns_none_without_calling_fn(store: StateStore) -> None:
    """update never upserts: fn is not called and nothing is written."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    calls: list[Counter] = []

    def fn(counter: Counter) -> Counter:
        calls.append(counter)
        return counter

    with as_tenant(TENANT_A):
        assert await registry.update(1, fn) is None
        assert calls == []
        assert await registry.get(1) is None


async def test_concurrent_updates_never_lose_a_write(store: StateStore) -> None:
    """Fifty concurrent increments of one counter end at exactly fifty."""
    registry = store.registry("counters", value_type=Counter, key_type=int)

    async def increment(counter: Counter) -> Counter:
        await asyncio.sleep(0)  # let the other updaters interleave between read and write
        return Counter(n=counter.n + 1)

    with as_tenant(TENANT_A):
        await registry.put(1, Counter())
        await asyncio.gather(*(registry.update(1, increment) for _ in range(50)))
        assert await registry.get(1) == Counter(n=50)


async def test_update_keeps_an_existing_ttl(store: StateStore) -> None:
    """An update keeps the entry's original expiry: it neither resets the ttl nor clears it."""
    ttl, pause, margin = 1.5, 0.8, 0.25
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Counter(n=1), ttl=ttl)
        put_done = time.monotonic()  # a kept ttl runs out by put_done + ttl
        await asyncio.sleep(pause)
        update_begun = time.monotonic()  # a ttl reset by the update would last until update_begun + ttl
        await registry.update(1, lambda c: Counter(n=c.n + 1))
        assert await registry.get(1) == Counter(n=2)
        await asyncio.sleep(put_done + ttl + margin - time.monotonic())
        checked_at = time.monotonic()
        assert await registry.get(1) is None
        assert await registry.count() == 0
    assert checked_at < update_begun + ttl, "checked too late to tell a kept ttl from a reset one"


async def test_put_without_ttl_clears_an_earlier_ttl(store: StateStore) -> None:
    """A plain put makes a previously expiring entry permanent."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Counter(n=1), ttl=0.2)
        await registry.put(1, Counter(n=2))
        await asyncio.sleep(0.3)
        assert await registry.get(1) == Counter(n=2)
        assert await registry.count() == 1


async def test_values_and_items_iterate_every_entry_of_the_tenant(store: StateStore) -> None:
    """Iteration pages through all entries (more than one page) of the current tenant only."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_B):
        await registry.put(10_000, Counter(n=-1))
    with as_tenant(TENANT_A):
        for key in range(450):
            await registry.put(key, Counter(n=key))
        items = [pair async for pair in registry.items()]
        values = [value async for value in registry.values()]
    assert sorted(items, key=lambda pair: pair[0]) == [(key, Counter(n=key)) for key in range(450)]
    assert sorted(value.n for value in values) == list(range(450))


async def test_iteration_returns_every_entry_that_stays_while_others_are_removed(store: StateStore) -> None:
    """Removing entries during a pass never makes it skip an entry present throughout."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        for key in range(600):
            await registry.put(key, Counter(n=key))
        seen = []
        async for key, _ in registry.items():
            seen.append(key)
            if len(seen) == 250:
                for gone in range(0, 600, 2):
                    await registry.remove(gone)
    assert set(range(1, 600, 2)) <= set(seen)


async def test_count_and_clear(store: StateStore) -> None:
    """count reports the tenant's entries and clear removes them all."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        for key in range(5):
            await registry.put(key, Counter(n=key))
        assert await registry.count() == 5
        assert await registry.clear() == 5
        assert await registry.count() == 0
        assert [v async for v in registry.values()] == []


async def test_count_forgets_entries_whose_ttl_ran_out(store: StateStore) -> None:
    """Entries put with a ttl stop being counted and iterated once they expire."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Counter(), ttl=0.1)
        await registry.put(2, Counter())
        await asyncio.sleep(0.2)
        assert await registry.count() == 1
        assert [key async for key, _ in registry.items()] == [2]


async def test_a_value_that_fails_to_decode_is_reported_with_its_key(store: StateStore) -> None:
    """A corrupt stored value raises StateDecodeError naming the key, in get and in iteration."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        space = registry.space()
        await store.backend.put(PutOp(space, "5", '{"n": "five"}'))
        with pytest.raises(StateDecodeError, match=r"counters:\{.*\}:5"):
            await registry.get(5)
        with pytest.raises(StateDecodeError):
            _ = [v async for v in registry.values()]


async def test_incr_field_adds_clamps_and_keeps_the_rest_of_the_value(store: StateStore) -> None:
    """incr_field changes one integer field atomically, clamped, leaving other fields intact."""
    registry = store.registry("parties", value_type=Party, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Party(id=1, leader_id=50, members=[]))
        assert await registry.incr_field(1, "leader_id", -30, minimum=0) == 20
        assert await registry.incr_field(1, "leader_id", -30, minimum=0) == 0
        assert await registry.incr_field(1, "leader_id", 500, maximum=100) == 100
        assert await registry.get(1) == Party(id=1, leader_id=100, members=[])
        assert await registry.incr_field(2, "leader_id", 1) is None
        with pytest.raises(ValueError, match="members"):
            await registry.incr_field(1, "members", 1)


async def test_concurrent_incr_field_calls_never_lose_a_change(store: StateStore) -> None:
    """A hundred concurrent decrements all apply."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Counter(n=1000))
        await asyncio.gather(*(registry.incr_field(1, "n", -3) for _ in range(100)))
        assert await registry.get(1) == Counter(n=700)


async def test_tenants_with_state_are_listed(store: StateStore) -> None:
    """Every tenant that wrote state is listed once, and for_each_tenant runs under each."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    for tenant in (TENANT_A, TENANT_B, TENANT_A):
        with as_tenant(tenant):
            await registry.put(1, Counter())
    assert sorted([t.key async for t in store.tenants()]) == sorted([TENANT_A.key, TENANT_B.key])
    seen: list[int] = []

    async def visit() -> None:
        seen.append(await registry.count())

    assert await store.for_each_tenant(visit) == 2
    assert seen == [1, 1]
