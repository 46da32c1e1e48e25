"""The Redis outbox: emits committed with a handler's effects, relayed to the broker.

Handlers' emits are appended to a Redis list in the same MULTI/EXEC as their effects
(see `RedisInbox`). `OutboxRelay` drains the list in order: it reads a batch, produces
every entry and waits for all delivery confirmations, then trims the batch off the list.
One relay per list is active at a time, elected by a Redis lease (SET NX PX + renewal by
token), so replicas do not publish the same entries. A crash between delivery and trim
re-sends that batch: emits are at-least-once, and each carries an `EVENT_ID` header that
consumers' inboxes use as the message id, so the duplicate has no effect downstream.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from atlas_runtime.messaging._records import OutboundMessage
from atlas_runtime.retry import KAFKA_PRODUCE

log = logging.getLogger("atlas_runtime.messaging.outbox")

Send = Callable[[OutboundMessage], Awaitable[None]]

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encode_entry(message: OutboundMessage) -> bytes:
    """One outbox list entry: JSON with base64 key, value and header values."""
    return json.dumps(
        {
            "t": message.topic,
            "k": None if message.key is None else _b64(message.key),
            "v": _b64(message.value),
            "h": [[name, _b64(value)] for name, value in message.headers],
        },
        separators=(",", ":"),
    ).encode()


def decode_entry(entry: bytes | str) -> OutboundMessage:
    """Inverse of `encode_entry`."""
    data = json.loads(entry)
    return OutboundMessage(
        topic=data["t"],
        key=None if data["k"] is None else base64.b64decode(data["k"]),
        value=base64.b64decode(data["v"]),
        headers=[(name, base64.b64decode(value)) for name, value in data["h"]],
    )


class OutboxRelay:
    """Moves entries of one Redis outbox list to the broker, in order.

    Args:
        redis: an asyncio client.
        key: the outbox list.
        send: produces one message and returns once the broker confirmed it.
        batch: entries per round.
        lease: seconds the relay lease lasts without renewal.
        idle: seconds between polls of an empty list (a local commit wakes it sooner).
    """

    def __init__(
        self,
        redis: Redis | None,
        key: str,
        send: Send,
        *,
        batch: int = 500,
        lease: float = 10.0,
        idle: float = 0.2,
    ) -> None:
        self._redis: Any = redis
        self._key = key
        self._send = send
        self._batch = batch
        self._lease_ms = int(lease * 1000)
        self._idle = idle
        self._token = secrets.token_hex(8)
        self._wake = asyncio.Event()
        self._renew = redis.register_script(_RENEW) if redis is not None else None
        self.relayed = 0
        self._stopping = False

    def wake(self) -> None:
        """Look at the list now (called after a local commit appended to it)."""
        self._wake.set()

    async def _hold_lease(self) -> bool:
        lease_key = f"{self._key}:relay"
        assert self._renew is not None
        if await self._renew(keys=[lease_key], args=[self._token, self._lease_ms]):
            return True
        return bool(await self._redis.set(lease_key, self._token, nx=True, px=self._lease_ms))

    async def relay_once(self) -> int:
        """Relay one batch if this relay holds the lease; returns how many entries were sent."""
        if not await self._hold_lease():
            return 0
        entries = await self._redis.lrange(self._key, 0, self._batch - 1)
        if not entries:
            return 0
        await asyncio.gather(*(self._send(decode_entry(entry)) for entry in entries))
        await self._redis.ltrim(self._key, len(entries), -1)
        self.relayed += len(entries)
        return len(entries)

    def stop(self) -> None:
        """Make `run` return after the current round."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Relay until `stop()` (or cancellation); errors are logged and retried with backoff."""
        failures = 0
        self._stopping = False
        while not self._stopping:
            try:
                sent = await self.relay_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                delay = KAFKA_PRODUCE.backoff(min(failures, 8))
                log.exception("outbox relay of %s failed; retrying in %.2fs", self._key, delay)
                await asyncio.sleep(delay)
                continue
            if sent == 0:
                await self._idle_wait()

    async def _idle_wait(self) -> None:
        # A timer rather than asyncio.wait_for: on Python 3.11 wait_for can swallow a
        # cancellation that races its timeout (python/cpython#86296), which hung shutdown.
        timer = asyncio.get_running_loop().call_later(self._idle, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()
            self._wake.clear()
