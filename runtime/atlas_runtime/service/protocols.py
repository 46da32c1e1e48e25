"""Typed shapes of what handlers receive, so mypy checks user handlers against the spec.

A generated `protocols.py` narrows these: its `State` names each registry with its key
and value types, its `Locks` each lock, and its `Context` ties them together. These
Protocols describe behaviour only; the runtime's concrete classes satisfy them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from atlas_runtime.db.tenancy import TenantSession
from atlas_runtime.messaging import Record
from atlas_runtime.rest import Query
from atlas_runtime.service.context import HandlerLogger
from atlas_runtime.state.specs import Seconds
from atlas_runtime.tenant import Tenant

K = TypeVar("K")
V = TypeVar("V")
B_co = TypeVar("B_co", covariant=True)


class Registry(Protocol[K, V]):
    """Registry operations of the spec's handler API (values as models or plain dicts)."""

    async def get(self, key: K) -> V | None: ...
    async def put(self, key: K, value: V | Mapping[str, Any]) -> None: ...
    async def remove(self, key: K) -> bool: ...
    async def update(self, key: K, fn: Callable[[V], V | Mapping[str, Any]]) -> V | None: ...
    async def exists(self, key: K) -> bool: ...
    def values(self) -> AsyncIterator[V]: ...
    def items(self) -> AsyncIterator[tuple[K, V]]: ...
    async def next_id(self) -> K: ...
    async def lookup(self, index: str, value: Any) -> list[K]: ...


class TTLRegistry(Registry[K, V], Protocol[K, V]):
    """A registry whose entries expire; each expired entry is claimed by exactly one caller."""

    async def put(self, key: K, value: V | Mapping[str, Any], *, ttl: Seconds | None = None) -> None: ...
    async def pop_expired(self) -> list[tuple[K, V]]: ...


class CoalescedRegistry(Protocol[K, V]):
    """A latest-value-wins registry: writes are buffered and flushed together (lossy-tolerant data)."""

    async def get(self, key: K) -> V | None: ...
    async def put(self, key: K, value: V | Mapping[str, Any]) -> None: ...
    async def remove(self, key: K) -> None: ...
    async def update(self, key: K, fn: Callable[[V], V | Mapping[str, Any]]) -> V | None: ...
    async def exists(self, key: K) -> bool: ...
    def values(self) -> AsyncIterator[V]: ...
    def items(self) -> AsyncIterator[tuple[K, V]]: ...
    async def flush(self) -> None: ...


class BaseContext(Protocol):
    """The members every handler context has; generated `Context` adds typed state and locks."""

    @property
    def tenant(self) -> Tenant: ...
    @property
    def log(self) -> HandlerLogger: ...
    @property
    def db(self) -> TenantSession: ...
    @property
    def calls(self) -> Any: ...
    @property
    def record(self) -> Record | None:
        """The consumed Kafka record (topic, partition, offset, key, headers); None outside messages."""
        ...

    async def emit(self, token: str, message: Any) -> None: ...


LockFactory = Callable[[Any], AbstractAsyncContextManager[Any]]


class Request(Protocol[B_co]):
    """What a REST handler receives: typed path params, parsed query, validated body, headers.

    `query` is a `Query`: `page`, `filters` and every plain parameter in `params`, and a
    read-only mapping of each plain parameter to its first value (`query.get("kind")`).
    """

    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def query(self) -> Query: ...
    @property
    def body(self) -> B_co: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


TaskHandler = Callable[[Any], Awaitable[None]]
