"""Contract tests of units of work: staged writes, watched reads, one atomic commit."""

from __future__ import annotations

import asyncio

import pytest

from atlas_runtime.errors import UniqueIndexConflict
from atlas_runtime.state import (
    IndexSpec,
    PushValues,
    SetValue,
    SetValues,
    StateConflict,
    StateStore,
    active_unit_of_work,
)
from atlas_runtime.tenant import as_tenant

from .conftest import TENANT_A, Character, Counter


async def test_writes_are_staged_until_commit_and_reads_see_them(store: StateStore) -> None:
    """Inside the unit, reads see staged writes; outside, nothing changes until commit."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Counter(n=1))
        async with store.unit_of_work() as uow:
            assert active_unit_of_work() is uow
            await registry.put(2, Counter(n=2))
            await registry.update(1, lambda c: Counter(n=c.n + 10))
            assert await registry.get(2) == Counter(n=2)
            assert await registry.get(1) == Counter(n=11)
            assert await registry.remove(2)
            assert not await registry.exists(2)
            await registry.put(3, Counter(n=3))
            assert len(uow.staged) == 4
            assert await store.backend.get(registry.space().entity("1")) == '{"n":1}'
            assert await store.backend.get(registry.space().entity("3")) is None
            await uow.commit()
        assert active_unit_of_work() is None
        assert await registry.get(1) == Counter(n=11)
        assert await registry.get(2) is None
        assert await registry.get(3) == Counter(n=3)


async def test_commit_applies_extra_commands_in_the_same_step(store: StateStore) -> None:
    """An inbox marker and an outbox push are written together with the staged state."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        inbox = store.internal_key("inbox", "topic-0-42")
        outbox = store.internal_key("outbox", "events")
        async with store.unit_of_work() as uow:
            assert await uow.read(inbox) is None
            await registry.put(1, Counter(n=1))
            await uow.commit([SetValue(inbox, "done", ttl_ms=60_000), PushValues(outbox, ("e1", "e2"))])
        assert await store.backend.get(inbox) == "done"
        assert await store.backend.pop_list(outbox, 10) == ["e1", "e2"]
        assert await registry.get(1) == Counter(n=1)


async def test_set_values_writes_every_key_in_the_commit_with_its_ttl(store: StateStore) -> None:
    """`SetValues` sets many keys in one command, with the TTL when given and none otherwise."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        short = tuple(store.internal_key("inbox", f"short-{n}") for n in range(3))
        kept = tuple(store.internal_key("inbox", f"kept-{n}") for n in range(2))
        async with store.unit_of_work() as uow:
            assert await uow.read_many([*short, *kept]) == [None] * 5
            await registry.put(1, Counter(n=1))
            await uow.commit([SetValues(short, "1", ttl_ms=100), SetValues(kept, "2")])
        assert await store.backend.get_many([*short, *kept]) == ["1", "1", "1", "2", "2"]
        assert await registry.get(1) == Counter(n=1)
        await asyncio.sleep(0.3)
        assert await store.backend.get_many([*short, *kept]) == [None, None, None, "2", "2"]


async def test_a_concurrent_write_to_a_read_key_makes_commit_fail(store: StateStore) -> None:
    """If a key read in the unit changes before commit, commit raises StateConflict and applies nothing."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Counter(n=1))
        async with store.unit_of_work() as uow:
            await registry.update(1, lambda c: Counter(n=c.n + 1))
            await registry.put(2, Counter(n=2))
            # a write from outside the unit (another replica handling another message)
            await store.backend.set_value(registry.space().entity("1"), '{"n":100}')
            with pytest.raises(StateConflict):
                await uow.commit([SetValue(store.internal_key("inbox", "m1"), "done")])
        assert await registry.get(1) == Counter(n=100)
        assert await registry.get(2) is None
        assert await store.backend.get(store.internal_key("inbox", "m1")) is None


async def test_a_concurrent_write_to_an_inbox_marker_makes_commit_fail(store: StateStore) -> None:
    """Two units handling the same message cannot both commit: the inbox read is watched."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        marker = store.internal_key("inbox", "m2")
        async with store.unit_of_work() as first:
            assert await first.read(marker) is None
            await store.backend.set_value(marker, "done-elsewhere")
            await registry.put(1, Counter(n=1))
            with pytest.raises(StateConflict):
                await first.commit([SetValue(marker, "done")])
        assert await registry.get(1) is None


async def test_leaving_without_commit_discards_staged_writes(store: StateStore) -> None:
    """A unit that exits (or fails) before commit writes nothing."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        with pytest.raises(RuntimeError, match="handler failed"):
            async with store.unit_of_work():
                await registry.put(1, Counter(n=1))
                raise RuntimeError("handler failed")
        assert await registry.get(1) is None


async def test_unique_index_conflicts_surface_while_staging(store: StateStore) -> None:
    """A staged put that would take another key's unique value raises at once."""
    registry = store.registry(
        "characters", value_type=Character, key_type=int, indexes=[IndexSpec("name", "name", unique=True)]
    )
    with as_tenant(TENANT_A):
        await registry.put(1, Character(id=1, name="Alice"))
        async with store.unit_of_work() as uow:
            with pytest.raises(UniqueIndexConflict):
                await registry.put(2, Character(id=2, name="Alice"))
            await registry.put(3, Character(id=3, name="Carol"))
            await uow.commit()
        assert await registry.lookup("name", "Carol") == [3]
        assert await registry.lookup("name", "Alice") == [1]


async def test_a_unit_of_work_commits_once(store: StateStore) -> None:
    """Committing twice, or staging after commit, is refused."""
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        async with store.unit_of_work() as uow:
            await uow.commit()
            with pytest.raises(RuntimeError, match="already committed"):
                await uow.commit()
            with pytest.raises(RuntimeError, match="already committed"):
                await registry.put(1, Counter())
