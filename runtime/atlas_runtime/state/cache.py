"""A read-through cache in the state backend, with a ttl and single-flight loading.

`get(key)` returns the cached value, or calls the loader, stores the result for `ttl`
and returns it. Concurrent misses on one key in this process share one loader call.
A loader returning None is not cached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel

from atlas_runtime.state.backend import StateBackend
from atlas_runtime.state.codec import KeyCodec, ValueCodec
from atlas_runtime.state.keys import GLOBAL_TAG, Space
from atlas_runtime.state.specs import Scope, Seconds, to_ms
from atlas_runtime.tenant import current_tenant

K = TypeVar("K")
M = TypeVar("M", bound=BaseModel)

Loader = Callable[[K], Awaitable[M | None]]


class ReadThroughCache(Generic[K, M]):
    """Cache-aside over a slower source; see the module docstring."""

    def __init__(
        self,
        *,
        backend: StateBackend,
        prefix: str,
        service: str,
        name: str,
        value_type: type[M],
        key_type: type[K],
        loader: Loader[K, M],
        ttl: Seconds,
        scope: Scope = "tenant",
    ) -> None:
        self.backend = backend
        self.name = name
        self.scope = scope
        self.loader = loader
        self.ttl_ms = to_ms(ttl)
        self._prefix, self._service = prefix, service
        self._values = ValueCodec(value_type)
        self._keys = KeyCodec(key_type)
        self._inflight: dict[str, asyncio.Task[M | None]] = {}
        self.loads = 0

    def _entity(self, key: K) -> str:
        tag = GLOBAL_TAG if self.scope == "global" else current_tenant().key
        return Space.of(self._prefix, self._service, self.name, tag).entity(self._keys.encode(key))

    async def get(self, key: K) -> M | None:
        """The cached value, else the loader's (stored for `ttl`); None when the loader has none."""
        entity = self._entity(key)
        text = await self.backend.get(entity)
        if text is not None:
            return self._values.decode(text, key=entity)
        task = self._inflight.get(entity)
        if task is None:
            task = asyncio.ensure_future(self._load(key, entity))
            self._inflight[entity] = task
            task.add_done_callback(lambda _: self._inflight.pop(entity, None))
        return await asyncio.shield(task)

    async def _load(self, key: K, entity: str) -> M | None:
        self.loads += 1
        value = await self.loader(key)
        if value is not None:
            await self.backend.set_value(entity, self._values.encode(value), self.ttl_ms)
        return value

    async def invalidate(self, key: K) -> bool:
        """Drop the cached value of `key`; True if there was one."""
        return await self.backend.delete(self._entity(key))
