"""Behaviour while a private Redis server is stopped and started again."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_runtime.errors import BackendUnavailable
from atlas_runtime.state import RedisBackend, StateStore
from atlas_runtime.tenant import as_tenant

from .conftest import TENANT_A, Counter


class PrivateRedis:
    """A throwaway redis-server on a free loopback port, never the shared one."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"private redis-server did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_operations_fail_clearly_during_an_outage_and_recover_after(
    private_redis: PrivateRedis,
) -> None:
    """While Redis is down calls raise BackendUnavailable naming it; afterwards the same store works."""
    store = StateStore(RedisBackend.from_url(private_redis.url), service="outage")
    registry = store.registry("counters", value_type=Counter, key_type=int)
    with as_tenant(TENANT_A):
        await registry.put(1, Counter(n=1))
        private_redis.stop()
        started = time.monotonic()
        address = rf"Redis at redis://127\.0\.0\.1:{private_redis.port}/0 is unreachable"
        with pytest.raises(BackendUnavailable, match=address):
            await registry.get(1)
        with pytest.raises(BackendUnavailable, match=address):
            await registry.put(2, Counter())
        with pytest.raises(BackendUnavailable, match=address):
            await registry.update(1, lambda c: c)
        assert time.monotonic() - started < 5
        private_redis.start()
        await registry.put(1, Counter(n=5))
        assert await registry.get(1) == Counter(n=5)
        assert await registry.update(1, lambda c: Counter(n=c.n + 1)) == Counter(n=6)
    await store.aclose()


async def test_coalesced_writes_survive_a_failed_flush(private_redis: PrivateRedis) -> None:
    """A flush that fails during an outage keeps its writes; newer values win; they land after recovery."""
    store = StateStore(RedisBackend.from_url(private_redis.url), service="outage")
    positions = store.coalesced("positions", value_type=Counter, key_type=int, flush=30)
    with as_tenant(TENANT_A):
        private_redis.stop()
        await positions.put(1, Counter(n=1))
        await positions.put(2, Counter(n=2))
        with pytest.raises(BackendUnavailable):
            await positions.flush()
        assert positions.pending == 2
        await positions.put(2, Counter(n=20))
        private_redis.start()
        await positions.flush()
        assert positions.pending == 0
        assert await positions.registry.get(1) == Counter(n=1)
        assert await positions.registry.get(2) == Counter(n=20)
    await store.aclose()


async def test_a_leader_stops_its_work_before_its_lease_can_expire_in_an_outage(
    private_redis: PrivateRedis,
) -> None:
    """When renewals fail, the leader cancels its work before the lease's ttl runs out."""
    store = StateStore(RedisBackend.from_url(private_redis.url), service="outage")
    election = store.leader_election("sweeper", ttl=0.9)
    stopped_at: list[float] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped_at.append(time.monotonic())

    task = asyncio.create_task(election.run(work))
    await asyncio.sleep(0.1)
    assert election.lease is not None
    expires_at = election.lease.expires_at
    private_redis.stop()
    await asyncio.sleep(1.2)
    assert stopped_at and stopped_at[0] < expires_at
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    private_redis.start()
    await store.aclose()
