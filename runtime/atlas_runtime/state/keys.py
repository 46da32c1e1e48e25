"""The Redis key layout of every piece of shared state, as pure functions.

    [<ATLAS_ENV>:]atlas:<service>:<registry>:{<tenant key>}:<key>       a registry entry
    [<ATLAS_ENV>:]atlas:<service>:<registry>:{<tenant key>}:_members    SET of the registry's keys
    [<ATLAS_ENV>:]atlas:<service>:<registry>:{<tenant key>}:_expiry     ZSET key -> deadline (unix ms)
    [<ATLAS_ENV>:]atlas:<service>:<registry>:{<tenant key>}:_ids        id counter (INCR)
    [<ATLAS_ENV>:]atlas:<service>:<registry>:{<tenant key>}:_idx:<index>:<value>   SET of keys
    [<ATLAS_ENV>:]atlas:<service>:<registry>:{<tenant key>}:_ref:<key>  SET of index keys holding <key>
    [<ATLAS_ENV>:]atlas:<service>:_lock:<name>:{<tenant key>}:<key>     lock lease (random token)
    [<ATLAS_ENV>:]atlas:<service>:_lock:<name>:{<tenant key>}:_fence    fencing-token counter
    [<ATLAS_ENV>:]atlas:<service>:_tenants                              SET of tenant keys with state

`<tenant key>` is `Tenant.key` (`<uuid>:<region>:<major>.<minor>`), or `global` for
global registries. The braces make it a Redis Cluster hash tag, so every key a script
or a transaction touches for one tenant lives in one slot. Suffixes starting with `_`
are internal, which is why caller-chosen keys may not start with `_`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

GLOBAL_TAG = "global"
_SEPARATOR = ":"


def key_prefix(environ: Mapping[str, str]) -> str:
    """`atlas`, or `<env>:atlas` when `ATLAS_REDIS_ENV` (else `ATLAS_ENV`) is set."""
    env = environ.get("ATLAS_REDIS_ENV") or environ.get("ATLAS_ENV") or ""
    return f"{env}:atlas" if env else "atlas"


def hash_tag(tag: str) -> str:
    """`{tag}`: the part of a key Redis Cluster hashes to pick the slot."""
    return "{" + tag + "}"


def tenants_key(prefix: str, service: str) -> str:
    """The SET of tenant keys that hold state in `service`."""
    return f"{prefix}:{service}:_tenants"


def check_member(member: str) -> str:
    """Refuse caller keys that would collide with internal keys or be ambiguous."""
    if not member or member.startswith("_"):
        raise ValueError(f"registry key {member!r} is invalid: keys must be non-empty and not start with '_'")
    return member


def format_index_value(value: object) -> str:
    """The canonical text of an indexed value (shared by writes and lookups)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return format_index_value(value.value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Space:
    """The keys of one registry under one tenant (or the global tag)."""

    base: str

    @classmethod
    def of(cls, prefix: str, service: str, registry: str, tag: str) -> Space:
        return cls(f"{prefix}:{service}:{registry}:{hash_tag(tag)}")

    @property
    def entity_prefix(self) -> str:
        return self.base + _SEPARATOR

    def entity(self, member: str) -> str:
        return self.entity_prefix + member

    @property
    def members(self) -> str:
        return self.base + ":_members"

    @property
    def expiry(self) -> str:
        return self.base + ":_expiry"

    @property
    def ids(self) -> str:
        return self.base + ":_ids"

    @property
    def ref_prefix(self) -> str:
        return self.base + ":_ref:"

    def refs(self, member: str) -> str:
        return self.ref_prefix + member

    def index(self, name: str, value: str) -> str:
        return f"{self.base}:_idx:{name}:{value}"

    def internal(self, name: str) -> str:
        """A caller-named internal key in this space's slot, e.g. an inbox marker."""
        return f"{self.base}:_{name}"


@dataclass(frozen=True, slots=True)
class LockSpace:
    """The keys of one named lock under one tenant (or the global tag)."""

    base: str

    @classmethod
    def of(cls, prefix: str, service: str, name: str, tag: str) -> LockSpace:
        return cls(f"{prefix}:{service}:_lock:{name}:{hash_tag(tag)}")

    def lease(self, key: str) -> str:
        return f"{self.base}:{key}"

    @property
    def fence(self) -> str:
        return self.base + ":_fence"
