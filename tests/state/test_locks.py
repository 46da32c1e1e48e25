"""Contract tests of distributed locks and leader election."""

from __future__ import annotations

import asyncio

import pytest

from atlas_runtime.errors import LockTimeout
from atlas_runtime.state import LockLost, StateStore
from atlas_runtime.tenant import as_tenant

from .conftest import TENANT_A, TENANT_B


async def test_a_held_lock_makes_a_second_acquirer_time_out(store: StateStore) -> None:
    """While one holder has the lock, another waits at most `wait` and gets LockTimeout."""
    lock = store.lock("party", ttl=5, wait=0.2)
    with as_tenant(TENANT_A):
        async with lock(1):
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(LockTimeout, match="party"):
                async with lock(1):
                    pass
            assert 0.15 <= loop.time() - started < 1.0
        async with lock(1) as lease:
            assert lease.fencing_token > 0


async def test_locks_are_per_key_and_per_tenant(store: StateStore) -> None:
    """Different keys, and the same key under another tenant, are different locks."""
    lock = store.lock("party", ttl=5, wait=0.1)
    with as_tenant(TENANT_A):
        async with lock(1), lock(2):
            with as_tenant(TENANT_B):
                async with lock(1) as lease:
                    assert lease.fencing_token >= 1


async def test_fencing_tokens_increase_with_every_acquisition(store: StateStore) -> None:
    """Each acquisition gets a larger fencing token than the one before."""
    lock = store.lock("party", ttl=5, wait=1)
    tokens = []
    with as_tenant(TENANT_A):
        for _ in range(3):
            async with lock(1) as lease:
                tokens.append(lease.fencing_token)
    assert tokens == sorted(tokens) and len(set(tokens)) == 3


async def test_a_waiter_gets_the_lock_once_it_is_released(store: StateStore) -> None:
    """A waiting acquirer enters as soon as the holder leaves, and never at the same time."""
    lock = store.lock("party", ttl=5, wait=2)
    inside = 0
    overlaps = 0

    async def critical() -> None:
        nonlocal inside, overlaps
        with as_tenant(TENANT_A):
            async with lock("k"):
                inside += 1
                overlaps += inside > 1
                await asyncio.sleep(0.01)
                inside -= 1

    await asyncio.gather(*(critical() for _ in range(8)))
    assert overlaps == 0


async def test_an_expired_holder_cannot_release_the_new_holders_lock(store: StateStore) -> None:
    """After a lease runs out and another takes the lock, the old holder's release does nothing."""
    lock = store.lock("party", ttl=0.1, wait=1)
    with as_tenant(TENANT_A):
        old = await lock.acquire(1)
        await asyncio.sleep(0.15)
        new = await lock.acquire(1)
        assert not await old.release()
        assert not await old.extend()
        assert await store.backend.get(new.key) == new.token
        assert new.fencing_token > old.fencing_token
        assert await new.release()


async def test_a_held_lock_is_renewed_past_its_ttl(store: StateStore) -> None:
    """Inside `async with`, the lease is renewed so the lock outlives its ttl."""
    lock = store.lock("party", ttl=0.15, wait=0.05)
    with as_tenant(TENANT_A):
        async with lock(1):
            await asyncio.sleep(0.4)
            with pytest.raises(LockTimeout):
                await lock.acquire(1)


async def test_leaving_a_lost_lock_raises_lock_lost(store: StateStore) -> None:
    """If the lease was taken over while held, leaving the block raises LockLost."""
    lock = store.lock("party", ttl=5, wait=0.1)
    with as_tenant(TENANT_A), pytest.raises(LockLost):
        async with lock(1) as lease:
            await store.backend.delete(lease.key)
            await lock.acquire(1)


async def test_only_one_election_runs_the_work_and_another_takes_over(store: StateStore) -> None:
    """Of two candidates one leads; when it stops, the other takes over without overlap."""
    running: list[str] = []
    overlap = False

    def work(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            nonlocal overlap
            running.append(name)
            overlap = overlap or len(running) > 1
            try:
                await asyncio.Event().wait()
            finally:
                running.remove(name)

        return run

    first = store.leader_election("sweeper", ttl=0.3)
    second = store.leader_election("sweeper", ttl=0.3)
    task_a = asyncio.create_task(first.run(work("a")))
    await asyncio.sleep(0.05)
    task_b = asyncio.create_task(second.run(work("b")))
    await asyncio.sleep(0.3)
    assert running == ["a"] and first.is_leader and not second.is_leader
    task_a.cancel()
    await asyncio.gather(task_a, return_exceptions=True)
    await asyncio.sleep(0.5)
    assert running == ["b"] and second.is_leader
    task_b.cancel()
    await asyncio.gather(task_b, return_exceptions=True)
    assert not overlap


async def test_a_leader_whose_lease_is_lost_stops_its_work(store: StateStore) -> None:
    """When the lease is taken from the leader, its work is cancelled at the next renewal."""
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    election = store.leader_election("sweeper", ttl=0.3)
    task = asyncio.create_task(election.run(work))
    await asyncio.sleep(0.05)
    assert election.lease is not None
    await store.backend.set_value(election.lease.key, "someone-else", 5000)
    await asyncio.wait_for(cancelled.wait(), timeout=1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_global_lock_is_shared_by_all_tenants(store: StateStore) -> None:
    """A global lock family needs no tenant and excludes holders from every tenant."""
    lock = store.lock("world", ttl=5, wait=0.1, scope="global")
    async with lock("boss") as lease:
        assert lease.fencing_token >= 1
        with as_tenant(TENANT_B), pytest.raises(LockTimeout):
            await lock.acquire("boss")
