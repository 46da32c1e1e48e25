"""The Redis state backend: Lua scripts on one pooled `redis.asyncio` client.

Connection failures and timeouts are translated at this boundary into
`BackendUnavailable` naming the address; the pool reconnects on the next call, so a
process survives a Redis restart without being restarted itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis.exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript

from atlas_runtime.errors import BackendUnavailable, UniqueIndexConflict
from atlas_runtime.state import _lua
from atlas_runtime.state.backend import (
    WRITTEN,
    ExpiryMode,
    ExtraCommand,
    PushValues,
    PutOp,
    RemoveOp,
    SetValues,
    StateBackend,
    StateOp,
    Transaction,
    WriteResult,
    WriteStatus,
)
from atlas_runtime.state.keys import Space

_TRANSIENT = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)
_PURGE_BATCH = 1000


def normalise_redis_url(url: str) -> str:
    """Accept a `redis://` / `rediss://` URL or, like the existing ecosystem, a bare `host:port`."""
    url = url.strip()
    if "://" not in url:
        url = f"redis://{url}"
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(
            f"REDIS_URL {url!r} has scheme {scheme!r}; expected redis://, rediss:// or host:port"
        )
    return url


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def create_redis_client(url: str, *, password: str | None = None, max_connections: int = 64) -> Redis:
    """One pooled async client: hiredis parser, explicit timeouts, a short reconnect retry."""
    url = normalise_redis_url(url)
    pool = BlockingConnectionPool.from_url(
        url,
        password=password or None,
        max_connections=max_connections,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=15,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
    )
    return Redis(connection_pool=pool)


class RedisBackend(StateBackend):
    """`StateBackend` on Redis 7+ (one pooled client shared by the process)."""

    name = "Redis"

    def __init__(self, client: Redis, *, address: str | None = None) -> None:
        self.client = client
        kwargs = client.connection_pool.connection_kwargs
        self.address = address or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        self._put = client.register_script(_lua.PUT)
        self._put_plain = client.register_script(_lua.PUT_PLAIN)
        self._remove = client.register_script(_lua.REMOVE)
        self._pop_expired = client.register_script(_lua.POP_EXPIRED)
        self._count = client.register_script(_lua.COUNT)
        self._lookup = client.register_script(_lua.LOOKUP)
        self._acquire = client.register_script(_lua.LOCK_ACQUIRE)
        self._release = client.register_script(_lua.LOCK_RELEASE)
        self._extend = client.register_script(_lua.LOCK_EXTEND)
        self._incr_field = client.register_script(_lua.INCR_FIELD)
        self._raise_counter = client.register_script(_lua.RAISE_COUNTER)
        self._set_many = client.register_script(_lua.SET_MANY)

    @classmethod
    def from_url(cls, url: str, *, password: str | None = None) -> RedisBackend:
        return cls(create_redis_client(url, password=password), address=redacted(normalise_redis_url(url)))

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        try:
            yield
        except _TRANSIENT as error:
            raise BackendUnavailable("Redis", self.address, error) from error

    async def get(self, key: str) -> str | None:
        try:  # inline rather than `_guard()`: this is the hottest path
            return cast("str | None", await self.client.get(key))
        except _TRANSIENT as error:
            raise BackendUnavailable("Redis", self.address, error) from error

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        async with self._guard():
            return cast("list[str | None]", await self.client.mget(keys))

    async def exists(self, key: str) -> bool:
        async with self._guard():
            return bool(await self.client.exists(key))

    async def put(self, op: PutOp) -> WriteResult:
        try:
            if op.expected is None and not op.indexed and op.expiry.mode is ExpiryMode.NONE:
                space = op.space
                keys = [space.entity(op.member), space.members, space.expiry]
                reply = await self._put_plain(keys=keys, args=[op.member, op.value])
            else:
                reply = await self._put(keys=_put_keys(op), args=_put_args(op))
        except _TRANSIENT as error:
            raise BackendUnavailable("Redis", self.address, error) from error
        return _write_status(op, reply)

    async def apply_many(self, ops: Sequence[StateOp]) -> None:
        if not ops:
            return
        async with self._guard(), self.client.pipeline(transaction=False) as pipe:
            for op in ops:
                _queue(self, pipe, op)
            await pipe.execute()

    async def remove(self, op: RemoveOp) -> bool:
        async with self._guard():
            return bool(await self._remove(keys=_remove_keys(op), args=[op.member]))

    async def scan_members(self, space: Space, cursor: int, count: int) -> tuple[int, list[str]]:
        async with self._guard():
            next_cursor, members = await self.client.sscan(space.members, cursor, count=count)
            return int(next_cursor), cast("list[str]", members)

    async def count(self, space: Space) -> int:
        async with self._guard():
            return int(await self._count(keys=[space.expiry, space.members], args=_sweep_args(space)))

    async def clear(self, space: Space) -> int:
        removed = 0
        cursor = 0
        while True:
            cursor, members = await self.scan_members(space, cursor, 200)
            async with self._guard(), self.client.pipeline(transaction=False) as pipe:
                for member in members:
                    _queue(self, pipe, RemoveOp(space, member))
                removed += sum(int(reply) for reply in await pipe.execute())
            if cursor == 0:
                break
        async with self._guard():
            await self.client.delete(space.members, space.expiry)
        return removed

    async def pop_expired(self, space: Space, limit: int) -> list[tuple[str, str]]:
        async with self._guard():
            flat = await self._pop_expired(
                keys=[space.expiry, space.members], args=[limit, space.entity_prefix, space.ref_prefix]
            )
        return list(zip(flat[0::2], flat[1::2], strict=True))

    async def lookup(self, space: Space, index_key: str) -> list[str]:
        async with self._guard():
            return list(await self._lookup(keys=[index_key], args=[space.entity_prefix]))

    async def next_id(self, key: str, start: int) -> int:
        # A bare INCR in the steady state (as cheap as raw Redis). A counter that does not
        # exist yet comes back below `start`: raise it to start - 1 (never lower it) and
        # INCR again; the low values are discarded, so no id is handed out twice. Not one
        # script, because Lua numbers are doubles and would round ids above 2**53.
        while True:
            async with self._guard():
                try:
                    value = int(await self.client.incr(key))
                except redis_errors.ResponseError as error:
                    if "overflow" in str(error):
                        raise OverflowError(f"counter {key!r} would pass the 64-bit range") from None
                    raise
                if value >= start:
                    return value
                await self._raise_counter(keys=[key], args=[start - 1])

    async def incr_field(
        self, key: str, field: str, delta: int, minimum: int | None, maximum: int | None
    ) -> int | None:
        args: list[str | int] = [
            field,
            delta,
            "" if minimum is None else minimum,
            "" if maximum is None else maximum,
        ]
        async with self._guard():
            try:
                reply = await self._incr_field(keys=[key], args=args)
            except redis_errors.ResponseError as error:
                raise ValueError(f"cannot add to field {field!r} of {key!r}: {error}") from None
        return None if reply is None else int(reply)

    async def add_to_set(self, key: str, member: str) -> None:
        async with self._guard():
            await self.client.sadd(key, member)

    async def scan_set(self, key: str, cursor: int, count: int) -> tuple[int, list[str]]:
        async with self._guard():
            next_cursor, members = await self.client.sscan(key, cursor, count=count)
            return int(next_cursor), cast("list[str]", members)

    async def set_value(self, key: str, value: str, ttl_ms: int | None = None) -> None:
        async with self._guard():
            await self.client.set(key, value, px=ttl_ms)

    async def delete(self, key: str) -> bool:
        async with self._guard():
            return bool(await self.client.delete(key))

    async def pop_list(self, key: str, count: int) -> list[str]:
        async with self._guard():
            values = await self.client.lpop(key, count)
        return cast("list[str]", values or [])

    async def acquire_lock(self, key: str, fence_key: str, token: str, ttl_ms: int) -> int | None:
        async with self._guard():
            fence = await self._acquire(keys=[key, fence_key], args=[token, ttl_ms])
        return None if fence is None else int(fence)

    async def release_lock(self, key: str, token: str) -> bool:
        async with self._guard():
            return bool(await self._release(keys=[key], args=[token]))

    async def extend_lock(self, key: str, token: str, ttl_ms: int) -> bool:
        async with self._guard():
            return bool(await self._extend(keys=[key], args=[token, ttl_ms]))

    def begin(self) -> Transaction:
        return RedisTransaction(self)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.client.connection_pool.disconnect()


class RedisTransaction(Transaction):
    """WATCHed reads on one pooled connection, then MULTI / staged scripts / extras / EXEC."""

    def __init__(self, backend: RedisBackend) -> None:
        self._backend = backend
        self._pipe: Pipeline = backend.client.pipeline(transaction=True)

    async def read(self, key: str) -> str | None:
        async with self._backend._guard():
            await self._pipe.watch(key)
            return cast("str | None", await self._pipe.get(key))

    async def read_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        async with self._backend._guard():  # two round trips however many keys
            await self._pipe.watch(*keys)
            return cast("list[str | None]", await self._pipe.mget(list(keys)))

    async def read_set(self, key: str) -> set[str]:
        async with self._backend._guard():
            await self._pipe.watch(key)
            return cast("set[str]", await self._pipe.smembers(key))

    async def commit(self, ops: Sequence[StateOp], extras: Sequence[ExtraCommand]) -> None:
        from atlas_runtime.state._errors import StateConflict

        pipe = self._pipe
        pipe.multi()  # type: ignore[no-untyped-call]
        for op in ops:
            _queue(self._backend, pipe, op)
        for extra in extras:
            if isinstance(extra, PushValues):
                pipe.rpush(extra.key, *extra.values)
            elif isinstance(extra, SetValues):
                ttl = "" if extra.ttl_ms is None else extra.ttl_ms
                _queue_script(pipe, self._backend._set_many, extra.keys, [extra.value, ttl])
            else:
                pipe.set(extra.key, extra.value, px=extra.ttl_ms)
        try:
            async with self._backend._guard():
                await pipe.execute()
        except redis_errors.WatchError:
            raise StateConflict() from None

    async def aclose(self) -> None:
        await self._pipe.reset()  # type: ignore[no-untyped-call]


def _queue(backend: RedisBackend, pipe: Pipeline, op: StateOp) -> None:
    if isinstance(op, RemoveOp):
        _queue_script(pipe, backend._remove, _remove_keys(op), [op.member])
    else:
        _queue_script(pipe, backend._put, _put_keys(op), _put_args(op))


def _queue_script(
    pipe: Pipeline, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]
) -> None:
    """Queue `script` in a transaction as EVAL with its source.

    A pipeline given a `Script` checks with SCRIPT EXISTS before every execute: a round trip
    per commit. EVAL needs no check (the server caches the compiled script by its digest),
    and unlike EVALSHA it cannot fail inside EXEC after the other commands have applied.
    """
    pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)


def _put_keys(op: PutOp) -> list[str]:
    space = op.space
    return [space.entity(op.member), space.members, space.expiry, space.refs(op.member)] + [
        entry.key for entry in op.indexes
    ]


def _put_args(op: PutOp) -> list[str | int]:
    cas = op.expected is not None
    return [
        op.member,
        op.value,
        op.expiry.mode.value,
        op.expiry.ttl_ms,
        "1" if cas else "0",
        op.expected or "",
        op.space.entity_prefix,
        "1" if op.indexed else "0",
    ] + ["1" if entry.unique else "0" for entry in op.indexes]


def _remove_keys(op: RemoveOp) -> list[str]:
    space = op.space
    return [space.entity(op.member), space.members, space.expiry, space.refs(op.member)]


def _sweep_args(space: Space) -> list[str | int]:
    return [_PURGE_BATCH, space.entity_prefix, space.ref_prefix]


def _write_status(op: PutOp, reply: list[Any]) -> WriteResult:
    code = int(reply[0])
    if code == 2:
        entry = next(entry for entry in op.indexes if entry.key == reply[1])
        raise UniqueIndexConflict(entry.name, entry.value, str(reply[2]))
    if code == 1:
        return WRITTEN
    if code == 0:
        return WriteResult(WriteStatus.MISMATCH, str(reply[1]))
    return WriteResult(WriteStatus.ABSENT)
