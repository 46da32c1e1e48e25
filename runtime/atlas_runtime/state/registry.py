"""Typed registries over a `StateBackend`: the strict registry and the TTL registry.

A registry is cheap to construct; it resolves the current tenant on every call (and
fails closed with `NoTenantError` without one), so one instance serves all tenants.
Inside an active `UnitOfWork` reads go through the unit's watched transaction and
writes are staged until it commits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from atlas_runtime.retry import RetryPolicy
from atlas_runtime.state._errors import IdRangeExhausted, StateConflict, StateDecodeError
from atlas_runtime.state.backend import (
    KEEP_EXPIRY,
    NO_EXPIRY,
    Expiry,
    ExpiryMode,
    IndexEntry,
    PutOp,
    RemoveOp,
    StateBackend,
    WriteStatus,
)
from atlas_runtime.state.codec import KeyCodec, ValueCodec, index_values
from atlas_runtime.state.keys import GLOBAL_TAG, Space, format_index_value
from atlas_runtime.state.specs import IdSpec, IndexSpec, Scope, Seconds, to_ms
from atlas_runtime.state.unit_of_work import UnitOfWork, active_unit_of_work
from atlas_runtime.tenant import Tenant, as_tenant, current_tenant

K = TypeVar("K")
M = TypeVar("M", bound=BaseModel)

log = logging.getLogger("atlas_runtime.state")

UPDATE_RETRY = RetryPolicy(attempts=100, initial=0.0005, max_delay=0.01)
"""Compare-and-set retries of `update`: bounded, with full-jitter backoff."""

Updater = Callable[[M], "M | Mapping[str, Any] | Awaitable[M | Mapping[str, Any] | None] | None"]

_SCAN_PAGE = 200


class TenantTracker:
    """Remembers, in the backend, which tenants hold state in a service (one SADD per tenant)."""

    def __init__(self, backend: StateBackend, key: str) -> None:
        self.backend = backend
        self.key = key
        self._noted: set[Tenant] = set()

    async def note(self, tenant: Tenant | None) -> None:
        if tenant is not None and tenant not in self._noted:
            await self.backend.add_to_set(self.key, tenant.key)
            self._noted.add(tenant)

    async def tenants(self) -> AsyncIterator[Tenant]:
        """Every tenant noted so far by any replica (paged, order arbitrary)."""
        cursor = 0
        while True:
            cursor, keys = await self.backend.scan_set(self.key, cursor, 200)
            for key in keys:
                yield Tenant.from_key(key)
            if cursor == 0:
                return


class Registry(Generic[K, M]):
    """Typed CRUD of one registry, scoped to the current tenant (or global).

    Args:
        backend: where the entries live.
        prefix: the key prefix (`atlas` or `<env>:atlas`).
        service: the owning service's name (a key segment).
        name: the registry's name (a key segment).
        value_type: the pydantic model of the values.
        key_type: the type of the keys (`int`, `str`, `uuid.UUID`, ...).
        indexes: reverse lookups maintained with every write.
        ids: the id counter's start and maximum, when the registry hands out ids.
        scope: `"tenant"` (the default) or `"global"`.
        tenants: records which tenants wrote state (for per-tenant tasks).
    """

    expiry_mode = ExpiryMode.NATIVE

    def __init__(
        self,
        *,
        backend: StateBackend,
        prefix: str,
        service: str,
        name: str,
        value_type: type[M],
        key_type: type[K],
        indexes: Sequence[IndexSpec] = (),
        ids: IdSpec | None = None,
        scope: Scope = "tenant",
        tenants: TenantTracker | None = None,
    ) -> None:
        self.backend = backend
        self.name = name
        self.scope = scope
        self.ids = ids
        self.indexes = {index.name: index for index in indexes}
        self._prefix, self._service = prefix, service
        self._values = ValueCodec(value_type)
        self._keys = KeyCodec(key_type)
        self._tenants = tenants
        self._spaces: dict[Tenant | None, Space] = {}

    @property
    def value_type(self) -> type[M]:
        """The pydantic model of the values."""
        return self._values.value_type

    # -- keys -------------------------------------------------------------------

    def space(self) -> Space:
        """The keys of this registry for the current tenant."""
        tenant = None if self.scope == "global" else current_tenant()
        space = self._spaces.get(tenant)
        if space is None:
            tag = GLOBAL_TAG if tenant is None else tenant.key
            space = self._spaces[tenant] = Space.of(self._prefix, self._service, self.name, tag)
        return space

    def _index_entries(self, space: Space, value: M) -> tuple[IndexEntry, ...]:
        if not self.indexes:
            return ()
        document = value.model_dump(mode="json")
        return tuple(
            IndexEntry(index.name, text, space.index(index.name, text), index.unique)
            for index in self.indexes.values()
            for text in sorted(index_values(document, index.field))
        )

    def _put_op(
        self, space: Space, member: str, value: M, expiry: Expiry, expected: str | None = None
    ) -> PutOp:
        return PutOp(
            space,
            member,
            self._values.encode(value),
            expiry,
            self._index_entries(space, value),
            bool(self.indexes),
            expected,
        )

    # -- reads ------------------------------------------------------------------

    async def get(self, key: K) -> M | None:
        """The value under `key`, or None when absent."""
        space = self.space()
        entity = space.entity(self._keys.encode(key))
        uow = self._unit()
        text = await (uow.read(entity) if uow else self.backend.get(entity))
        return None if text is None else self._values.decode(text, key=entity)

    async def exists(self, key: K) -> bool:
        entity = self.space().entity(self._keys.encode(key))
        uow = self._unit()
        if uow:
            return await uow.read(entity) is not None
        return await self.backend.exists(entity)

    def items(self) -> AsyncIterator[tuple[K, M]]:
        """(key, value) pairs of the current tenant, paged over its member set (order arbitrary)."""
        return self._iterate(self.space())

    def values(self) -> AsyncIterator[M]:
        """Values of the current tenant, paged over its member set (order arbitrary)."""
        return self._values_of(self._iterate(self.space()))

    async def _values_of(self, pairs: AsyncIterator[tuple[K, M]]) -> AsyncIterator[M]:
        async for _, value in pairs:
            yield value

    async def _iterate(self, space: Space) -> AsyncIterator[tuple[K, M]]:
        seen: set[str] = set()
        cursor = 0
        while True:
            cursor, members = await self.backend.scan_members(space, cursor, _SCAN_PAGE)
            members = [m for m in members if m not in seen]
            seen.update(members)
            texts = await self.backend.get_many([space.entity(m) for m in members])
            for member, text in zip(members, texts, strict=True):
                if text is not None:  # removed or expired since the scan saw it
                    yield self._keys.decode(member), self._values.decode(text, key=space.entity(member))
            if cursor == 0:
                return

    async def count(self) -> int:
        """Number of entries of the current tenant."""
        return await self.backend.count(self.space())

    async def lookup(self, index: str, value: object) -> list[K]:
        """Keys whose indexed field holds `value` (sorted by their text)."""
        if index not in self.indexes:
            raise KeyError(f"registry {self.name!r} has no index {index!r}; it has {sorted(self.indexes)}")
        space = self.space()
        members = await self.backend.lookup(space, space.index(index, format_index_value(value)))
        return [self._keys.decode(member) for member in sorted(members)]

    # -- writes -----------------------------------------------------------------

    async def put(self, key: K, value: M | Mapping[str, Any], *, ttl: Seconds | None = None) -> None:
        """Store `value` under `key`; with `ttl` it expires, without it any earlier ttl is cleared."""
        expiry = NO_EXPIRY if ttl is None else Expiry(self.expiry_mode, to_ms(ttl))
        await self._write(key, self._values.coerce(value), expiry)

    async def _write(self, key: K, value: M, expiry: Expiry) -> None:
        space = self.space()
        op = self._put_op(space, self._keys.encode(key), value, expiry)
        uow = self._unit()
        if uow:
            await uow.stage_put(op)
        else:
            await self.backend.put(op)
        if self._tenants:
            await self._tenants.note(None if self.scope == "global" else current_tenant())

    async def remove(self, key: K) -> bool:
        """Remove `key`; True only for the one caller whose call removed an existing value."""
        op = RemoveOp(self.space(), self._keys.encode(key))
        uow = self._unit()
        if uow:
            return await uow.stage_remove(op)
        return await self.backend.remove(op)

    async def update(self, key: K, fn: Updater[M]) -> M | None:
        """Read-modify-write that never loses a concurrent write and keeps an existing ttl.

        `fn(value)` returns the new value (a model or dict), or mutates `value` and
        returns None. It may run more than once. Returns the new value, or None when
        `key` is absent (then `fn` is not called).
        """
        space = self.space()
        member = self._keys.encode(key)
        uow = self._unit()
        if uow:
            return await self._update_in(uow, space, member, fn)
        entity = space.entity(member)
        current = await self.backend.get(entity)
        for attempt in range(1, UPDATE_RETRY.attempts + 1):
            if current is None:
                return None
            new = await self._apply(fn, self._values.decode(current, key=entity))
            result = await self.backend.put(self._put_op(space, member, new, KEEP_EXPIRY, expected=current))
            if result.status is WriteStatus.OK:
                return new
            if result.status is WriteStatus.ABSENT:
                return None
            if attempt == 1:
                current = result.current  # first loss: retry at once on the value that won
            else:  # contended: back off, then read afresh (the value seen at the loss is stale by now)
                await asyncio.sleep(UPDATE_RETRY.backoff(attempt - 1))
                current = await self.backend.get(entity)
        raise StateConflict(f"update of {entity!r} lost to concurrent writers {UPDATE_RETRY.attempts} times")

    async def _update_in(self, uow: UnitOfWork, space: Space, member: str, fn: Updater[M]) -> M | None:
        current = await uow.read(space.entity(member))
        if current is None:
            return None
        new = await self._apply(fn, self._values.decode(current, key=space.entity(member)))
        await uow.stage_put(self._put_op(space, member, new, KEEP_EXPIRY))
        return new

    async def _apply(self, fn: Updater[M], value: M) -> M:
        result = fn(value)
        if inspect.isawaitable(result):
            result = await result
        return value if result is None else self._values.coerce(result)

    async def incr_field(
        self, key: K, field: str, delta: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """Add `delta` to an integer field in one server-side step, clamped; None when absent.

        Non-lossy read-modify-write for counters such as hit points: apply, clamp and
        read the result in one round trip. The field must not be indexed.
        """
        if any(index.field == field for index in self.indexes.values()):
            raise ValueError(f"field {field!r} of registry {self.name!r} is indexed; use update()")
        entity = self.space().entity(self._keys.encode(key))
        return await self.backend.incr_field(entity, field, delta, minimum, maximum)

    async def clear(self) -> int:
        """Remove every entry of the current tenant (ids keep counting); returns how many."""
        return await self.backend.clear(self.space())

    async def next_id(self) -> K:
        """The next id of the current tenant's counter (needs `ids`)."""
        if self.ids is None:
            raise TypeError(f"registry {self.name!r} declares no ids; add `ids:` to its spec")
        key = self.space().ids
        try:
            value = await self.backend.next_id(key, self.ids.start)
        except OverflowError:
            raise IdRangeExhausted(key, self.ids.maximum + 1, self.ids.maximum) from None
        if value > self.ids.maximum:
            raise IdRangeExhausted(key, value, self.ids.maximum)
        return self._keys.decode(str(value))

    def _unit(self) -> UnitOfWork | None:
        uow = active_unit_of_work()
        return uow if uow is not None and uow.backend is self.backend else None


class TTLRegistry(Registry[K, M]):
    """A registry whose entries expire and are claimed once each through `pop_expired`.

    Entries stay readable until claimed: the claim is the expiry event, so an expiry
    handler runs exactly once across replicas.
    """

    expiry_mode = ExpiryMode.TRACKED

    def __init__(self, *, ttl: Seconds, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ttl = ttl
        to_ms(ttl)  # validate early

    async def put(self, key: K, value: M | Mapping[str, Any], *, ttl: Seconds | None = None) -> None:
        """Store `value`, expiring after `ttl` (default: the registry's ttl)."""
        expiry = Expiry(ExpiryMode.TRACKED, to_ms(self.ttl if ttl is None else ttl))
        await self._write(key, self._values.coerce(value), expiry)

    async def pop_expired_all_tenants(
        self, limit: int = 1000
    ) -> AsyncIterator[tuple[Tenant, list[tuple[K, M]]]]:
        """For every tenant with state in the service, claim its expired entries.

        Yields `(tenant, claimed)` for tenants with at least one claimed entry; the
        tenant is set in context while the caller handles each batch.
        """
        if self._tenants is None:
            raise TypeError(f"TTL registry {self.name!r} was built without a tenant tracker")
        async for tenant in self._tenants.tenants():
            with as_tenant(tenant):
                claimed = await self.pop_expired(limit)
                if claimed:
                    yield tenant, claimed

    async def pop_expired(self, limit: int = 1000) -> list[tuple[K, M]]:
        """Claim up to `limit` expired entries: each goes to exactly one caller across replicas.

        An entry that does not decode is claimed too and logged as an error with its key
        and raw value, so it neither blocks the queue nor vanishes unreported.
        """
        space = self.space()
        claimed: list[tuple[K, M]] = []
        for member, text in await self.backend.pop_expired(space, limit):
            try:
                claimed.append(
                    (self._keys.decode(member), self._values.decode(text, key=space.entity(member)))
                )
            except (StateDecodeError, ValueError) as error:
                log.error("expired entry dropped: %s; raw value %r", error, text)
        return claimed
