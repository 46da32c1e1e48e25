"""Context, tokens and JSON:API decoding of the outbound client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from atlas_runtime.auth import AuthSettings
from atlas_runtime.auth.service_tokens import StaticTokenSource
from atlas_runtime.errors import ConfigurationError
from atlas_runtime.http import (
    ClientSettings,
    ResponseDecodeError,
    ServiceClient,
    ServiceClients,
    ServiceUnauthorized,
    env_name,
    service_base_url,
)
from atlas_runtime.rest import Endpoint, Request, create_app
from atlas_runtime.rest.testing import running_server
from atlas_runtime.rest.tracing import request_scope, start_trace
from atlas_runtime.tenant import Tenant, as_tenant, current_tenant

from .conftest import Upstream

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)


class Thing(BaseModel):
    id: int
    name: str


class Strict(BaseModel):
    id: int
    level: int


async def test_tenant_trace_and_request_id_travel_with_the_call(upstream: Upstream) -> None:
    """The current tenant, a child traceparent and the request id are sent as headers."""
    trace = start_trace()
    async with ServiceClient("upstream", base_url=upstream.url) as client:
        with as_tenant(TENANT), request_scope("req-42", trace):
            await client.get_one("echo", Thing)
    sent = upstream.headers[-1]
    assert (sent["tenant_id"], sent["region"], sent["major_version"], sent["minor_version"]) == (
        str(TENANT.id),
        "GMS",
        "83",
        "1",
    )
    version, trace_id, span_id, flags = sent["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", trace.trace_id, "01")
    assert span_id != trace.span_id
    assert sent["x-request-id"] == "req-42"


async def test_a_new_trace_is_started_outside_a_request(upstream: Upstream) -> None:
    """Outside any request the call starts its own trace."""
    async with ServiceClient("upstream", base_url=upstream.url) as client:
        await client.get_one("echo", Thing)
    assert len(upstream.headers[-1]["traceparent"].split("-")[1]) == 32
    assert "tenant_id" not in upstream.headers[-1]


class RotatingTokens:
    """A token source whose token changes when invalidated."""

    def __init__(self) -> None:
        self.generation = 1

    async def token(self) -> str:
        return f"token-{self.generation}"

    def invalidate(self) -> None:
        self.generation += 1


async def test_service_token_is_sent_and_refreshed_after_401(upstream: Upstream) -> None:
    """The service token is sent as a bearer token; a 401 fetches a fresh one and retries once."""
    upstream.script["auth"] = [(401, {})]
    tokens = RotatingTokens()
    async with ServiceClient("upstream", base_url=upstream.url, token_source=tokens) as client:
        await client.get_one("scripted/auth", Thing)
    assert [h["authorization"] for h in upstream.headers] == ["Bearer token-1", "Bearer token-2"]


async def test_repeated_401_is_raised(upstream: Upstream) -> None:
    """A second 401 after a token refresh is raised as ServiceUnauthorized."""
    upstream.script["deny"] = [(401, {}), (401, {})]
    source = StaticTokenSource("t")
    async with ServiceClient("upstream", base_url=upstream.url, token_source=source) as client:
        with pytest.raises(ServiceUnauthorized):
            await client.get_one("scripted/deny", Thing)
    assert upstream.count("deny") == 2


async def test_mismatched_resource_is_a_decode_error_not_not_found(upstream: Upstream) -> None:
    """A resource that does not fit the model raises ResponseDecodeError, never a not-found."""
    async with ServiceClient("upstream", base_url=upstream.url) as client:
        with pytest.raises(ResponseDecodeError, match="Strict"):
            await client.get_one("echo", Strict)


async def numbered(ctx: object, request: Request) -> AsyncIterator[Thing]:
    assert current_tenant() == TENANT
    for i in range(1, 8):
        yield Thing(id=i, name=f"t{i}")


async def test_fetch_all_follows_next_links_of_a_runtime_service() -> None:
    """fetch_all walks every page of a runtime-served collection via links.next."""
    app = create_app(
        "things", auth=AuthSettings(mode="off"), endpoints=[Endpoint("GET", "/things", numbered, "things")]
    )
    async with running_server(app) as server:
        async with ServiceClient("things", base_url=f"{server.url}/api/") as client:
            with as_tenant(TENANT):
                items = [item async for item in client.fetch_all("things", Thing, page_size=3)]
        metrics = (await client_metrics(server.url)).splitlines()
    assert [item.id for item in items] == list(range(1, 8))
    assert any('route="/api/things",status="200"} 3.0' in line for line in metrics)


async def client_metrics(url: str) -> str:
    async with ServiceClient("things", base_url=url) as client:
        return (await client.request("GET", "/metrics")).text


def test_base_url_comes_from_the_service_variable_then_the_base() -> None:
    """`<NAME>_SERVICE_URL` wins over BASE_SERVICE_URL; with neither, a ConfigurationError names both."""
    env = {"DROP_INFO_SERVICE_URL": "http://drops:8080/api", "BASE_SERVICE_URL": "http://ingress/api/"}
    assert env_name("drop-info") == "DROP_INFO_SERVICE_URL"
    assert service_base_url("drop-info", env) == "http://drops:8080/api/"
    assert service_base_url("characters", env) == "http://ingress/api/"
    with pytest.raises(ConfigurationError, match="CHARACTERS_SERVICE_URL"):
        service_base_url("characters", {})


async def test_service_clients_keep_one_client_per_service() -> None:
    """ServiceClients hands out the same client for a service and closes them all."""
    clients = ServiceClients(
        settings=ClientSettings(), base_urls={"a": "http://127.0.0.1:9/", "b": "http://127.0.0.1:9/"}
    )
    assert clients.get("a") is clients.get("a")
    assert clients.get("a") is not clients.get("b")
    await clients.aclose()
