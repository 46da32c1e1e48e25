"""The one small interface every state backend implements, and the operations it takes.

A backend stores strings under the keys of `atlas_runtime.state.keys` and offers a few
primitive operations, each atomic on its own: a put that maintains membership, expiry
and indexes in one step (optionally compare-and-set), a remove that undoes all of it,
an atomic claim of expired entries, counters, locks, and a transaction for units of
work. Registries, locks and caches are written once on top of it; `RedisBackend` and
`MemoryBackend` implement it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from atlas_runtime.state.keys import Space


class ExpiryMode(Enum):
    """What a put does to the entry's expiry."""

    KEEP = "keep"  # leave the current expiry as it is (update)
    NONE = "none"  # no expiry: clear any previous one (plain put)
    NATIVE = "native"  # the store drops the entry after ttl_ms (registry put with ttl)
    TRACKED = "tracked"  # kept until claimed by pop_expired after ttl_ms (ttl registry)


@dataclass(frozen=True, slots=True)
class Expiry:
    mode: ExpiryMode
    ttl_ms: int = 0


KEEP_EXPIRY = Expiry(ExpiryMode.KEEP)
NO_EXPIRY = Expiry(ExpiryMode.NONE)


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One reverse-lookup SET the entry belongs to after the write."""

    name: str
    value: str
    key: str
    unique: bool


@dataclass(frozen=True, slots=True)
class PutOp:
    """Write `value` under `member`, with its membership, expiry and index entries.

    `indexed` says whether the registry has indexes at all (so the backend can skip the
    reverse-reference bookkeeping). With `expected` set the write is a compare-and-set:
    it only happens if the stored value is exactly `expected`.
    """

    space: Space
    member: str
    value: str
    expiry: Expiry = NO_EXPIRY
    indexes: tuple[IndexEntry, ...] = ()
    indexed: bool = False
    expected: str | None = None


@dataclass(frozen=True, slots=True)
class RemoveOp:
    """Remove `member` with its membership, expiry and index entries."""

    space: Space
    member: str


StateOp = PutOp | RemoveOp


@dataclass(frozen=True, slots=True)
class SetValue:
    """An extra command of a unit of work: SET key value [PX ttl_ms]."""

    key: str
    value: str
    ttl_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SetValues:
    """An extra command of a unit of work: SET key value [PX ttl_ms] for every key, as one command.

    Markers of a batch of messages cost one script call instead of one SET each.
    """

    keys: tuple[str, ...]
    value: str
    ttl_ms: int | None = None


@dataclass(frozen=True, slots=True)
class PushValues:
    """An extra command of a unit of work: RPUSH key value..."""

    key: str
    values: tuple[str, ...]


ExtraCommand = SetValue | SetValues | PushValues


class WriteStatus(Enum):
    """Outcome of a put: written, or (compare-and-set only) refused."""

    OK = "ok"
    MISMATCH = "mismatch"  # the stored value is not the expected one
    ABSENT = "absent"  # there is no stored value to compare with


@dataclass(frozen=True, slots=True)
class WriteResult:
    """A put's status; on MISMATCH `current` is the stored value, so a retry needs no extra read."""

    status: WriteStatus
    current: str | None = None


WRITTEN = WriteResult(WriteStatus.OK)


class Transaction(ABC):
    """A unit of work's view of the backend: watched reads, then one atomic commit."""

    @abstractmethod
    async def read(self, key: str) -> str | None:
        """GET `key` and watch it: a change before commit makes commit fail."""

    async def read_many(self, keys: Sequence[str]) -> list[str | None]:
        """GET every key and watch them all (one key at a time unless a backend does better)."""
        return [await self.read(key) for key in keys]

    @abstractmethod
    async def read_set(self, key: str) -> set[str]:
        """SMEMBERS `key` and watch it."""

    @abstractmethod
    async def commit(self, ops: Sequence[StateOp], extras: Sequence[ExtraCommand]) -> None:
        """Apply `ops` then `extras` atomically; raise `StateConflict` if a watched key changed."""

    @abstractmethod
    async def aclose(self) -> None:
        """Give the transaction's resources back (safe to call twice)."""


class StateBackend(ABC):
    """Primitive atomic operations over string values; see the module docstring."""

    name: str = "state"
    address: str = "in-process"

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[str | None]: ...

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def put(self, op: PutOp) -> WriteResult:
        """Apply `op` atomically; raise `UniqueIndexConflict` when a unique index has another owner."""

    @abstractmethod
    async def apply_many(self, ops: Sequence[StateOp]) -> None:
        """Apply many unindexed puts and removes in one round trip (each one atomic)."""

    @abstractmethod
    async def remove(self, op: RemoveOp) -> bool:
        """Remove atomically; True only for the caller whose call removed an existing value."""

    @abstractmethod
    async def scan_members(self, space: Space, cursor: int, count: int) -> tuple[int, list[str]]:
        """One page of the space's member set; cursor 0 starts and ends a full pass."""

    @abstractmethod
    async def count(self, space: Space) -> int:
        """Number of live entries (members whose ttl ran out are purged first)."""

    @abstractmethod
    async def clear(self, space: Space) -> int:
        """Remove every entry of the space with its internal keys but the id counter."""

    @abstractmethod
    async def pop_expired(self, space: Space, limit: int) -> list[tuple[str, str]]:
        """Claim up to `limit` entries whose deadline passed: (member, value), each to one caller."""

    @abstractmethod
    async def lookup(self, space: Space, index_key: str) -> list[str]:
        """Members of an index SET whose entries still exist."""

    @abstractmethod
    async def next_id(self, key: str, start: int) -> int:
        """INCR a counter that starts at `start`."""

    @abstractmethod
    async def incr_field(
        self, key: str, field: str, delta: int, minimum: int | None, maximum: int | None
    ) -> int | None:
        """Add `delta` to a top-level integer field of a JSON value, clamped; None when absent."""

    @abstractmethod
    async def add_to_set(self, key: str, member: str) -> None: ...

    @abstractmethod
    async def scan_set(self, key: str, cursor: int, count: int) -> tuple[int, list[str]]: ...

    @abstractmethod
    async def set_value(self, key: str, value: str, ttl_ms: int | None = None) -> None: ...

    @abstractmethod
    async def delete(self, key: str) -> bool: ...

    @abstractmethod
    async def pop_list(self, key: str, count: int) -> list[str]:
        """LPOP up to `count` values of a list written by `PushValues`."""

    @abstractmethod
    async def acquire_lock(self, key: str, fence_key: str, token: str, ttl_ms: int) -> int | None:
        """Take the lease if free; return the next fencing token, or None when held."""

    @abstractmethod
    async def release_lock(self, key: str, token: str) -> bool:
        """Delete the lease only if `token` holds it."""

    @abstractmethod
    async def extend_lock(self, key: str, token: str, ttl_ms: int) -> bool:
        """Reset the lease's ttl only if `token` holds it."""

    @abstractmethod
    def begin(self) -> Transaction:
        """Start a transaction for a unit of work."""

    @abstractmethod
    async def aclose(self) -> None: ...
