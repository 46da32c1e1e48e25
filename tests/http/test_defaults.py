"""The outbound client's documented defaults (runtime contracts, section 3) and their overrides."""

from __future__ import annotations

import asyncio
import time

import pytest

from atlas_runtime.http import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    ClientSettings,
    ServiceClient,
    ServiceClients,
    ServiceResponseError,
    ServiceTimeout,
    ServiceUnavailable,
)
from atlas_runtime.retry import REST

from .conftest import Upstream

FAST_REST = REST.with_(initial=0.01, max_delay=0.02)
SETTINGS_ENV = ("TIMEOUT", "DEADLINE", "MAX_CONNECTIONS", "MAX_KEEPALIVE", "KEEPALIVE_EXPIRY")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No `HTTP_CLIENT_*` variable leaks in from the environment the tests run in."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(f"HTTP_CLIENT_{name}", raising=False)
    return monkeypatch


def test_timeouts_and_pool_default_to_the_contract(clean_env: pytest.MonkeyPatch) -> None:
    """10 s per attempt, 30 s per call, 100 connections, 10 kept alive per host for 90 s."""
    settings = ClientSettings()
    assert settings.timeout == 10.0
    assert settings.deadline == 30.0
    assert settings.max_connections == 100
    assert settings.max_keepalive == 10
    assert settings.keepalive_expiry == 90.0


async def test_a_client_without_settings_uses_the_defaults_and_the_rest_policy(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """A client built with nothing but a base URL reads the default settings and retries with REST."""
    async with ServiceClient("upstream", base_url="http://127.0.0.1:9/api/") as client:
        assert client.settings == ClientSettings(
            timeout=10.0, deadline=30.0, max_connections=100, max_keepalive=10, keepalive_expiry=90.0
        )
        assert client.retry is REST


def test_rest_policy_is_full_jitter_from_200_ms_to_5_s() -> None:
    """REST backoff ceilings double from 200 ms and stop at 5 s; each sleep is uniform below its ceiling."""
    assert (REST.initial, REST.max_delay, REST.factor) == (0.2, 5.0, 2.0)
    assert [REST.ceiling(n) for n in range(1, 8)] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])
    sleeps = [REST.backoff(6) for _ in range(2000)]
    assert all(0.0 <= sleep <= 5.0 for sleep in sleeps)
    assert min(sleeps) < 0.5 and max(sleeps) > 4.5


def test_only_idempotent_methods_and_transient_statuses_are_retryable() -> None:
    """Retries are reserved to idempotent methods and to 502, 503 and 504."""
    assert frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}) == IDEMPOTENT_METHODS
    assert frozenset({502, 503, 504}) == RETRY_STATUSES


def test_http_client_timeout_overrides_the_attempt_timeout(clean_env: pytest.MonkeyPatch) -> None:
    """`HTTP_CLIENT_TIMEOUT` (and the other `HTTP_CLIENT_*` variables) replace the defaults."""
    clean_env.setenv("HTTP_CLIENT_TIMEOUT", "2.5")
    clean_env.setenv("HTTP_CLIENT_MAX_KEEPALIVE", "4")
    settings = ClientSettings()
    assert (settings.timeout, settings.max_keepalive) == (2.5, 4)
    assert settings.deadline == 30.0


async def test_http_client_timeout_bounds_the_calls_of_service_clients(
    upstream: Upstream, clean_env: pytest.MonkeyPatch
) -> None:
    """With `HTTP_CLIENT_TIMEOUT=0.3` a call to a hanging upstream ends as a timeout after 0.3 s."""
    clean_env.setenv("HTTP_CLIENT_TIMEOUT", "0.3")
    clients = ServiceClients(base_urls={"upstream": upstream.url})
    try:
        started = time.monotonic()
        with pytest.raises(ServiceTimeout, match=r"attempt timeout of 0\.3s"):
            await clients.get("upstream").request("POST", "hang", json={})  # a POST is not retried
        elapsed = time.monotonic() - started
    finally:
        await clients.aclose()
    assert 0.28 <= elapsed < 5.0  # far below the 10 s default however loaded the machine
    assert upstream.count("hang") == 1


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_503_is_retried_for_idempotent_writes(upstream: Upstream, method: str) -> None:
    """PUT and DELETE are idempotent: after a 503 they are sent again and succeed."""
    name = f"m-{method.lower()}"
    upstream.script[name] = [(503, {})]
    async with ServiceClient("upstream", base_url=upstream.url, retry=FAST_REST) as client:
        response = await client.request(method, f"scripted/{name}", json={"data": {}})
    assert response.status_code == 200
    assert upstream.count(name) == 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_503_is_not_retried_for_other_writes(upstream: Upstream, method: str) -> None:
    """POST and PATCH without an idempotency key are sent once; the 503 is raised."""
    name = f"m-{method.lower()}"
    upstream.script[name] = [(503, {})]
    async with ServiceClient("upstream", base_url=upstream.url, retry=FAST_REST) as client:
        with pytest.raises(ServiceUnavailable):
            await client.request(method, f"scripted/{name}", json={"data": {}})
    assert upstream.count(name) == 1


@pytest.mark.parametrize("status", [400, 404, 409, 429, 500])
async def test_other_error_statuses_are_not_retried(upstream: Upstream, status: int) -> None:
    """Non-transient statuses (429 without `Retry-After` included) end a GET after one attempt."""
    name = f"s-{status}"
    upstream.script[name] = [(status, {})]
    async with ServiceClient("upstream", base_url=upstream.url) as client:
        with pytest.raises(ServiceResponseError) as caught:
            await client.request("GET", f"scripted/{name}")
    assert caught.value.status == status
    assert upstream.count(name) == 1


async def test_max_connections_bounds_requests_in_flight(upstream: Upstream) -> None:
    """With `max_connections=2`, a third concurrent call waits for a free connection."""
    settings = ClientSettings(max_connections=2)
    async with ServiceClient("upstream", base_url=upstream.url, settings=settings) as client:
        calls = [asyncio.create_task(client.request("GET", "gate")) for _ in range(3)]
        async with asyncio.timeout(5.0):
            while upstream.count("gate") < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert upstream.count("gate") == 2
        upstream.gate.set()
        responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert upstream.count("gate") == 3
