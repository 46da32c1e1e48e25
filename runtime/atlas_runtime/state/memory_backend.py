"""The in-process state backend: plain dicts, expiry on the monotonic clock.

It is the embedded default when `REDIS_URL` is unset and serves a single process only.
Every operation runs without awaiting in between, so on one event loop each is atomic,
exactly like a Lua script on Redis. Watches for units of work are per-key version
counters bumped on every write.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from atlas_runtime.errors import UniqueIndexConflict
from atlas_runtime.state._errors import StateConflict
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

_INT64_MAX = 2**63 - 1
_MAX_OPEN_SCANS = 1000  # abandoned iterations drop their snapshot, oldest first


def _now_ms() -> float:
    return time.monotonic() * 1000.0


class _Keyspace:
    """A few Redis data types over dicts, with versions for WATCH and lazy expiry of strings."""

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}
        self.deadlines: dict[str, float] = {}
        self.sets: dict[str, set[str]] = {}
        self.zsets: dict[str, dict[str, float]] = {}
        self.lists: dict[str, list[str]] = {}
        self.versions: dict[str, int] = {}
        self._clock = itertools.count(1)

    def touch(self, key: str) -> None:
        self.versions[key] = next(self._clock)

    def version(self, key: str) -> int:
        self.get(key)  # an expiry counts as a change, as on Redis
        return self.versions.get(key, 0)

    def get(self, key: str) -> str | None:
        deadline = self.deadlines.get(key)
        if deadline is not None and deadline <= _now_ms():
            self.delete(key)
        return self.strings.get(key)

    def put(self, key: str, value: str, *, ttl_ms: int | None = None, keep_ttl: bool = False) -> None:
        self.strings[key] = value
        if ttl_ms is not None:
            self.deadlines[key] = _now_ms() + ttl_ms
        elif not keep_ttl:
            self.deadlines.pop(key, None)
        self.touch(key)

    def delete(self, key: str) -> bool:
        found = False
        for store in (self.strings, self.sets, self.zsets, self.lists):
            if key in store:
                del store[key]
                found = True
        self.deadlines.pop(key, None)
        if found:
            self.touch(key)
        return found

    def sadd(self, key: str, member: str) -> None:
        self.sets.setdefault(key, set()).add(member)
        self.touch(key)

    def srem(self, key: str, member: str) -> None:
        members = self.sets.get(key)
        if members is not None and member in members:
            members.discard(member)
            if not members:
                del self.sets[key]
            self.touch(key)

    def smembers(self, key: str) -> set[str]:
        return set(self.sets.get(key, ()))

    def zadd(self, key: str, member: str, score: float) -> None:
        self.zsets.setdefault(key, {})[member] = score
        self.touch(key)

    def zrem(self, key: str, member: str) -> None:
        scores = self.zsets.get(key)
        if scores is not None and scores.pop(member, None) is not None:
            if not scores:
                del self.zsets[key]
            self.touch(key)

    def due(self, key: str, now: float, limit: int) -> list[str]:
        scores = self.zsets.get(key, {})
        return [m for m, _ in sorted(scores.items(), key=lambda item: item[1]) if scores[m] <= now][:limit]

    def rpush(self, key: str, values: Sequence[str]) -> None:
        self.lists.setdefault(key, []).extend(values)
        self.touch(key)


class MemoryBackend(StateBackend):
    """`StateBackend` in this process's memory (single process only)."""

    name = "in-process state"

    def __init__(self) -> None:
        self.address = "in-process"
        self.data = _Keyspace()
        self._scans: dict[int, list[str]] = {}
        self._scan_ids = itertools.count(1)

    async def get(self, key: str) -> str | None:
        return self.data.get(key)

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return [self.data.get(key) for key in keys]

    async def exists(self, key: str) -> bool:
        return self.data.get(key) is not None

    async def put(self, op: PutOp) -> WriteResult:
        return self._put(op)

    def _put(self, op: PutOp) -> WriteResult:
        data, space, member = self.data, op.space, op.member
        key = space.entity(member)
        if op.expected is not None:
            current = data.get(key)
            if current is None:
                return WriteResult(WriteStatus.ABSENT)
            if current != op.expected:
                return WriteResult(WriteStatus.MISMATCH, current)
        self._check_unique(op)
        if op.indexed:
            wanted = {entry.key for entry in op.indexes}
            for index_key in data.smembers(space.refs(member)) - wanted:
                data.srem(index_key, member)
            data.delete(space.refs(member))
            for index_key in wanted:
                data.sadd(index_key, member)
                data.sadd(space.refs(member), index_key)
        mode, ttl = op.expiry.mode, op.expiry.ttl_ms
        data.put(
            key, op.value, ttl_ms=ttl if mode is ExpiryMode.NATIVE else None, keep_ttl=mode is ExpiryMode.KEEP
        )
        data.sadd(space.members, member)
        if mode is ExpiryMode.NONE:
            data.zrem(space.expiry, member)
        elif mode is not ExpiryMode.KEEP:
            data.zadd(space.expiry, member, _now_ms() + ttl)
        return WRITTEN

    def _check_unique(self, op: PutOp) -> None:
        for entry in op.indexes:
            if not entry.unique:
                continue
            for owner in self.data.smembers(entry.key):
                if owner == op.member:
                    continue
                if self.data.get(op.space.entity(owner)) is not None:
                    raise UniqueIndexConflict(entry.name, entry.value, owner)
                self.data.srem(entry.key, owner)

    async def apply_many(self, ops: Sequence[StateOp]) -> None:
        for op in ops:
            self._apply(op)

    def _apply(self, op: StateOp) -> None:
        if isinstance(op, RemoveOp):
            self._remove(op)
        else:
            self._put(op)

    async def remove(self, op: RemoveOp) -> bool:
        return self._remove(op)

    def _remove(self, op: RemoveOp) -> bool:
        existed = self.data.get(op.space.entity(op.member)) is not None
        self.data.delete(op.space.entity(op.member))
        self._forget(op.space, op.member)
        return existed

    def _forget(self, space: Space, member: str) -> None:
        data = self.data
        data.srem(space.members, member)
        data.zrem(space.expiry, member)
        for index_key in data.smembers(space.refs(member)):
            data.srem(index_key, member)
        data.delete(space.refs(member))

    async def scan_members(self, space: Space, cursor: int, count: int) -> tuple[int, list[str]]:
        return self._scan(space.members, cursor, count)

    def _scan(self, key: str, cursor: int, count: int) -> tuple[int, list[str]]:
        """Page through a snapshot taken at cursor 0, so removals mid-scan never skip a member."""
        if cursor == 0:
            cursor = next(self._scan_ids)
            self._scans[cursor] = sorted(self.data.smembers(key))
            while len(self._scans) > _MAX_OPEN_SCANS:
                del self._scans[next(iter(self._scans))]
        remaining = self._scans.pop(cursor, [])
        page, rest = remaining[:count], remaining[count:]
        if not rest:
            return 0, page
        self._scans[cursor] = rest
        return cursor, page

    async def count(self, space: Space) -> int:
        for member in self.data.due(space.expiry, _now_ms(), 1000):
            if self.data.get(space.entity(member)) is None:
                self._forget(space, member)
        return len(self.data.smembers(space.members))

    async def clear(self, space: Space) -> int:
        removed = sum(self._remove(RemoveOp(space, m)) for m in self.data.smembers(space.members))
        self.data.delete(space.members)
        self.data.delete(space.expiry)
        return removed

    async def pop_expired(self, space: Space, limit: int) -> list[tuple[str, str]]:
        claimed: list[tuple[str, str]] = []
        for member in self.data.due(space.expiry, _now_ms(), limit):
            value = self.data.get(space.entity(member))
            if value is not None:
                claimed.append((member, value))
                self.data.delete(space.entity(member))
            self._forget(space, member)
        return claimed

    async def lookup(self, space: Space, index_key: str) -> list[str]:
        found: list[str] = []
        for member in self.data.smembers(index_key):
            if self.data.get(space.entity(member)) is not None:
                found.append(member)
            else:
                self.data.srem(index_key, member)
        return found

    async def next_id(self, key: str, start: int) -> int:
        current = self.data.get(key)
        value = (start - 1 if current is None else int(current)) + 1
        if value > _INT64_MAX:
            raise OverflowError(f"counter {key!r} would pass the 64-bit range")
        self.data.put(key, str(value), keep_ttl=True)
        return value

    async def incr_field(
        self, key: str, field: str, delta: int, minimum: int | None, maximum: int | None
    ) -> int | None:
        from atlas_runtime.state._fields import add_to_int_field

        current = self.data.get(key)
        if current is None:
            return None
        text, value = add_to_int_field(current, field, delta, minimum, maximum)
        self.data.put(key, text, keep_ttl=True)
        return value

    async def add_to_set(self, key: str, member: str) -> None:
        self.data.sadd(key, member)

    async def scan_set(self, key: str, cursor: int, count: int) -> tuple[int, list[str]]:
        return self._scan(key, cursor, count)

    async def set_value(self, key: str, value: str, ttl_ms: int | None = None) -> None:
        self.data.put(key, value, ttl_ms=ttl_ms)

    async def delete(self, key: str) -> bool:
        return self.data.delete(key)

    async def pop_list(self, key: str, count: int) -> list[str]:
        values = self.data.lists.get(key, [])
        popped, rest = values[:count], values[count:]
        if rest:
            self.data.lists[key] = rest
        else:
            self.data.lists.pop(key, None)
        if popped:
            self.data.touch(key)
        return popped

    async def acquire_lock(self, key: str, fence_key: str, token: str, ttl_ms: int) -> int | None:
        if self.data.get(key) is not None:
            return None
        self.data.put(key, token, ttl_ms=ttl_ms)
        return await self.next_id(fence_key, 1)

    async def release_lock(self, key: str, token: str) -> bool:
        if self.data.get(key) != token:
            return False
        return self.data.delete(key)

    async def extend_lock(self, key: str, token: str, ttl_ms: int) -> bool:
        if self.data.get(key) != token:
            return False
        self.data.put(key, token, ttl_ms=ttl_ms)
        return True

    def begin(self) -> Transaction:
        return MemoryTransaction(self)

    async def aclose(self) -> None:
        return None


class MemoryTransaction(Transaction):
    """Reads record each key's version; commit checks them, then applies everything at once."""

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self._watched: dict[str, int] = {}

    def _watch(self, key: str) -> None:
        self._watched.setdefault(key, self._backend.data.version(key))

    async def read(self, key: str) -> str | None:
        self._watch(key)
        return self._backend.data.get(key)

    async def read_set(self, key: str) -> set[str]:
        self._watch(key)
        return self._backend.data.smembers(key)

    async def commit(self, ops: Sequence[StateOp], extras: Sequence[ExtraCommand]) -> None:
        data = self._backend.data
        changed = [key for key, version in self._watched.items() if data.version(key) != version]
        if changed:
            raise StateConflict(f"{changed[0]!r} changed")
        for op in ops:
            self._backend._apply(op)
        for extra in extras:
            if isinstance(extra, PushValues):
                data.rpush(extra.key, extra.values)
            elif isinstance(extra, SetValues):
                for key in extra.keys:
                    data.put(key, extra.value, ttl_ms=extra.ttl_ms)
            else:
                data.put(extra.key, extra.value, ttl_ms=extra.ttl_ms)

    async def aclose(self) -> None:
        self._watched.clear()
