"""Shared state of a service: registries, TTL expiry, ids, indexes, locks, caches.

Everything lives in Redis (or, with no `REDIS_URL`, in this process) under the key
layout of `atlas_runtime.state.keys`, scoped to the current tenant. See `docs/state.md`.
"""

from __future__ import annotations

from atlas_runtime.state._errors import IdRangeExhausted, LockLost, StateConflict, StateDecodeError
from atlas_runtime.state.backend import PushValues, SetValue, SetValues, StateBackend
from atlas_runtime.state.cache import ReadThroughCache
from atlas_runtime.state.coalesced import CoalescedRegistry
from atlas_runtime.state.locks import DistributedLock, LeaderElection, Lease
from atlas_runtime.state.memory_backend import MemoryBackend
from atlas_runtime.state.redis_backend import RedisBackend, create_redis_client
from atlas_runtime.state.registry import Registry, TTLRegistry
from atlas_runtime.state.specs import IdSpec, IndexSpec
from atlas_runtime.state.store import StateSettings, StateStore, backend_from_settings, connect_state
from atlas_runtime.state.unit_of_work import UnitOfWork, active_unit_of_work

__all__ = [
    "CoalescedRegistry",
    "DistributedLock",
    "IdRangeExhausted",
    "IdSpec",
    "IndexSpec",
    "LeaderElection",
    "Lease",
    "LockLost",
    "MemoryBackend",
    "PushValues",
    "ReadThroughCache",
    "RedisBackend",
    "Registry",
    "SetValue",
    "SetValues",
    "StateBackend",
    "StateConflict",
    "StateDecodeError",
    "StateSettings",
    "StateStore",
    "TTLRegistry",
    "UnitOfWork",
    "active_unit_of_work",
    "backend_from_settings",
    "connect_state",
    "create_redis_client",
]
