"""Worker processes of the multi-process state tests (run as a script, one job each).

    python _workers.py JOB REDIS_URL SERVICE COUNT START_AT

Each worker waits until the wall-clock time START_AT so all of them race at once,
runs COUNT operations of JOB against Redis, and prints a JSON result on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

from pydantic import BaseModel

from atlas_runtime.state import IdSpec, RedisBackend, StateStore
from atlas_runtime.tenant import Tenant, as_tenant

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)


class Counter(BaseModel):
    n: int = 0


async def next_ids(store: StateStore, count: int) -> list[int]:
    registry = store.registry("parties", value_type=Counter, key_type=int, ids=IdSpec(start=1_000_000_000))
    ids: list[int] = []
    for _ in range(count // 50):
        ids.extend(await asyncio.gather(*(registry.next_id() for _ in range(50))))
    return ids


async def increments(store: StateStore, count: int) -> int:
    registry = store.registry("counters", value_type=Counter, key_type=int)
    done = 0
    for _ in range(count):
        done += await registry.update(1, lambda c: Counter(n=c.n + 1)) is not None
    return done


async def pop_expired(store: StateStore, count: int) -> list[int]:
    invites = store.ttl_registry("invites", value_type=Counter, key_type=int, ttl=1)
    claimed: list[int] = []
    while True:
        batch = await invites.pop_expired(limit=count)
        claimed.extend(key for key, _ in batch)
        if not batch and await invites.count() == 0:
            return claimed


async def locked_increments(store: StateStore, count: int) -> int:
    lock = store.lock("counter", ttl=5, wait=30)
    key = store.internal_key("plain", "counter")
    for _ in range(count):
        async with lock("counter"):
            value = int(await store.backend.get(key) or 0)
            await store.backend.set_value(key, str(value + 1))
    return count


async def stale_holder(store: StateStore, count: int) -> bool:
    """Take a 300 ms lease without renewal, outlive it, then try to release it."""
    lock = store.lock("party", ttl=0.3, wait=1)
    lease = await lock.acquire(1)
    print("acquired", flush=True)
    await asyncio.sleep(0.8)
    return await lease.release()


JOBS = {
    "next_ids": next_ids,
    "increments": increments,
    "pop_expired": pop_expired,
    "locked_increments": locked_increments,
    "stale_holder": stale_holder,
}


async def main(job: str, url: str, service: str, count: int, start_at: float) -> None:
    store = StateStore(RedisBackend.from_url(url), service=service)
    await store.ping()  # connect before the race starts
    await asyncio.sleep(max(0.0, start_at - time.time()))
    with as_tenant(TENANT):
        result = await JOBS[job](store, count)  # type: ignore[operator]
    await store.aclose()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
