"""A real service app, served by uvicorn on loopback, with authentication on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field

from atlas_runtime.auth import AuthSettings
from atlas_runtime.auth.testing import KeyPair, token_claims
from atlas_runtime.errors import BackendUnavailable, Conflict, NotFound
from atlas_runtime.rest import (
    Endpoint,
    Request,
    RestSettings,
    create_app,
    current_request_id,
    current_trace,
    filter_type,
)
from atlas_runtime.rest.testing import RunningServer, running_server
from atlas_runtime.service.types import UInt32
from atlas_runtime.tenant import current_tenant

ISSUER = "https://id.atlas.test"
AUDIENCE = "atlas"
MAX_BODY = 4096


class Member(BaseModel):
    id: int
    name: str
    level: int = Field(default=1, ge=1, le=200)


class Guild(BaseModel):
    id: UInt32
    members: list[UInt32]
    leader_id: UInt32 | None = None


@dataclass
class Seen:
    """What handlers observed, for assertions."""

    calls: list[dict[str, Any]] = field(default_factory=list)


async def get_member(ctx: Seen, request: Request) -> Member:
    member_id = request.params["id"]
    if member_id == 404:
        raise NotFound(f"member {member_id} does not exist")
    if member_id == 409:
        raise Conflict("member 409 is locked")
    if member_id == 500:
        raise RuntimeError("secret internal detail: password=hunter2")
    if member_id == 503:
        raise BackendUnavailable("Redis", "redis://10.0.0.1:6379/0")
    if member_id == 501:
        raise NotImplementedError("tests.rest.conftest:get_member")  # as a scaffolded stub does
    ctx.calls.append(
        {
            "tenant": current_tenant(),
            "request_id": current_request_id(),
            "trace": current_trace(),
            "principal": request.principal,
        }
    )
    return Member(id=member_id, name=f"member-{member_id}")


async def list_members(ctx: Seen, request: Request) -> list[Member]:
    ctx.calls.append({"filters": dict(request.query.filters)})
    return [Member(id=i, name=f"m{i}") for i in range(1, 8)]


async def search_members(ctx: Seen, request: Request) -> list[Member]:
    query = request.query
    kind = query.get("kind")
    ctx.calls.append(
        {
            "kind": kind,
            "contains": "kind" in query,
            "values": [query[name] for name in query],
            "plain": dict(query),
            "count": len(query),
            "filters": dict(query.filters),
            "size": query.page.size,
        }
    )
    return [Member(id=1, name=kind or "anyone")]


async def list_guilds(ctx: Seen, request: Request) -> list[Guild]:
    ctx.calls.append({"filters": dict(request.query.filters)})
    return [Guild(id=1, members=[5, 6])]


async def stream_members(ctx: Seen, request: Request) -> AsyncIterator[Member]:
    for i in range(1, 8):
        await asyncio.sleep(0)
        yield Member(id=i, name=f"m{i}")


async def create_member(ctx: Seen, request: Request) -> Member:
    assert isinstance(request.body, Member)
    return request.body


async def delete_member(ctx: Seen, request: Request) -> None:
    return None


ENDPOINTS = [
    Endpoint("GET", "/members/{id}", get_member, "members", params={"id": int}),
    Endpoint("GET", "/members", list_members, "members"),
    Endpoint("GET", "/stream", stream_members, "members"),
    Endpoint("GET", "/search", search_members, "members"),
    Endpoint(
        "GET",
        "/guilds",
        list_guilds,
        "guilds",
        filters={"member": filter_type(Guild, "members"), "leader": filter_type(Guild, "leader_id")},
    ),
    Endpoint(
        "POST", "/members", create_member, "members", body=Member, status=201, scopes=("members:write",)
    ),
    Endpoint("DELETE", "/members/{id}", delete_member, "members", params={"id": int}),
]


@dataclass
class Api:
    """A running app and what a caller needs to talk to it."""

    server: RunningServer
    client: httpx.AsyncClient
    keys: KeyPair
    seen: Seen
    tenant_id: uuid.UUID

    def headers(self, *, token: str | None = None, scopes: str | None = "members:write") -> dict[str, str]:
        """Valid tenant headers and a valid token for the tenant (unless `token` is given)."""
        claims = token_claims(issuer=ISSUER, audience=AUDIENCE, tenant_id=self.tenant_id, scopes=scopes)
        return {
            "TENANT_ID": str(self.tenant_id),
            "REGION": "GMS",
            "MAJOR_VERSION": "83",
            "MINOR_VERSION": "1",
            "Authorization": f"Bearer {token if token is not None else self.keys.sign(claims)}",
        }


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    keys = KeyPair.generate("ES256")
    seen = Seen()
    app = create_app(
        "members",
        endpoints=ENDPOINTS,
        context=lambda request: seen,
        settings=RestSettings(max_body_bytes=MAX_BODY),
        auth=AuthSettings(public_key=keys.public_pem, issuer=ISSUER, audience=AUDIENCE),
    )
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        yield Api(server, client, keys, seen, uuid.uuid4())
