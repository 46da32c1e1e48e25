"""`StateStore`: the declarative entry point generated services use, and its factory.

    store = connect_state("parties")                       # Redis from REDIS_URL, else in-process
    parties = store.registry("parties", value_type=Party, key_type=int,
                             indexes=[IndexSpec("member", "members")], ids=IdSpec(start=1_000_000_000))
    invites = store.ttl_registry("invites", value_type=Invite, key_type=int, ttl=30)
    positions = store.coalesced("positions", value_type=Position, key_type=int, flush=0.1)
    party_lock = store.lock("party", ttl=5, wait=2)

Construction is cheap and does no I/O; the first operation connects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from atlas_runtime.errors import ConfigurationError
from atlas_runtime.state.backend import StateBackend
from atlas_runtime.state.cache import Loader, ReadThroughCache
from atlas_runtime.state.coalesced import CoalescedRegistry
from atlas_runtime.state.keys import GLOBAL_TAG, LockSpace, Space, key_prefix, tenants_key
from atlas_runtime.state.locks import DistributedLock, LeaderElection
from atlas_runtime.state.memory_backend import MemoryBackend
from atlas_runtime.state.redis_backend import RedisBackend
from atlas_runtime.state.registry import Registry, TenantTracker, TTLRegistry
from atlas_runtime.state.specs import IdSpec, IndexSpec, Scope, Seconds
from atlas_runtime.state.unit_of_work import UnitOfWork
from atlas_runtime.tenant import Tenant, as_tenant, current_tenant

K = TypeVar("K")
M = TypeVar("M", bound=BaseModel)

log = logging.getLogger("atlas_runtime.state")


class StateSettings(BaseSettings):
    """Where shared state lives: `REDIS_URL` (URL or bare host:port) and `REDIS_PASSWORD`."""

    model_config = SettingsConfigDict(extra="ignore")

    redis_url: str | None = None
    redis_password: str | None = None
    atlas_redis_env: str | None = None
    atlas_env: str | None = None

    @property
    def key_prefix(self) -> str:
        return key_prefix({"ATLAS_REDIS_ENV": self.atlas_redis_env or "", "ATLAS_ENV": self.atlas_env or ""})


class StateStore:
    """The registries, locks and caches of one service over one backend."""

    def __init__(
        self, backend: StateBackend, *, service: str, prefix: str = "atlas", owns_backend: bool = True
    ) -> None:
        self.backend = backend
        self.service = service
        self.prefix = prefix
        self.owns_backend = owns_backend
        self.tenant_tracker = TenantTracker(backend, tenants_key(prefix, service))
        self._coalesced: list[CoalescedRegistry[Any, Any]] = []

    def _common(self, name: str) -> dict[str, Any]:
        return {"backend": self.backend, "prefix": self.prefix, "service": self.service, "name": name}

    def registry(
        self,
        name: str,
        *,
        value_type: type[M],
        key_type: type[K],
        indexes: Sequence[IndexSpec] = (),
        ids: IdSpec | None = None,
        scope: Scope = "tenant",
    ) -> Registry[K, M]:
        """A strict registry: every write reaches the backend before it returns."""
        return Registry(
            **self._common(name),
            value_type=value_type,
            key_type=key_type,
            indexes=indexes,
            ids=ids,
            scope=scope,
            tenants=self.tenant_tracker,
        )

    def ttl_registry(
        self,
        name: str,
        *,
        value_type: type[M],
        key_type: type[K],
        ttl: Seconds,
        indexes: Sequence[IndexSpec] = (),
        ids: IdSpec | None = None,
        scope: Scope = "tenant",
    ) -> TTLRegistry[K, M]:
        """A registry whose entries expire and are claimed once each by `pop_expired`."""
        return TTLRegistry(
            **self._common(name),
            value_type=value_type,
            key_type=key_type,
            ttl=ttl,
            indexes=indexes,
            ids=ids,
            scope=scope,
            tenants=self.tenant_tracker,
        )

    def coalesced(
        self,
        name: str,
        *,
        value_type: type[M],
        key_type: type[K],
        flush: Seconds = 0.1,
        scope: Scope = "tenant",
        max_pending: int = 100_000,
    ) -> CoalescedRegistry[K, M]:
        """A latest-value-wins write-behind registry flushed every `flush` seconds."""
        registry = self.registry(name, value_type=value_type, key_type=key_type, scope=scope)
        coalesced = CoalescedRegistry(registry, flush=flush, max_pending=max_pending)
        self._coalesced.append(coalesced)
        return coalesced

    def lock(
        self, name: str, *, ttl: Seconds = 5.0, wait: Seconds = 2.0, scope: Scope = "tenant"
    ) -> DistributedLock:
        """A family of locks, one per key: `async with store.lock("party")(key) as lease`."""
        return DistributedLock(**self._common(name), ttl=ttl, wait=wait, scope=scope)

    def leader_election(
        self, name: str, *, ttl: Seconds = 15.0, retry_every: Seconds | None = None
    ) -> LeaderElection:
        """Leader election among the service's replicas, e.g. for `leader_only` tasks."""
        space = LockSpace.of(self.prefix, self.service, "_leader", GLOBAL_TAG)
        return LeaderElection(backend=self.backend, space=space, name=name, ttl=ttl, retry_every=retry_every)

    def cache(
        self,
        name: str,
        *,
        value_type: type[M],
        key_type: type[K],
        loader: Loader[K, M],
        ttl: Seconds,
        scope: Scope = "tenant",
    ) -> ReadThroughCache[K, M]:
        """A read-through cache with single-flight loading."""
        return ReadThroughCache(
            **self._common(name),
            value_type=value_type,
            key_type=key_type,
            loader=loader,
            ttl=ttl,
            scope=scope,
        )

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work on this store's backend (see `atlas_runtime.state.unit_of_work`)."""
        return UnitOfWork(self.backend)

    def internal_key(self, name: str, suffix: str, *, scope: Scope = "tenant") -> str:
        """A key in the current tenant's slot for other runtime parts, e.g. inbox markers."""
        tag = GLOBAL_TAG if scope == "global" else current_tenant().key
        return Space.of(self.prefix, self.service, f"_{name}", tag).entity(suffix)

    async def tenants(self) -> AsyncIterator[Tenant]:
        """Every tenant that has written state in this service (paged, order arbitrary)."""
        async for tenant in self.tenant_tracker.tenants():
            yield tenant

    async def for_each_tenant(self, fn: Callable[[], Awaitable[None]]) -> int:
        """Run `fn()` once per tenant with state, with that tenant set; returns how many ran."""
        ran = 0
        async for tenant in self.tenants():
            with as_tenant(tenant):
                await fn()
            ran += 1
        return ran

    async def ping(self) -> None:
        """Raise `BackendUnavailable` when the backend cannot be reached (for readiness)."""
        await self.backend.exists(self.tenant_tracker.key)

    async def aclose(self) -> None:
        """Flush coalesced registries, then close the backend's connections if this store owns them."""
        for coalesced in self._coalesced:
            await coalesced.aclose()
        if self.owns_backend:
            await self.backend.aclose()


def backend_from_settings(settings: StateSettings, *, service: str = "this process") -> StateBackend:
    """The process's backend: Redis when `REDIS_URL` is set, else in-process with a warning.

    Create it once per process and share it between the stores of every service the
    process runs (`connect_state(..., backend=shared)`), so the process has one pool.
    """
    if not settings.redis_url:
        log.warning(
            "REDIS_URL is not set: %s keeps its state in process memory, which is lost on restart "
            "and not shared between replicas; set REDIS_URL for anything but a local trial",
            service,
        )
        return MemoryBackend()
    try:
        return RedisBackend.from_url(settings.redis_url, password=settings.redis_password)
    except ValueError as error:
        raise ConfigurationError(str(error)) from error


def connect_state(
    service: str,
    settings: StateSettings | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    backend: StateBackend | None = None,
) -> StateStore:
    """The store of `service`, on `backend` if given (not closed by the store), else a new one.

    Settings come from `settings`, else from `environ`, else from the process environment.
    """
    if settings is None:
        if environ is None:
            settings = StateSettings()
        else:
            # every field passed explicitly, so the process environment cannot leak in
            settings = StateSettings(
                redis_url=environ.get("REDIS_URL"),
                redis_password=environ.get("REDIS_PASSWORD"),
                atlas_redis_env=environ.get("ATLAS_REDIS_ENV"),
                atlas_env=environ.get("ATLAS_ENV"),
            )
    if backend is not None:
        return StateStore(backend, service=service, prefix=settings.key_prefix, owns_backend=False)
    return StateStore(
        backend_from_settings(settings, service=service), service=service, prefix=settings.key_prefix
    )
