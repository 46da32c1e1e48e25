"""The tenant a request or message runs as, carried in a context variable.

A tenant is a game server instance: its id plus the region and client version it
serves. Every tenant-scoped operation reads it from the context and fails closed
(`NoTenantError`) when none is set, so nothing ever runs under an empty tenant.

Wire encodings match the existing ecosystem: HTTP headers carry the versions as
decimal strings, Kafka headers as 2-byte big-endian unsigned integers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from atlas_runtime.errors import InvalidTenantError, NoTenantError

TENANT_ID = "TENANT_ID"
REGION = "REGION"
MAJOR_VERSION = "MAJOR_VERSION"
MINOR_VERSION = "MINOR_VERSION"
HEADER_NAMES = (TENANT_ID, REGION, MAJOR_VERSION, MINOR_VERSION)

_UINT16_MAX = 0xFFFF


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant: id, region and the client version (major.minor) it serves."""

    id: uuid.UUID
    region: str
    major_version: int
    minor_version: int
    key: str = field(init=False, repr=False, compare=False)
    """The tenant's identity in storage keys: `<uuid>:<region>:<major>.<minor>`."""

    def __post_init__(self) -> None:
        if not self.region:
            raise InvalidTenantError(REGION, "", "a non-empty region")
        for name, value in ((MAJOR_VERSION, self.major_version), (MINOR_VERSION, self.minor_version)):
            if not 0 <= value <= _UINT16_MAX:
                raise InvalidTenantError(name, str(value), "an integer from 0 to 65535")
        # Computed once: every storage key of the tenant's state starts with it.
        object.__setattr__(self, "key", f"{self.id}:{self.region}:{self.major_version}.{self.minor_version}")

    @classmethod
    def from_key(cls, key: str) -> Tenant:
        """Inverse of `key`."""
        try:
            tenant_id, region, version = key.split(":")
            major, minor = version.split(".")
            return cls(uuid.UUID(tenant_id), region, int(major), int(minor))
        except ValueError:
            raise InvalidTenantError("tenant key", key, "<uuid>:<region>:<major>.<minor>") from None

    # -- HTTP: decimal versions -------------------------------------------------

    @classmethod
    def from_http_headers(cls, headers: Mapping[str, str]) -> Tenant:
        """Parse the four tenant headers of an HTTP request (names case-insensitive)."""
        lowered = {k.lower(): v for k, v in headers.items()}

        def header(name: str) -> str:
            value = lowered.get(name.lower())
            if value is None or not value.strip():
                raise InvalidTenantError(name, None, _EXPECTED[name])
            return value.strip()

        return cls(
            id=_parse_uuid(header(TENANT_ID)),
            region=header(REGION),
            major_version=_parse_decimal(MAJOR_VERSION, header(MAJOR_VERSION)),
            minor_version=_parse_decimal(MINOR_VERSION, header(MINOR_VERSION)),
        )

    def http_headers(self) -> dict[str, str]:
        return {
            TENANT_ID: str(self.id),
            REGION: self.region,
            MAJOR_VERSION: str(self.major_version),
            MINOR_VERSION: str(self.minor_version),
        }

    # -- Kafka: 36-byte uuid, 2-byte big-endian versions ------------------------

    @classmethod
    def from_kafka_headers(cls, headers: Sequence[tuple[str, bytes | str | None]] | None) -> Tenant:
        """Parse tenant headers of a Kafka message; anything missing, malformed or ambiguous raises."""
        found: dict[str, bytes] = {}
        for name, value in headers or ():
            if name in HEADER_NAMES and value is not None:
                raw = value.encode() if isinstance(value, str) else value
                if found.setdefault(name, raw) != raw:  # two tenants claimed: trust neither
                    raise InvalidTenantError(name, repr(raw), f"one value (also got {found[name]!r})")

        def header(name: str) -> bytes:
            if name not in found:
                raise InvalidTenantError(name, None, _EXPECTED_KAFKA[name])
            return found[name]

        raw_id = header(TENANT_ID)
        if len(raw_id) != 36:
            raise InvalidTenantError(TENANT_ID, repr(raw_id), _EXPECTED_KAFKA[TENANT_ID])
        return cls(
            id=_parse_uuid(raw_id.decode("ascii", errors="replace")),
            region=header(REGION).decode("utf-8", errors="replace"),
            major_version=_parse_uint16(MAJOR_VERSION, header(MAJOR_VERSION)),
            minor_version=_parse_uint16(MINOR_VERSION, header(MINOR_VERSION)),
        )

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [
            (TENANT_ID, str(self.id).encode()),
            (REGION, self.region.encode()),
            (MAJOR_VERSION, self.major_version.to_bytes(2, "big")),
            (MINOR_VERSION, self.minor_version.to_bytes(2, "big")),
        ]


_EXPECTED = {
    TENANT_ID: "a UUID such as 083839c6-c47c-42a6-9585-76492795d123",
    REGION: "a region such as GMS",
    MAJOR_VERSION: "a decimal integer from 0 to 65535",
    MINOR_VERSION: "a decimal integer from 0 to 65535",
}
_EXPECTED_KAFKA = {
    TENANT_ID: "a 36-byte UUID string",
    REGION: "a region string",
    MAJOR_VERSION: "a 2-byte big-endian unsigned integer",
    MINOR_VERSION: "a 2-byte big-endian unsigned integer",
}


def _parse_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidTenantError(TENANT_ID, value, _EXPECTED[TENANT_ID]) from None


def _parse_decimal(name: str, value: str) -> int:
    if not value.isdigit() or int(value) > _UINT16_MAX:
        raise InvalidTenantError(name, value, _EXPECTED[name])
    return int(value)


def _parse_uint16(name: str, value: bytes) -> int:
    if len(value) != 2:
        raise InvalidTenantError(name, repr(value), _EXPECTED_KAFKA[name])
    return int.from_bytes(value, "big")


_current: ContextVar[Tenant | None] = ContextVar("atlas_tenant", default=None)


def current_tenant() -> Tenant:
    """The tenant of the running request, message or task; raises `NoTenantError` if none."""
    tenant = _current.get()
    if tenant is None:
        raise NoTenantError()
    return tenant


def current_tenant_or_none() -> Tenant | None:
    return _current.get()


@contextmanager
def as_tenant(tenant: Tenant) -> Iterator[Tenant]:
    """Run the enclosed block as `tenant`, restoring the previous one afterwards."""
    token = _current.set(tenant)
    try:
        yield tenant
    finally:
        _current.reset(token)
