"""Registries and locks of a service, built from its description on one `StateStore`.

Redis when `REDIS_URL` is set, else the in-process backend (announced at start-up by the
state package). Every registry notes the tenants that write to it, so tasks can run once
per tenant that has state in the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from atlas_runtime.service.description import RegistryDecl, ServiceDescription
from atlas_runtime.state import (
    CoalescedRegistry,
    DistributedLock,
    IdSpec,
    IndexSpec,
    StateStore,
    connect_state,
)
from atlas_runtime.state.backend import StateBackend
from atlas_runtime.state.keys import key_prefix
from atlas_runtime.tenant import Tenant


def _registry(store: StateStore, decl: RegistryDecl) -> Any:
    indexes = tuple(IndexSpec(i.name, i.field, i.unique) for i in decl.indexes)
    ids = IdSpec(start=decl.ids_start) if decl.ids_start is not None else None
    common: dict[str, Any] = {"value_type": decl.value, "key_type": decl.key, "scope": decl.scope}
    if decl.kind == "ttl":
        return store.ttl_registry(decl.name, ttl=decl.ttl or 60.0, indexes=indexes, ids=ids, **common)
    if decl.kind == "coalesced":
        return store.coalesced(decl.name, flush=decl.flush or 0.1, **common)
    return store.registry(decl.name, indexes=indexes, ids=ids, **common)


@dataclass
class StateWiring:
    """The store, registries and lock families of one service."""

    store: StateStore
    registries: dict[str, Any]
    locks: dict[str, DistributedLock]
    coalesced: list[CoalescedRegistry[Any, Any]] = field(default_factory=list)

    @property
    def backend(self) -> StateBackend:
        """The backend every registry of the service writes to."""
        return self.store.backend

    @classmethod
    def build(
        cls, description: ServiceDescription, environ: Mapping[str, str], backend: StateBackend | None = None
    ) -> StateWiring:
        """Registries and locks of `description`: on `backend` if given, else the one `environ` names."""
        if backend is not None:
            store = StateStore(backend, service=description.name, prefix=key_prefix(environ))
        else:
            store = connect_state(description.name, environ=environ)
        registries = {decl.name: _registry(store, decl) for decl in description.registries}
        locks = {decl.name: store.lock(decl.name, ttl=decl.ttl, wait=decl.wait) for decl in description.locks}
        coalesced = [r for r in registries.values() if isinstance(r, CoalescedRegistry)]
        return cls(store, registries, locks, coalesced)

    async def tenants(self) -> list[Tenant]:
        """Every tenant that has written state in the service, sorted by key."""
        found = [tenant async for tenant in self.store.tenants()]
        return sorted(found, key=lambda tenant: tenant.key)

    async def close(self, *, backend: bool) -> None:
        """Flush coalesced registries; close the backend too when `backend` (the service owns it)."""
        if backend:
            await self.store.aclose()
            return
        for registry in self.coalesced:
            await registry.aclose()
