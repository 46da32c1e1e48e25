"""Tenant context and its HTTP/Kafka header codecs."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from atlas_runtime.errors import InvalidTenantError, NoTenantError
from atlas_runtime.tenant import Tenant, as_tenant, current_tenant, current_tenant_or_none

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)


def test_key_round_trips() -> None:
    """The storage key of a tenant names id, region and version and parses back."""
    assert TENANT.key == "083839c6-c47c-42a6-9585-76492795d123:GMS:83.1"
    assert Tenant.from_key(TENANT.key) == TENANT


def test_http_headers_round_trip_with_decimal_versions() -> None:
    """HTTP headers carry versions as decimal strings and are read case-insensitively."""
    headers = TENANT.http_headers()
    assert headers["MAJOR_VERSION"] == "83"
    assert Tenant.from_http_headers({k.lower(): v for k, v in headers.items()}) == TENANT


def test_kafka_headers_use_two_byte_big_endian_versions() -> None:
    """Kafka headers carry versions as 2-byte big-endian integers and the id as 36 bytes."""
    headers = dict(TENANT.kafka_headers())
    assert headers["MAJOR_VERSION"] == b"\x00\x53"
    assert len(headers["TENANT_ID"]) == 36
    assert Tenant.from_kafka_headers(TENANT.kafka_headers()) == TENANT


@pytest.mark.parametrize(
    ("header", "value"),
    [("TENANT_ID", "not-a-uuid"), ("MAJOR_VERSION", "x"), ("MINOR_VERSION", "70000"), ("REGION", " ")],
)
def test_malformed_http_header_names_the_header(header: str, value: str) -> None:
    """A malformed HTTP tenant header is rejected with its name."""
    headers = TENANT.http_headers() | {header: value}
    with pytest.raises(InvalidTenantError) as caught:
        Tenant.from_http_headers(headers)
    assert caught.value.header == header


def test_missing_kafka_header_is_rejected() -> None:
    """A Kafka message without a tenant header never gets an empty tenant."""
    headers = [h for h in TENANT.kafka_headers() if h[0] != "REGION"]
    with pytest.raises(InvalidTenantError, match="REGION"):
        Tenant.from_kafka_headers(headers)
    with pytest.raises(InvalidTenantError, match="MAJOR_VERSION"):
        Tenant.from_kafka_headers([*headers[:2], ("MAJOR_VERSION", b"\x01"), ("REGION", b"GMS")])


def test_a_kafka_header_repeated_with_another_value_is_rejected() -> None:
    """Two different values of one tenant header name no tenant; a repeated equal value is fine."""
    other = Tenant(uuid.uuid4(), "GMS", 83, 1)
    with pytest.raises(InvalidTenantError, match="TENANT_ID"):
        Tenant.from_kafka_headers([*TENANT.kafka_headers(), ("TENANT_ID", str(other.id).encode())])
    assert Tenant.from_kafka_headers([*TENANT.kafka_headers(), TENANT.kafka_headers()[0]]) == TENANT


def test_no_tenant_fails_closed() -> None:
    """Asking for the tenant outside any tenant context raises."""
    assert current_tenant_or_none() is None
    with pytest.raises(NoTenantError):
        current_tenant()


async def test_as_tenant_is_task_local() -> None:
    """A tenant set in one task is not seen by a concurrent task and is reset afterwards."""
    other = Tenant(uuid.uuid4(), "EMS", 1, 0)

    async def read_after_yield(tenant: Tenant) -> Tenant:
        with as_tenant(tenant):
            await asyncio.sleep(0.01)
            return current_tenant()

    assert await asyncio.gather(read_after_yield(TENANT), read_after_yield(other)) == [TENANT, other]
    assert current_tenant_or_none() is None
