"""Distributed locks with leases and fencing tokens, and leader election built on them.

A lock is a lease key set with SET NX PX to a random token (one token per
acquisition, never shared between tasks). Only the holder can extend or release it
(compare-and-delete in one script). Acquiring waits at most `wait`, polling with
full-jitter backoff, then raises `LockTimeout`. While held, a background task renews
the lease every third of its ttl. Each acquisition returns a fencing token from a
monotonic counter, so a resource can refuse writes from a holder that was paused
past its lease.

    async with store.lock("party", ttl=5, wait=2)(party_id) as lease:
        ... lease.fencing_token ...

`LeaderElection(...).run(fn)` keeps `fn` running on exactly one replica: it cancels
`fn` (and waits for it) before its lease can expire, so a new leader never overlaps
the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

from atlas_runtime.errors import BackendUnavailable, LockTimeout
from atlas_runtime.retry import RetryPolicy
from atlas_runtime.state._errors import LockLost
from atlas_runtime.state._tasks import cancel_and_wait, raise_if_cancelling
from atlas_runtime.state.backend import StateBackend
from atlas_runtime.state.keys import GLOBAL_TAG, LockSpace
from atlas_runtime.state.specs import Scope, Seconds, to_ms
from atlas_runtime.tenant import current_tenant

log = logging.getLogger("atlas_runtime.state.locks")

ACQUIRE_BACKOFF = RetryPolicy(attempts=1_000_000, initial=0.002, max_delay=0.05)
"""Polling while a lock is held elsewhere: full jitter from 2 ms up to 50 ms."""


class Lease:
    """One acquisition of a lock: its key, private token and fencing token."""

    def __init__(self, backend: StateBackend, key: str, token: str, fencing_token: int, ttl_ms: int) -> None:
        self.backend = backend
        self.key = key
        self.token = token
        self.fencing_token = fencing_token
        self.ttl_ms = ttl_ms
        self.lost = False
        self.expires_at = time.monotonic() + ttl_ms / 1000  # local, conservative: taken before the reply

    async def extend(self) -> bool:
        """Reset the lease's ttl if still held; False (and `lost`) when another holder has it."""
        started = time.monotonic()
        held = await self.backend.extend_lock(self.key, self.token, self.ttl_ms)
        if held:
            self.expires_at = started + self.ttl_ms / 1000
        else:
            self.lost = True
        return held

    async def release(self) -> bool:
        """Delete the lease if still held by this acquisition; False otherwise."""
        released = await self.backend.release_lock(self.key, self.token)
        if not released:
            self.lost = True
        return released


async def acquire(backend: StateBackend, space: LockSpace, key: str, *, ttl_ms: int, wait: float) -> Lease:
    """Take the lease of `key`, waiting at most `wait` seconds; raise `LockTimeout` after."""
    lease_key = space.lease(key)
    deadline = time.monotonic() + wait
    attempt = 0
    while True:
        token = secrets.token_hex(16)
        started = time.monotonic()
        fence = await backend.acquire_lock(lease_key, space.fence, token, ttl_ms)
        raise_if_cancelling()
        if fence is not None:
            lease = Lease(backend, lease_key, token, fence, ttl_ms)
            lease.expires_at = started + ttl_ms / 1000
            return lease
        attempt += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockTimeout(f"lock {lease_key!r} is still held by another owner after waiting {wait:g}s")
        await asyncio.sleep(min(remaining, ACQUIRE_BACKOFF.backoff(attempt)))


class DistributedLock:
    """A named family of locks (one per key), e.g. `ctx.locks.party(party_id)`."""

    def __init__(
        self,
        *,
        backend: StateBackend,
        prefix: str,
        service: str,
        name: str,
        ttl: Seconds,
        wait: Seconds,
        scope: Scope = "tenant",
    ) -> None:
        self.backend = backend
        self.name = name
        self.scope = scope
        self.ttl_ms = to_ms(ttl)
        self.wait = to_ms(wait) / 1000
        self._prefix, self._service = prefix, service

    def space(self) -> LockSpace:
        tag = GLOBAL_TAG if self.scope == "global" else current_tenant().key
        return LockSpace.of(self._prefix, self._service, self.name, tag)

    def __call__(self, key: object) -> HeldLock:
        """An async context manager holding the lock on `key`, yielding its `Lease`."""
        return HeldLock(self, str(key))

    async def acquire(self, key: object) -> Lease:
        """Take the lock on `key` without automatic renewal; release it with `lease.release()`."""
        return await acquire(self.backend, self.space(), str(key), ttl_ms=self.ttl_ms, wait=self.wait)


class HeldLock:
    """`async with lock(key) as lease`: acquire, renew in the background, release on exit."""

    def __init__(self, lock: DistributedLock, key: str) -> None:
        self._lock = lock
        self._key = key
        self._lease: Lease | None = None
        self._renewer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lease:
        self._lease = await self._lock.acquire(self._key)
        self._renewer = asyncio.create_task(_keep_renewed(self._lease), name=f"renew {self._lease.key}")
        return self._lease

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._lease is not None and self._renewer is not None
        try:
            await cancel_and_wait(self._renewer)
        finally:
            released = await self._lease.release()  # also when the block is being cancelled
        if not released and error is None:
            raise LockLost(self._lease.key)


async def _keep_renewed(lease: Lease) -> None:
    """Extend every third of the ttl until cancelled or the lease is lost."""
    every = lease.ttl_ms / 3000
    while not lease.lost:
        await asyncio.sleep(every)
        raise_if_cancelling()
        try:
            if not await lease.extend():
                log.error("lock %s was lost while held (fencing token %d)", lease.key, lease.fencing_token)
                return
        except BackendUnavailable as error:
            log.warning("could not renew lock %s: %s", lease.key, error)
            if time.monotonic() >= lease.expires_at:
                lease.lost = True
                return


class LeaderElection:
    """Run work on exactly one replica at a time, under a renewed lease.

    Args:
        backend: the state backend holding the lease.
        space: the lock family of the election (global, not tenant-scoped).
        name: the election's name (one lease key per name).
        ttl: lease length; a dead leader is replaced within about this long.
        retry_every: how often a follower tries to take over (default ttl / 3).
    """

    def __init__(
        self,
        *,
        backend: StateBackend,
        space: LockSpace,
        name: str,
        ttl: Seconds = 15.0,
        retry_every: Seconds | None = None,
    ) -> None:
        self.backend = backend
        self.space = space
        self.name = name
        self.ttl_ms = to_ms(ttl)
        self.renew_every = self.ttl_ms / 3000
        self.retry_every = to_ms(retry_every) / 1000 if retry_every is not None else self.renew_every
        self.lease: Lease | None = None

    @property
    def is_leader(self) -> bool:
        return self.lease is not None and not self.lease.lost

    async def run(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Campaign forever; while leader, run `fn()`. Cancel the caller's task to stop."""
        while True:
            raise_if_cancelling()
            lease = await self._campaign()
            raise_if_cancelling()
            if lease is None:
                await asyncio.sleep(self.retry_every)
                continue
            await self._lead(lease, fn)
            raise_if_cancelling()
            await asyncio.sleep(self.retry_every)

    async def _campaign(self) -> Lease | None:
        try:
            return await acquire(self.backend, self.space, self.name, ttl_ms=self.ttl_ms, wait=0)
        except LockTimeout:
            return None
        except BackendUnavailable as error:
            log.warning("leader election %s cannot reach the backend: %s", self.name, error)
            return None

    async def _lead(self, lease: Lease, fn: Callable[[], Awaitable[None]]) -> None:
        self.lease = lease
        work: asyncio.Task[None] = asyncio.ensure_future(fn())
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=self.renew_every)
                raise_if_cancelling()
                if not work.done() and not await self._still_leader(lease):
                    log.error("leader election %s: lease lost, stopping the leader's work", self.name)
                    break
            if work.done() and not work.cancelled() and work.exception() is not None:
                log.error("leader work of %s failed", self.name, exc_info=work.exception())
        finally:
            await cancel_and_wait(work)
            self.lease = None
            with contextlib.suppress(BackendUnavailable):
                await lease.release()

    async def _still_leader(self, lease: Lease) -> bool:
        """Renew; on backend errors stay leader only while the lease surely has not expired."""
        try:
            return await lease.extend()
        except BackendUnavailable as error:
            log.warning("leader election %s could not renew: %s", self.name, error)
            # Stop one renewal period early: the work must end before another replica can win.
            return time.monotonic() + self.renew_every < lease.expires_at
