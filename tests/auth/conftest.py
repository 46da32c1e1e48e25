"""Helpers: a service app with one authenticated endpoint, served on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from atlas_runtime.auth import AuthSettings, current_principal
from atlas_runtime.rest import Endpoint, Request, create_app
from atlas_runtime.rest.testing import running_server

ISSUER = "https://id.atlas.test"
AUDIENCE = "atlas"
TENANT_ID = uuid.UUID("083839c6-c47c-42a6-9585-76492795d123")


def tenant_headers(tenant_id: uuid.UUID = TENANT_ID) -> dict[str, str]:
    return {"TENANT_ID": str(tenant_id), "REGION": "GMS", "MAJOR_VERSION": "83", "MINOR_VERSION": "1"}


def bearer(token: str, tenant_id: uuid.UUID = TENANT_ID) -> dict[str, str]:
    return {**tenant_headers(tenant_id), "Authorization": f"Bearer {token}"}


async def whoami(ctx: object, request: Request) -> dict[str, Any]:
    principal = current_principal()
    assert principal is not None
    return {"id": principal.subject, "scopes": sorted(principal.scopes)}


async def tenant_of(ctx: object, request: Request) -> dict[str, Any]:
    """The tenant the request was bound to, and whether a caller was authenticated."""
    tenant = request.tenant
    assert tenant is not None
    return {
        "id": str(tenant.id),
        "region": tenant.region,
        "version": f"{tenant.major_version}.{tenant.minor_version}",
        "authenticated": current_principal() is not None,
    }


ENDPOINTS = [
    Endpoint("GET", "/whoami", whoami, "principals"),
    Endpoint("GET", "/admin", whoami, "principals", scopes=("admin",)),
    Endpoint("GET", "/tenant", tenant_of, "tenants"),
]


@asynccontextmanager
async def serving(auth: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a running service app that uses `auth`."""
    app = create_app("auth-test", endpoints=ENDPOINTS, auth=auth)
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        yield client


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(claims: dict[str, Any], *, alg: str, secret: bytes = b"") -> str:
    """A token built by hand: `alg: none` (no signature) or HS256 with `secret`."""
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    if alg == "none":
        return f"{header}.{payload}."
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"
