"""Contract tests of TTL registries, id counters and secondary indexes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from atlas_runtime.errors import UniqueIndexConflict
from atlas_runtime.state import IdRangeExhausted, IdSpec, IndexSpec, StateStore
from atlas_runtime.state.backend import Expiry, ExpiryMode, PutOp
from atlas_runtime.state.specs import UINT32_MAX
from atlas_runtime.tenant import as_tenant, current_tenant

from .conftest import TENANT_A, TENANT_B, Character, Counter, Guild, Item, Party

# -- TTL registry ---------------------------------------------------------------


async def test_pop_expired_claims_only_entries_past_their_deadline(store: StateStore) -> None:
    """Entries are returned by pop_expired once their ttl passed, and only then."""
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=0.15)
    with as_tenant(TENANT_A):
        await invites.put(1, Counter(n=1))
        await invites.put(2, Counter(n=2), ttl=30)
        assert await invites.pop_expired() == []
        assert await invites.get(1) == Counter(n=1)
        await asyncio.sleep(0.25)
        assert await invites.pop_expired() == [(1, Counter(n=1))]
        assert await invites.pop_expired() == []
        assert await invites.get(1) is None
        assert await invites.get(2) == Counter(n=2)


async def test_concurrent_pollers_claim_each_expired_entry_once(store: StateStore) -> None:
    """With many pollers racing, every expired entry goes to exactly one of them."""
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=0.05)
    with as_tenant(TENANT_A):
        for key in range(300):
            await invites.put(key, Counter(n=key))
        await asyncio.sleep(0.1)
        batches = await asyncio.gather(*(invites.pop_expired(limit=7) for _ in range(60)))
    keys = [key for batch in batches for key, _ in batch]
    assert sorted(keys) == list(range(300))


async def test_ttl_entries_keep_their_deadline_on_update(store: StateStore) -> None:
    """Updating a TTL entry neither extends nor clears its expiry."""
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=0.2)
    with as_tenant(TENANT_A):
        await invites.put(1, Counter(n=1))
        await asyncio.sleep(0.1)
        await invites.update(1, lambda c: Counter(n=c.n + 1))
        await asyncio.sleep(0.15)
        assert await invites.pop_expired() == [(1, Counter(n=2))]


async def test_removed_ttl_entries_never_pop(store: StateStore) -> None:
    """A removed entry is not reported as expired later."""
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=0.05)
    with as_tenant(TENANT_A):
        await invites.put(1, Counter(n=1))
        assert await invites.remove(1)
        await asyncio.sleep(0.1)
        assert await invites.pop_expired() == []
        assert await invites.count() == 0


async def test_pop_expired_is_per_tenant(store: StateStore) -> None:
    """Expired entries of one tenant are not claimed by another tenant's poll."""
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=0.05)
    with as_tenant(TENANT_A):
        await invites.put(1, Counter(n=1))
    await asyncio.sleep(0.1)
    with as_tenant(TENANT_B):
        assert await invites.pop_expired() == []
    with as_tenant(TENANT_A):
        assert await invites.pop_expired() == [(1, Counter(n=1))]


async def test_expired_entries_of_every_tenant_are_claimed_with_the_tenant_set(store: StateStore) -> None:
    """pop_expired_all_tenants visits each tenant with state and yields its claimed entries."""
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=0.05)
    for tenant, n in ((TENANT_A, 1), (TENANT_B, 2)):
        with as_tenant(tenant):
            await invites.put(n, Counter(n=n))
    await asyncio.sleep(0.1)
    seen = {}
    async for tenant, claimed in invites.pop_expired_all_tenants():
        seen[tenant] = (claimed, current_tenant())
    assert seen == {
        TENANT_A: ([(1, Counter(n=1))], TENANT_A),
        TENANT_B: ([(2, Counter(n=2))], TENANT_B),
    }
    assert [batch async for batch in invites.pop_expired_all_tenants()] == []


async def test_an_expired_entry_that_fails_to_decode_is_claimed_and_logged(
    store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt expired entry does not block the others: it is claimed and logged with its key."""
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=0.05)
    with as_tenant(TENANT_A):
        await invites.put(1, Counter(n=1))
        await store.backend.put(PutOp(invites.space(), "2", '{"n": "two"}', Expiry(ExpiryMode.TRACKED, 50)))
        await asyncio.sleep(0.1)
        with caplog.at_level(logging.ERROR, logger="atlas_runtime.state"):
            assert await invites.pop_expired() == [(1, Counter(n=1))]
        assert await invites.pop_expired() == []
    assert "invites:{" in caplog.text and ":2" in caplog.text and "two" in caplog.text


# -- ids ------------------------------------------------------------------------


async def test_next_id_starts_at_the_declared_start_and_counts_up(store: StateStore) -> None:
    """Ids start at `start`, increase by one, and are counted per tenant."""
    registry = store.registry("parties", value_type=Party, key_type=int, ids=IdSpec(start=1_000_000_000))
    with as_tenant(TENANT_A):
        assert [await registry.next_id() for _ in range(3)] == [1_000_000_000, 1_000_000_001, 1_000_000_002]
    with as_tenant(TENANT_B):
        assert await registry.next_id() == 1_000_000_000


async def test_concurrent_next_id_calls_never_collide(store: StateStore) -> None:
    """Concurrent callers get distinct ids."""
    registry = store.registry("parties", value_type=Party, key_type=int, ids=IdSpec())
    with as_tenant(TENANT_A):
        ids = await asyncio.gather(*(registry.next_id() for _ in range(200)))
    assert sorted(ids) == list(range(1, 201))


async def test_next_id_raises_past_the_key_types_range(store: StateStore) -> None:
    """A uint32 counter raises at 2**32 instead of wrapping."""
    registry = store.registry(
        "parties", value_type=Party, key_type=int, ids=IdSpec(start=UINT32_MAX - 1, maximum=UINT32_MAX)
    )
    with as_tenant(TENANT_A):
        assert await registry.next_id() == UINT32_MAX - 1
        assert await registry.next_id() == UINT32_MAX
        with pytest.raises(IdRangeExhausted, match="4294967295"):
            await registry.next_id()


async def test_next_id_raises_at_the_end_of_the_64_bit_range(store: StateStore) -> None:
    """The 64-bit counter refuses to overflow."""
    registry = store.registry("parties", value_type=Party, key_type=int, ids=IdSpec(start=2**63 - 1))
    with as_tenant(TENANT_A):
        assert await registry.next_id() == 2**63 - 1
        with pytest.raises(IdRangeExhausted):
            await registry.next_id()


async def test_a_global_id_counter_is_shared_by_all_tenants(store: StateStore) -> None:
    """A global registry's ids count across tenants."""
    registry = store.registry("worlds", value_type=Counter, key_type=int, ids=IdSpec(start=5), scope="global")
    with as_tenant(TENANT_A):
        assert await registry.next_id() == 5
    with as_tenant(TENANT_B):
        assert await registry.next_id() == 6


# -- indexes --------------------------------------------------------------------


async def test_lookup_finds_keys_by_plain_dotted_and_list_fields(store: StateStore) -> None:
    """Indexes cover plain fields, dotted paths and every item of list fields."""
    registry = store.registry(
        "characters",
        value_type=Character,
        key_type=int,
        indexes=[
            IndexSpec("party", "party_id"),
            IndexSpec("guild", "guild.id"),
            IndexSpec("item", "items.id"),
        ],
    )
    with as_tenant(TENANT_A):
        await registry.put(1, Character(id=1, name="a", party_id=7, guild=Guild(id=3), items=[Item(id=10)]))
        await registry.put(2, Character(id=2, name="b", party_id=7, items=[Item(id=10), Item(id=11)]))
        await registry.put(3, Character(id=3, name="c"))
        assert await registry.lookup("party", 7) == [1, 2]
        assert await registry.lookup("guild", 3) == [1]
        assert await registry.lookup("item", 10) == [1, 2]
        assert await registry.lookup("item", 11) == [2]
        assert await registry.lookup("party", 8) == []
    with as_tenant(TENANT_B):
        assert await registry.lookup("party", 7) == []


async def test_list_of_scalars_is_indexed_item_by_item(store: StateStore) -> None:
    """A list[int] field maps each member to the key (member -> party)."""
    registry = store.registry(
        "parties", value_type=Party, key_type=int, indexes=[IndexSpec("member", "members")]
    )
    with as_tenant(TENANT_A):
        await registry.put(100, Party(id=100, leader_id=1, members=[1, 2, 3]))
        assert await registry.lookup("member", 2) == [100]
        await registry.update(100, lambda p: p.model_copy(update={"members": [1, 3]}))
        assert await registry.lookup("member", 2) == []
        assert await registry.lookup("member", 3) == [100]


async def test_update_moves_index_entries_to_the_new_value(store: StateStore) -> None:
    """After an update changes the indexed field, the old value no longer finds the key."""
    registry = store.registry(
        "characters", value_type=Character, key_type=int, indexes=[IndexSpec("party", "party_id")]
    )
    with as_tenant(TENANT_A):
        await registry.put(1, Character(id=1, name="a", party_id=7))
        await registry.update(1, lambda c: c.model_copy(update={"party_id": 8}))
        assert await registry.lookup("party", 7) == []
        assert await registry.lookup("party", 8) == [1]
        await registry.put(1, Character(id=1, name="a", party_id=None))
        assert await registry.lookup("party", 8) == []


async def test_remove_and_clear_drop_index_entries(store: StateStore) -> None:
    """Removed and cleared entries disappear from every index."""
    registry = store.registry(
        "characters", value_type=Character, key_type=int, indexes=[IndexSpec("party", "party_id")]
    )
    with as_tenant(TENANT_A):
        await registry.put(1, Character(id=1, name="a", party_id=7))
        await registry.put(2, Character(id=2, name="b", party_id=7))
        assert await registry.remove(1)
        assert await registry.lookup("party", 7) == [2]
        await registry.clear()
        assert await registry.lookup("party", 7) == []


async def test_expired_entries_disappear_from_indexes(store: StateStore) -> None:
    """An entry whose ttl ran out is not found through its index."""
    registry = store.registry(
        "characters", value_type=Character, key_type=int, indexes=[IndexSpec("party", "party_id")]
    )
    with as_tenant(TENANT_A):
        await registry.put(1, Character(id=1, name="a", party_id=7), ttl=0.1)
        await asyncio.sleep(0.2)
        assert await registry.lookup("party", 7) == []


async def test_a_unique_index_refuses_a_second_owner(store: StateStore) -> None:
    """A unique index raises UniqueIndexConflict for another key and writes nothing."""
    registry = store.registry(
        "characters", value_type=Character, key_type=int, indexes=[IndexSpec("name", "name", unique=True)]
    )
    with as_tenant(TENANT_A):
        await registry.put(1, Character(id=1, name="Alice"))
        with pytest.raises(UniqueIndexConflict) as caught:
            await registry.put(2, Character(id=2, name="Alice"))
        assert caught.value.owner == "1" and caught.value.index == "name"
        assert await registry.get(2) is None
        await registry.put(1, Character(id=1, name="Alice", hp=5))  # the owner may rewrite it
        with pytest.raises(UniqueIndexConflict):
            await registry.put(3, {"id": 3, "name": "Alice"})
        assert await registry.lookup("name", "Alice") == [1]


async def test_a_unique_value_is_free_again_after_its_owner_moves_or_goes(store: StateStore) -> None:
    """Renaming or removing the owner releases the unique value."""
    registry = store.registry(
        "characters", value_type=Character, key_type=int, indexes=[IndexSpec("name", "name", unique=True)]
    )
    with as_tenant(TENANT_A):
        await registry.put(1, Character(id=1, name="Alice"))
        await registry.update(1, lambda c: c.model_copy(update={"name": "Alicia"}))
        await registry.put(2, Character(id=2, name="Alice"))
        assert await registry.remove(2)
        await registry.put(3, Character(id=3, name="Alice"))
        assert await registry.lookup("name", "Alice") == [3]
        assert await registry.lookup("name", "Alicia") == [1]


async def test_concurrent_claims_of_a_unique_value_have_one_winner(store: StateStore) -> None:
    """Of many concurrent puts claiming one unique value, exactly one succeeds."""
    registry = store.registry(
        "characters", value_type=Character, key_type=int, indexes=[IndexSpec("name", "name", unique=True)]
    )

    async def claim(key: int) -> bool:
        try:
            await registry.put(key, Character(id=key, name="Bob"))
        except UniqueIndexConflict:
            return False
        return True

    with as_tenant(TENANT_A):
        results = await asyncio.gather(*(claim(key) for key in range(20)))
        assert results.count(True) == 1
        assert len(await registry.lookup("name", "Bob")) == 1


async def test_lookup_of_an_undeclared_index_is_an_error(store: StateStore) -> None:
    """Looking up an index the registry does not declare raises KeyError naming it."""
    registry = store.registry("characters", value_type=Character, key_type=int)
    with as_tenant(TENANT_A), pytest.raises(KeyError, match="party"):
        await registry.lookup("party", 1)
