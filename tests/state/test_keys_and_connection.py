"""Key layout, settings and connection handling of the state layer."""

from __future__ import annotations

import logging
import uuid

import pytest

from atlas_runtime.errors import BackendUnavailable, ConfigurationError
from atlas_runtime.state import (
    MemoryBackend,
    RedisBackend,
    StateSettings,
    backend_from_settings,
    connect_state,
)
from atlas_runtime.state.keys import (
    LockSpace,
    Space,
    check_member,
    format_index_value,
    key_prefix,
    tenants_key,
)
from atlas_runtime.state.redis_backend import normalise_redis_url, redacted
from atlas_runtime.tenant import Tenant, as_tenant

from .conftest import Counter

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)


def test_entity_keys_follow_the_documented_layout() -> None:
    """Entries and internal keys share the prefix and the tenant hash tag."""
    space = Space.of("atlas", "parties", "parties", TENANT.key)
    base = "atlas:parties:parties:{083839c6-c47c-42a6-9585-76492795d123:GMS:83.1}"
    assert space.entity("7") == base + ":7"
    assert space.members == base + ":_members"
    assert space.expiry == base + ":_expiry"
    assert space.ids == base + ":_ids"
    assert space.index("member", "42") == base + ":_idx:member:42"
    assert space.refs("7") == base + ":_ref:7"


def test_lock_and_tenant_keys_follow_the_documented_layout() -> None:
    """Lock leases and fences share a tag; the tenant set is per service."""
    locks = LockSpace.of("dev:atlas", "parties", "party", TENANT.key)
    tag = "{083839c6-c47c-42a6-9585-76492795d123:GMS:83.1}"
    assert locks.lease("7") == f"dev:atlas:parties:_lock:party:{tag}:7"
    assert locks.fence == f"dev:atlas:parties:_lock:party:{tag}:_fence"
    assert tenants_key("atlas", "parties") == "atlas:parties:_tenants"


def test_the_prefix_carries_the_environment() -> None:
    """ATLAS_REDIS_ENV wins over ATLAS_ENV; with neither the prefix is plain `atlas`."""
    assert key_prefix({}) == "atlas"
    assert key_prefix({"ATLAS_ENV": "pr-12"}) == "pr-12:atlas"
    assert key_prefix({"ATLAS_ENV": "pr-12", "ATLAS_REDIS_ENV": "main"}) == "main:atlas"


def test_internal_looking_keys_are_refused() -> None:
    """Keys that are empty or start with an underscore are rejected."""
    assert check_member("42") == "42"
    for bad in ("", "_ids", "_members"):
        with pytest.raises(ValueError):
            check_member(bad)


def test_index_values_have_one_canonical_text() -> None:
    """Booleans, enums and numbers format the same on write and lookup."""
    import enum

    class Kind(enum.Enum):
        A = "a"

    assert [format_index_value(v) for v in (True, False, 3, "x", Kind.A)] == ["true", "false", "3", "x", "a"]


def test_redis_urls_accept_urls_and_bare_host_port() -> None:
    """REDIS_URL may be redis://, rediss:// or, for compatibility, host:port."""
    assert normalise_redis_url("redis.home:6379") == "redis://redis.home:6379"
    assert normalise_redis_url("rediss://cache:6380/2") == "rediss://cache:6380/2"
    with pytest.raises(ValueError, match="http"):
        normalise_redis_url("http://cache:6379")
    assert redacted("redis://user:secret@cache:6379/0") == "redis://user:***@cache:6379/0"


def test_without_redis_url_the_store_is_in_process_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """With REDIS_URL unset the in-process backend is used and a warning names the service."""
    with caplog.at_level(logging.WARNING, logger="atlas_runtime.state"):
        store = connect_state("parties", environ={})
    assert isinstance(store.backend, MemoryBackend)
    assert "REDIS_URL is not set" in caplog.text and "parties" in caplog.text


async def test_with_redis_url_the_store_uses_redis(redis_url: str) -> None:
    """REDIS_URL (also as bare host:port) selects Redis, with the environment's key prefix."""
    bare = redis_url.removeprefix("redis://").rsplit("/", 1)[0]
    store = connect_state("parties", environ={"REDIS_URL": bare, "ATLAS_ENV": "ci"})
    assert isinstance(store.backend, RedisBackend)
    assert store.prefix == "ci:atlas"
    await store.ping()
    await store.aclose()


async def test_stores_of_several_services_share_one_backend(redis_url: str) -> None:
    """A shared backend serves many stores, and closing a store leaves it open for the others."""
    shared = backend_from_settings(StateSettings(redis_url=redis_url))
    parties = connect_state("parties", environ={}, backend=shared)
    buddies = connect_state("buddies", environ={}, backend=shared)
    assert parties.backend is buddies.backend is shared
    await parties.aclose()
    await buddies.ping()
    await shared.aclose()


def test_a_bad_redis_url_is_a_configuration_error() -> None:
    """An unsupported scheme fails at start-up with ConfigurationError."""
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        connect_state("parties", StateSettings(redis_url="http://x:1"))


async def test_an_unreachable_redis_raises_backend_unavailable_naming_it() -> None:
    """Operations against a closed port fail fast with BackendUnavailable naming the address."""
    store = connect_state("parties", environ={"REDIS_URL": "redis://127.0.0.1:1/0"})
    registry = store.registry("parties", value_type=Counter, key_type=int)
    with as_tenant(TENANT), pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1"):
        await registry.get(1)
    await store.aclose()
