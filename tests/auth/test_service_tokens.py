"""Service-to-service tokens: signed here or fetched with client credentials."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import parse_qsl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atlas_runtime.auth import (
    AuthSettings,
    ClientCredentialsTokenSource,
    SignedTokenSource,
    token_source_from_settings,
)
from atlas_runtime.auth.testing import KeyPair
from atlas_runtime.errors import BackendUnavailable, ConfigurationError
from atlas_runtime.rest.testing import running_server
from atlas_runtime.tenant import Tenant, as_tenant

from .conftest import AUDIENCE, ISSUER, TENANT_ID, bearer, serving


async def test_signed_token_is_accepted_by_a_service_trusting_the_key() -> None:
    """A token signed with AUTH_SERVICE_KEY passes another service's ingress for the current tenant."""
    keys = KeyPair.generate("EdDSA")
    source = SignedTokenSource(keys.private_pem, issuer=ISSUER, audience=AUDIENCE, scopes=("admin",))
    auth = AuthSettings(public_key=keys.public_pem, issuer=ISSUER, audience=AUDIENCE)
    async with serving(auth) as client:
        with as_tenant(Tenant(TENANT_ID, "GMS", 83, 1)):
            token = await source.token()
        response = await client.get("/api/admin", headers=bearer(token))
        other_tenant = await client.get("/api/admin", headers=bearer(token, tenant_id=uuid.uuid4()))
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["scopes"] == ["admin", "atlas:service"]
    assert other_tenant.status_code == 403


async def test_signed_tokens_are_cached_per_tenant() -> None:
    """The same tenant gets the cached token; another tenant gets its own; invalidate re-signs."""
    source = SignedTokenSource(KeyPair.generate("ES256").private_pem, issuer=ISSUER, audience=AUDIENCE)
    with as_tenant(Tenant(TENANT_ID, "GMS", 83, 1)):
        first, again = await source.token(), await source.token()
    with as_tenant(Tenant(uuid.uuid4(), "GMS", 83, 1)):
        other = await source.token()
    assert first == again and first != other
    source.invalidate()
    with as_tenant(Tenant(TENANT_ID, "GMS", 83, 1)):
        assert await source.token() != first


class TokenEndpoint:
    """An OAuth 2 token endpoint that counts the tokens it issues."""

    def __init__(self, expires_in: int = 300) -> None:
        self.issued = 0
        self.expires_in = expires_in
        self.forms: list[dict[str, Any]] = []

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        self.forms.append(form)
        if form.get("client_secret") != "s3cret":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        self.issued += 1
        return JSONResponse({"access_token": f"token-{self.issued}", "expires_in": self.expires_in})


async def test_client_credentials_token_is_cached_until_near_expiry() -> None:
    """A client-credentials token is fetched once, reused, and fetched again shortly before it expires."""
    endpoint = TokenEndpoint(expires_in=1)
    app = Starlette(routes=[Route("/token", endpoint.token, methods=["POST"])])
    async with running_server(app) as server:
        source = ClientCredentialsTokenSource(f"{server.url}/token", "parties", "s3cret", scope="svc")
        tokens = await asyncio.gather(*(source.token() for _ in range(5)))
        assert set(tokens) == {"token-1"} and endpoint.issued == 1
        assert endpoint.forms[0] == {
            "grant_type": "client_credentials",
            "client_id": "parties",
            "client_secret": "s3cret",
            "scope": "svc",
        }
        await asyncio.sleep(1.0)
        assert await source.token() == "token-2"
        source.invalidate()
        assert await source.token() == "token-3"
        await source.aclose()


async def test_client_credentials_failure_is_backend_unavailable() -> None:
    """A token endpoint refusing the client raises BackendUnavailable naming the URL."""
    app = Starlette(routes=[Route("/token", TokenEndpoint().token, methods=["POST"])])
    async with running_server(app) as server:
        source = ClientCredentialsTokenSource(f"{server.url}/token", "parties", "wrong")
        with pytest.raises(BackendUnavailable, match="/token"):
            await source.token()
        await source.aclose()


def test_settings_choose_the_token_source() -> None:
    """Settings pick client credentials or a signing key, and reject half-configured credentials."""
    assert token_source_from_settings(AuthSettings(), service="parties") is None
    signed = token_source_from_settings(
        AuthSettings(service_key=KeyPair.generate("RS256").private_pem, issuer=ISSUER), service="parties"
    )
    assert isinstance(signed, SignedTokenSource) and signed.algorithm == "RS256"
    with pytest.raises(ConfigurationError, match="AUTH_CLIENT_SECRET"):
        token_source_from_settings(
            AuthSettings(token_url="http://idp/token", client_id="x"), service="parties"
        )
